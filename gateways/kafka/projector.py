"""The Kafka projector: one consumer group per view, fed batches from the events topic.

Each batch goes through the same `ViewRunner` as the in-process feed: the view rows,
the seen (dossier_id, seq) and the partition offsets are written in ONE database
transaction, then the batch is acknowledged. A redelivered event is recognised by
(dossier_id, seq) and skipped. On assignment each partition is moved to the offset the
view store holds (the view store, not Kafka's committed offset, is the truth: a view
store restored from a backup resumes where it stands).

A record that cannot be decoded (bad bytes, unknown event type, schema version from
the future) or whose event the view cannot apply goes to the dead-letter topic with
the error, and the projector carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from gateways.eventstore.codec import DecodeError
from gateways.eventstore.store import SCHEMA_VERSION, RecordedEvent
from gateways.kafka.relay import notification_id_of
from gateways.kafka.topics import Topics
from gateways.views.runtime import STORE_PART, Applied, BatchResult, ViewRunner

log = logging.getLogger("lienthong.projector")

KAFKA_FEED = "kafka"
TRANSIENT_RETRY_SECONDS = 1.0


def part_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def decode_record(value: bytes | None, headers: Any) -> Applied:
    """A Kafka record -> the event it carries, or DecodeError saying why not."""
    if value is None:
        raise DecodeError("empty record")
    record = RecordedEvent.from_bytes(value, notification_id_of(headers))
    version = record.envelope.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DecodeError(f"schema version {version!r} is newer than this reader's ({SCHEMA_VERSION})")
    if not isinstance(record.envelope.get("dossier_id"), str):
        raise DecodeError("envelope has no dossier_id")
    try:
        return Applied(record, record.to_domain())
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(str(exc)) from exc


def _decode_batch(
    records: Sequence[Any],
) -> tuple[list[Applied], list[tuple[Any, DecodeError]], dict[str, int]]:
    """Kafka records -> (decoded items, undecodable records with the reason, next offsets)."""
    items: list[Applied] = []
    undecodable: list[tuple[Any, DecodeError]] = []
    positions: dict[str, int] = {}
    for record in records:
        positions[part_key(record.topic, record.partition)] = record.offset + 1
        try:
            items.append(decode_record(record.value, record.headers))
        except DecodeError as exc:
            undecodable.append((record, exc))
    return items, undecodable, positions


def dead_letter_headers(record: Any, error: str, group: str) -> dict[str, str]:
    headers = {k: bytes(v).decode("utf-8", "replace") for k, v in (record.headers or ())}
    headers.update(
        {
            "x-error": error[:2000],
            "x-source-topic": record.topic,
            "x-source-partition": str(record.partition),
            "x-source-offset": str(record.offset),
            "x-consumer-group": group,
        }
    )
    return headers


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, move each partition to the offset the view store holds."""

    def __init__(self, runner: ViewRunner, consumer: Callable[[], AIOKafkaConsumer | None]) -> None:
        self.runner = runner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        consumer = self.consumer()
        if consumer is None:
            return
        stored = await asyncio.to_thread(self.runner.positions, KAFKA_FEED)
        for tp in assigned:
            offset = stored.get(part_key(tp.topic, tp.partition))
            if offset is not None:
                consumer.seek(tp, offset)
            else:
                await consumer.seek_to_beginning(tp)


class ViewProjector:
    """Feeds one view from the events topic (consumer group `<prefix>.view.<name>`)."""

    def __init__(self, runner: ViewRunner, topics: Topics, batch: int = 2000) -> None:
        self.runner = runner
        self.topics = topics
        self.batch = batch
        self.group = topics.group(f"view.{runner.name}")
        self.applied = 0
        self.skipped = 0
        self.dead = 0
        self._notifications = 0
        self._broker: KafkaBroker | None = None

    def register(self, broker: KafkaBroker) -> None:
        self._broker = broker
        holder: dict[str, Any] = {}
        subscriber = broker.subscriber(
            self.topics.events,
            group_id=self.group,
            batch=True,
            max_records=self.batch,
            batch_timeout_ms=200,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            listener=_SeekToStored(self.runner, lambda: getattr(holder.get("s"), "consumer", None)),
            decoder=_raw_body,
            title=f"{self.topics.events}:view.{self.runner.name}",
            description=f"Projector of the '{self.runner.name}' view (consumer group {self.group}).",
        )
        holder["s"] = subscriber

        @subscriber
        async def project(message: KafkaMessage) -> None:
            raw = message.raw_message
            # A batch arrives as a tuple from aiokafka and as a list from FastStream's test broker.
            records = raw if isinstance(raw, tuple | list) else (raw,)
            await self.handle(records)
            await message.ack()

    async def handle(self, records: Sequence[Any]) -> BatchResult:
        """Decode, dead-letter what cannot be read, apply the rest with the offsets."""
        if not self._notifications:
            self._notifications = await asyncio.to_thread(self.runner.position, KAFKA_FEED, STORE_PART)
        # Decoding runs in the worker thread, so the event loop keeps fetching meanwhile.
        items, undecodable, positions = await asyncio.to_thread(_decode_batch, records)
        for record, exc in undecodable:
            await self._dead_letter(record, f"cannot decode: {exc}")
        for item in items:
            self._notifications = max(self._notifications, item.record.notification_id or 0)
        positions[STORE_PART] = self._notifications
        result = await self._apply(items, positions, records)
        self.applied += result.applied
        self.skipped += result.skipped
        return result

    async def _apply(
        self, items: list[Applied], positions: dict[str, int], records: Sequence[Any]
    ) -> BatchResult:
        while True:
            try:
                return await asyncio.to_thread(self.runner.apply, items, KAFKA_FEED, positions)
            except _TRANSIENT as exc:
                log.warning("view %s: store unavailable (%s); retrying", self.runner.name, exc)
                await asyncio.sleep(TRANSIENT_RETRY_SECONDS)
            except Exception as exc:  # a projection that cannot take some event: find it
                log.error("view %s: batch failed (%s); applying one by one", self.runner.name, exc)
                return await self._apply_one_by_one(items, positions, records)

    async def _apply_one_by_one(
        self, items: list[Applied], positions: dict[str, int], records: Sequence[Any]
    ) -> BatchResult:
        source_of = {r.value: r for r in records if r.value is not None}
        total = BatchResult()
        for item in items:
            try:
                done = await asyncio.to_thread(self.runner.apply, [item], KAFKA_FEED, {})
            except _TRANSIENT:
                raise
            except Exception as exc:
                source = source_of.get(item.record.raw)
                if source is not None:
                    await self._dead_letter(source, f"cannot apply to view {self.runner.name}: {exc!r}")
                continue
            total.applied += done.applied
            total.skipped += done.skipped
        await asyncio.to_thread(self.runner.apply, [], KAFKA_FEED, positions)
        return total

    async def _dead_letter(self, record: Any, error: str) -> None:
        assert self._broker is not None
        self.dead += 1
        log.error(
            "view %s: %s:%s@%s -> %s: %s",
            self.runner.name,
            record.topic,
            record.partition,
            record.offset,
            self.topics.dlq,
            error,
        )
        await self._broker.publish(
            record.value or b"",
            topic=self.topics.dlq,
            key=record.key,
            headers=dead_letter_headers(record, error, self.group),
        )


def _transient_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.OperationalError, psycopg.OperationalError)


_TRANSIENT = _transient_errors()


async def _raw_body(message: Any) -> Any:
    # The projector decodes records itself, so that a poison record reaches the
    # dead-letter topic instead of failing inside the framework.
    return None
