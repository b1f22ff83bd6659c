"""The Kafka projector: ONE consumer per process feeds every view of that process.

Each record is decoded once (in a worker thread, off the event loop) and the batch goes
through the same `ViewRunner`s as the in-process feed: every view's rows, seen
(dossier_id, seq) and partition offsets are written in ONE database transaction, then the
batch is acknowledged. A redelivered event is recognised by (dossier_id, seq) and
skipped. On assignment each partition is moved to the lowest offset the views hold for
it (the view store, not Kafka's committed offset, is the truth: a view store restored
from a backup resumes where it stands; a view that is ahead skips what it has seen).

Processes scale out through Kafka's consumer group: every process of the same set of
views joins the same group (`<prefix>.views`), so N processes share the partitions, and
when one dies the group gives its partitions to the others, which resume from the
offsets in the view store.

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
from gateways.views.runtime import STORE_PART, Applied, BatchResult, ViewRunner, apply_together

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
    """On assignment, move each partition to the lowest offset the views hold for it."""

    def __init__(
        self, runners: Sequence[ViewRunner], consumer: Callable[[], AIOKafkaConsumer | None]
    ) -> None:
        self.runners = runners
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(part_key(tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        consumer = self.consumer()
        if consumer is None:
            return
        log.info("partitions assigned: %s", sorted(part_key(tp.topic, tp.partition) for tp in assigned))
        stored = await asyncio.to_thread(lambda: [r.positions(KAFKA_FEED) for r in self.runners])
        for tp in assigned:
            key = part_key(tp.topic, tp.partition)
            offsets = [positions.get(key) for positions in stored]
            if offsets and all(offset is not None for offset in offsets):
                consumer.seek(tp, min(o for o in offsets if o is not None))
            else:
                await consumer.seek_to_beginning(tp)


def group_role(names: Sequence[str], every: Sequence[str]) -> str:
    """The consumer group of a set of views: `views` for all of them, else named after the set.

    Processes that run the same views share one group (and so the partitions); a process
    with another set must not take partitions away from them."""
    chosen = sorted(set(names))
    return "views" if chosen == sorted(set(every)) else "views." + "+".join(chosen)


class ViewProjector:
    """Feeds several views from the events topic with one consumer (group `<prefix>.views`)."""

    def __init__(
        self, runners: Sequence[ViewRunner], topics: Topics, batch: int = 2000, role: str = "views"
    ) -> None:
        if not runners:
            raise ValueError("a projector needs at least one view")
        self.runners = list(runners)
        self.topics = topics
        self.batch = batch
        self.group = topics.group(role)
        self.applied: dict[str, int] = {r.name: 0 for r in self.runners}
        self.skipped: dict[str, int] = {r.name: 0 for r in self.runners}
        self.records = 0  # records received (decoded or not)
        self.dead = 0
        self._notifications = 0
        self._broker: KafkaBroker | None = None

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runners]

    def register(self, broker: KafkaBroker) -> None:
        self._broker = broker
        holder: dict[str, Any] = {}
        names = ", ".join(self.names)
        subscriber = broker.subscriber(
            self.topics.events,
            group_id=self.group,
            batch=True,
            max_records=self.batch,
            batch_timeout_ms=200,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            listener=_SeekToStored(self.runners, lambda: getattr(holder.get("s"), "consumer", None)),
            decoder=_raw_body,
            title=f"{self.topics.events}:{self.group}",
            description=f"Projector of the views {names} (consumer group {self.group}).",
        )
        holder["s"] = subscriber

        @subscriber
        async def project(message: KafkaMessage) -> None:
            raw = message.raw_message
            # A batch arrives as a tuple from aiokafka and as a list from FastStream's test broker.
            records = raw if isinstance(raw, tuple | list) else (raw,)
            await self.handle(records)
            await message.ack()

    async def handle(self, records: Sequence[Any]) -> dict[str, BatchResult]:
        """Decode once, dead-letter what cannot be read, apply the rest to every view with the offsets."""
        if not self._notifications:
            self._notifications = await asyncio.to_thread(
                lambda: min(r.position(KAFKA_FEED, STORE_PART) for r in self.runners)
            )
        # Decoding runs in the worker thread, so the event loop keeps fetching meanwhile.
        items, undecodable, positions = await asyncio.to_thread(_decode_batch, records)
        self.records += len(records)
        for record, exc in undecodable:
            await self._dead_letter(record, f"cannot decode: {exc}")
        for item in items:
            self._notifications = max(self._notifications, item.record.notification_id or 0)
        positions[STORE_PART] = self._notifications
        results = await self._apply(items, positions, records)
        for name, result in results.items():
            self.applied[name] += result.applied
            self.skipped[name] += result.skipped
        return results

    def _apply_all(self, items: list[Applied], positions: dict[str, int]) -> dict[str, BatchResult]:
        """Every view in one transaction (their rows, seen seqs and offsets move together)."""
        return apply_together(self.runners, dict.fromkeys(self.names, items), KAFKA_FEED, positions)

    async def _apply(
        self, items: list[Applied], positions: dict[str, int], records: Sequence[Any]
    ) -> dict[str, BatchResult]:
        while True:
            try:
                return await asyncio.to_thread(self._apply_all, items, positions)
            except _TRANSIENT as exc:
                log.warning("views %s: store unavailable (%s); retrying", self.names, exc)
                await asyncio.sleep(TRANSIENT_RETRY_SECONDS)
            except Exception as exc:  # some view cannot take some event: find it, view by view
                log.error("views %s: batch failed (%s); applying view by view", self.names, exc)
                return await self._apply_apart(items, positions, records)

    async def _apply_apart(
        self, items: list[Applied], positions: dict[str, int], records: Sequence[Any]
    ) -> dict[str, BatchResult]:
        """Each view alone, then event by event where it fails. A record no view can take is
        dead-lettered ONCE (naming every view that refused it) before any offset moves."""
        refused: dict[bytes, list[str]] = {}
        results = {r.name: await self._apply_view(r, items, refused) for r in self.runners}
        source_of = {r.value: r for r in records if r.value is not None}
        for raw, reasons in refused.items():
            source = source_of.get(raw)
            if source is not None:
                await self._dead_letter(source, "; ".join(reasons))
        for runner in self.runners:
            await asyncio.to_thread(runner.apply, [], KAFKA_FEED, positions)
        return results

    async def _apply_view(
        self, runner: ViewRunner, items: list[Applied], refused: dict[bytes, list[str]]
    ) -> BatchResult:
        try:
            return await asyncio.to_thread(runner.apply, items, KAFKA_FEED, {})
        except _TRANSIENT:
            raise
        except Exception as exc:
            log.error("view %s: batch failed (%s); applying one by one", runner.name, exc)
        total = BatchResult()
        for item in items:
            try:
                done = await asyncio.to_thread(runner.apply, [item], KAFKA_FEED, {})
            except _TRANSIENT:
                raise
            except Exception as exc:
                refused.setdefault(item.record.raw, []).append(f"cannot apply to view {runner.name}: {exc!r}")
                continue
            total.applied += done.applied
            total.skipped += done.skipped
        return total

    async def _dead_letter(self, record: Any, error: str) -> None:
        assert self._broker is not None
        self.dead += 1
        log.error(
            "views %s: %s:%s@%s -> %s: %s",
            self.names,
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
