"""The stream side in one place: the FastStream broker with the view projectors and the
inbound command consumer, the relay beside it, and the AsyncAPI document of all topics."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI

from gateways.kafka import inbound
from gateways.kafka.asyncapi import complete
from gateways.kafka.contracts import CommandMessage, CommandResult, EventEnvelope
from gateways.kafka.observe import StreamCollector, sample_partition_ends
from gateways.kafka.projector import ViewProjector, group_role, lenient_headers, publish_dead_letter
from gateways.kafka.relay import Relay
from gateways.kafka.topics import Topics, ensure_topics, servers

if TYPE_CHECKING:
    from gateways.bootstrap import Container
    from gateways.metrics import Metrics

log = logging.getLogger("lienthong.kafka")


def topics_of(container: Container) -> Topics:
    return Topics.with_prefix(container.settings.kafka_topic_prefix)


class FailurePause:
    """How long the inbound consumer waits after a batch failed, before the batch is read again:
    0.1 s, doubled at each failure in a row up to 5 s; a batch answered resets it. Without it a
    failure that lasts (the results topic refusing the producer, the store down) read the batch
    again some fifty times a second and filled the log."""

    FIRST = 0.1
    LONGEST = 5.0

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.sleep = sleep
        self.failures = 0  # in a row

    async def after_failure(self, exc: BaseException) -> None:
        delay = min(self.LONGEST, self.FIRST * 2**self.failures)
        self.failures += 1
        log.warning(
            "inbound: a batch of commands failed (%d in a row: %s); read again in %.1f s",
            self.failures,
            exc,
            delay,
        )
        await self.sleep(delay)

    def answered(self) -> None:
        self.failures = 0


@dataclass
class StreamSide:
    broker: KafkaBroker
    topics: Topics
    bootstrap: str
    projectors: list[ViewProjector] = field(default_factory=list)
    relay: Relay | None = None
    metrics: Metrics | None = None
    replication: int = 1
    inbound: bool = False  # this process consumes the command topic
    inbound_dead: int = 0  # command records it sent to the dead-letter topic
    inbound_pause: FailurePause = field(default_factory=FailurePause)


def build_stream(
    container: Container,
    *,
    bootstrap: str | None = None,
    views: Sequence[str] | None = None,
    with_inbound: bool = True,
    with_relay: bool = True,
) -> StreamSide:
    """Declare every subscriber and publisher; nothing connects until `run_stream`."""
    settings = container.settings
    server = bootstrap or settings.kafka_bootstrap or "127.0.0.1:9092"
    topics = topics_of(container)
    # Results and dead letters are acknowledged by every in-sync replica, sent once.
    broker = KafkaBroker(
        servers(server),
        client_id="lienthong",
        acks="all",
        enable_idempotence=True,
        logger=logging.getLogger("lienthong.faststream"),
    )
    side = StreamSide(broker, topics, server, replication=settings.kafka_replication_factor)
    broker.publisher(
        topics.events,
        schema=EventEnvelope,
        title=f"{topics.events}:Publish",
        description="Every dossier event, in order per dossier (key = dossier id), published by the relay.",
    )
    broker.publisher(
        topics.dlq,
        title=f"{topics.dlq}:Publish",
        description="Records a consumer could not decode or apply: original key, value and headers "
        "plus x-error, x-source-topic, x-source-partition, x-source-offset, x-consumer-group.",
    )
    chosen = [r for r in container.runners if not views or r.name in views]
    if chosen:
        # One consumer for every view of this process: each record is decoded once.
        role = group_role([r.name for r in chosen], [r.name for r in container.runners])
        projector = ViewProjector(chosen, topics, settings.projector_batch, role)
        projector.register(broker)
        side.projectors.append(projector)
    if with_inbound:
        _register_inbound(container, side)
    if with_relay:
        side.relay = Relay(
            container.store,
            container.db,
            server,
            topics,
            partitions=settings.kafka_event_partitions,
            batch=settings.relay_batch,
            idle_ms=settings.relay_idle_ms,
            replication=settings.kafka_replication_factor,
        )
    side.metrics = container.metrics
    container.metrics.add(StreamCollector(side))
    return side


def _register_inbound(container: Container, side: StreamSide) -> None:
    broker, topics = side.broker, side.topics
    side.inbound = True
    results = broker.publisher(
        topics.results,
        schema=CommandResult,
        title=f"{topics.results}:Publish",
        description="The outcome of each inbound command: the dossier, or an RFC 9457 problem.",
    )

    async def on_commands(message: KafkaMessage) -> None:
        try:
            await answer(message)
        except Exception as exc:
            await side.inbound_pause.after_failure(exc)
            raise  # not acked: the batch is read again (AckPolicy.NACK_ON_ERROR below)
        side.inbound_pause.answered()

    async def answer(message: KafkaMessage) -> None:
        raw = message.raw_message
        # A batch arrives as a tuple from aiokafka and as a list from FastStream's test broker.
        records = raw if isinstance(raw, tuple | list) else (raw,)
        values = [record.value or b"" for record in records]
        # One group commit for the batch; results are published before the batch is acked,
        # so a crash in between replays the batch and every key answers its first result.
        keys = [record.key for record in records]
        outcomes = await asyncio.to_thread(inbound.execute_batch, container, values, keys)
        for record, (_, result) in zip(records, outcomes, strict=True):
            if not result["idempotency_key"]:
                # Not a command: its problem result has no key to be matched by, so the record
                # also goes to the dead-letter topic, saying why and where it was.
                problem = result["problem"] or {}
                reason = f"not a command: {problem.get('detail') or problem.get('title')}"
                await publish_dead_letter(broker, topics.dlq, record, reason, topics.group("commands"))
                side.inbound_dead += 1
        # Sent together (the producer batches them per partition), confirmed before the ack.
        # Each result carries its command's correlation_id header (the AsyncAPI document's
        # correlationId), or without one its idempotency key, so a sender matches it either way.
        # The result goes under the command record's own key (API.md: "key as the command"; a
        # dossier's commands are keyed by its id), else the dossier id or the idempotency key.
        sent = [
            await results.publish(
                result,
                key=_own_key(record) or (key if result["idempotency_key"] else None),
                correlation_id=correlation_of(record, result["idempotency_key"]),
                no_confirm=True,
            )
            for record, (key, result) in zip(records, outcomes, strict=True)
        ]
        await asyncio.gather(*(s for s in sent if inspect.isawaitable(s)))

    # Several consumers of the group in this process share the topic's partitions, so one
    # batch is decided while another is committed or its results confirmed.
    for n in range(max(1, container.settings.inbound_consumers)):
        broker.subscriber(
            topics.commands,
            group_id=topics.group("commands"),
            auto_offset_reset="earliest",
            batch=True,
            max_records=container.settings.inbound_batch,
            batch_timeout_ms=20,
            # A failure before every result is confirmed: read the batch again (a repeated key
            # replays its first result), never commit it unanswered.
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            parser=lenient_headers,
            title=f"{topics.commands}:Subscribe",
            include_in_schema=n == 0,  # the same consumer again: documented once
            description="Commands from agency systems, each with an idempotency key "
            "(schema: CommandMessage).",
        )(on_commands)

    # The subscriber reads raw bytes (a bad command must still get a problem result), so the
    # payload agency systems publish is documented on a publisher of the same topic.
    broker.publisher(
        topics.commands,
        schema=CommandMessage,
        title=f"{topics.commands}:Publish",
        description="What an agency system publishes: one command with its idempotency key and token.",
    )


def _own_key(record: Any) -> bytes | None:
    """The record's own key for its result, unless it has none or one too large to go on a result."""
    key = record.key
    return key if key is not None and len(key) <= CORRELATION_MAX else None


CORRELATION_MAX = 200  # bytes of a command's correlation_id header given back on its result


def correlation_of(record: Any, idempotency_key: str) -> str | None:
    """The command record's `correlation_id` header, else its idempotency key (None for a record
    that has neither: FastStream then makes one up). A header longer than an idempotency key may be
    is not given back: copied onto the result, a header as large as the record would make a result
    no broker takes, and the batch would be read again for ever."""
    for name, value in record.headers or ():
        if name == "correlation_id" and value and len(value) <= CORRELATION_MAX:
            return bytes(value).decode("utf-8", "replace")
    return idempotency_key or None


async def _raw_body(message: Any) -> Any:
    return None


async def run_stream(side: StreamSide, stop: asyncio.Event, *, event_partitions: int = 12) -> None:
    """Run the broker's consumers and the relay until `stop` is set."""
    await ensure_topics(side.bootstrap, side.topics, event_partitions, side.replication)
    await side.broker.start()
    tasks = [asyncio.create_task(side.relay.run(stop))] if side.relay else []
    if side.metrics is not None:
        tasks.append(asyncio.create_task(sample_partition_ends(side, side.metrics, stop)))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            await asyncio.wait_for(task, timeout=30)
        await stop_projectors(side)


async def stop_projectors(side: StreamSide, timeout: float = 30) -> None:
    """Apply what the projectors hold while their partitions are still theirs, then stop the
    broker's consumers (what arrives meanwhile is dropped: the next owner reads it again)."""
    for projector in side.projectors:
        try:
            await asyncio.wait_for(projector.flush(), timeout)
        except TimeoutError:
            log.warning("views %s: held records not applied before stopping", projector.names)
    await side.broker.stop()
    for projector in side.projectors:
        await projector.close()


def asyncapi_document(side: StreamSide) -> str:
    schema = AsyncAPI(
        side.broker,
        title="lienthong Kafka topics",
        version="1",
        description="Dossier events, inbound commands and their results, and the dead-letter topic.",
    )
    document = orjson.loads(str(schema.to_specification().to_json()))
    return orjson.dumps(complete(document, side.topics), option=orjson.OPT_INDENT_2).decode()
