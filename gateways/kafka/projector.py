"""The Kafka projector: ONE consumer per process feeds every view of that process.

Each record is decoded once (in a worker thread, off the event loop) and goes through the
same `ViewRunner`s as the in-process feed: every view's rows, seen (dossier_id, seq) and
partition offsets are written in ONE database transaction. A redelivered event is
recognised by (dossier_id, seq) and skipped. On assignment each partition is moved to the
lowest offset the views hold for it (the view store, not Kafka's committed offset, is the
truth: a view store restored from a backup resumes where it stands; a view that is ahead
skips what it has seen).

Several Kafka batches go into one transaction (decision entry 118): decoded records
are held until the projector holds `hold` records, or a batch comes back short of
`max_records` (the consumer has read what the broker had: caught up), or the oldest held
record has waited `wait` seconds. A transaction flushes the views' rows once whatever its
size, so the fewer transactions the less is written. On revoke the held records are applied
BEFORE the partitions go (the next owner reads on from the positions this transaction
stores), and records of partitions this process does not own, or below the offset it
expects next, are never held. Held records are in memory only: a kill -9 loses them, and the
next owner reads them again from the stored positions.

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
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
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
HOLD_RECORDS = 20_000  # records applied together in one transaction (the rebuild's flush size)
HOLD_SECONDS = 1.0  # the longest a held record waits while full batches keep coming


def part_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def topic_partition(key: str) -> TopicPartition:
    """The partition a `part_key` names."""
    topic, _, number = key.rpartition(":")
    return TopicPartition(topic, int(number))


def decode_record(value: bytes | None, headers: Any, key: bytes | None = None) -> Applied:
    """A Kafka record -> the event it carries, or DecodeError saying why not.

    A record with a key must be keyed by its dossier id, as the relay keys it: an event under
    another key may come ahead of its dossier's earlier events, which would then be taken as seen.
    (A record without a key is not checked: FastStream's test broker sends events without one.)"""
    if value is None:
        raise DecodeError("empty record")
    try:
        notification = notification_id_of(headers)
    except ValueError as exc:
        raise DecodeError(f"header notification_id is not a number: {exc}") from exc
    record = RecordedEvent.from_bytes(value, notification)
    version = record.envelope.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DecodeError(f"schema version {version!r} is newer than this reader's ({SCHEMA_VERSION})")
    dossier_id = record.envelope.get("dossier_id")
    if not isinstance(dossier_id, str):
        raise DecodeError("envelope has no dossier_id")
    try:
        applied = Applied(record, record.to_domain())
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(str(exc)) from exc
    if key and key != dossier_id.encode():
        shown = key[:80].decode("utf-8", "replace")
        raise DecodeError(f"record key {shown!r} is not the envelope's dossier_id {dossier_id}")
    return applied


def _decode_batch(records: Sequence[Any]) -> list[Applied | DecodeError]:
    """Kafka records -> for each, the event it carries or why it cannot be read."""
    decoded: list[Applied | DecodeError] = []
    for record in records:
        try:
            decoded.append(decode_record(record.value, record.headers, record.key))
        except DecodeError as exc:
            decoded.append(exc)
    return decoded


def dead_letter_headers(record: Any, error: str, group: str) -> dict[str, str]:
    headers = {k: bytes(v).decode("utf-8", "replace") for k, v in (record.headers or ())}
    headers.update(_own_headers(record, error, group))
    return headers


def _own_headers(record: Any, error: str, group: str) -> dict[str, str]:
    """What a dead letter itself says: why, and where the record is (bounded, whatever the record)."""
    return {
        "x-error": error[:2000],
        "x-source-topic": record.topic,
        "x-source-partition": str(record.partition),
        "x-source-offset": str(record.offset),
        "x-consumer-group": group,
    }


async def publish_dead_letter(broker: KafkaBroker, dlq: str, record: Any, error: str, group: str) -> None:
    """The record to the dead-letter topic with why and where from."""
    headers = dead_letter_headers(record, error, group)
    try:
        await broker.publish(record.value or b"", topic=dlq, key=record.key, headers=headers)
    except MessageSizeTooLargeError:
        # The value with the headers is over the producer's request size: the dead letter says
        # why and where the record is (its source topic keeps it), without the value.
        headers["x-value-omitted"] = f"{len(record.value or b'')} bytes"
        try:
            await broker.publish(b"", topic=dlq, key=record.key, headers=headers)
        except MessageSizeTooLargeError:
            # Its own headers are that large: the dead letter keeps only what says why and where
            # (only the dead letter's own: a record's header may be named x-… too, and be as large).
            own = {**_own_headers(record, error, group), "x-value-omitted": headers["x-value-omitted"]}
            own["x-headers-omitted"] = f"{sum(len(k) + len(v) for k, v in headers.items())} bytes"
            await broker.publish(b"", topic=dlq, key=(record.key or b"")[:1000] or None, headers=own)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """On revoke, apply what the projector holds while the partitions are still its own; on
    assignment, move each partition to the lowest offset the views hold for it."""

    def __init__(self, projector: ViewProjector, consumer: Callable[[], AIOKafkaConsumer | None]) -> None:
        self.projector = projector
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        parts = sorted(part_key(tp.topic, tp.partition) for tp in revoked)
        log.info("partitions revoked: %s", parts)
        await self.projector.release(parts)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        consumer = self.consumer()
        log.info("partitions assigned: %s", sorted(part_key(tp.topic, tp.partition) for tp in assigned))
        tps = list(assigned)
        if consumer is not None and tps:
            # Nothing of these partitions reaches the projector until it knows where each starts.
            consumer.pause(*tps)
        try:
            await self._start(consumer, tps)
        except Exception:
            # The view store cannot be read: go on from Kafka's committed offsets, which never
            # pass the stored positions (a seen seq skips what was applied already).
            log.exception("partitions assigned: stored positions unread; resuming from committed offsets")
            self.projector.take({part_key(tp.topic, tp.partition): 0 for tp in tps})
        finally:
            if consumer is not None and tps:
                consumer.resume(*tps)

    async def _start(self, consumer: AIOKafkaConsumer | None, tps: list[TopicPartition]) -> None:
        """Move each partition to the lowest offset the views hold for it (the beginning if a view
        holds none), then let the projector take records from there."""
        runners = self.projector.runners
        stored = await asyncio.to_thread(lambda: [r.positions(KAFKA_FEED) for r in runners])
        starts: dict[str, int] = {}
        for tp in tps:
            key = part_key(tp.topic, tp.partition)
            offsets = [positions.get(key) for positions in stored]
            if offsets and all(offset is not None for offset in offsets):
                starts[key] = min(o for o in offsets if o is not None)
                if consumer is not None:
                    consumer.seek(tp, starts[key])
            else:
                starts[key] = 0
                if consumer is not None:
                    await consumer.seek_to_beginning(tp)
        self.projector.take(starts)


def group_role(names: Sequence[str], every: Sequence[str]) -> str:
    """The consumer group of a set of views: `views` for all of them, else named after the set.

    Processes that run the same views share one group (and so the partitions); a process
    with another set must not take partitions away from them."""
    chosen = sorted(set(names))
    return "views" if chosen == sorted(set(every)) else "views." + "+".join(chosen)


class _Held:
    """Decoded records waiting for one transaction, with the offsets they move the partitions to."""

    __slots__ = ("items", "positions", "records", "since")

    def __init__(self) -> None:
        self.items: list[Applied] = []
        self.records: list[Any] = []  # the Kafka records, undecodable ones included
        self.positions: dict[str, int] = {}
        self.since: float | None = None  # event-loop time the oldest one arrived


class ViewProjector:
    """Feeds several views from the events topic with one consumer (group `<prefix>.views`)."""

    def __init__(
        self,
        runners: Sequence[ViewRunner],
        topics: Topics,
        batch: int = 2000,
        role: str = "views",
        hold: int = HOLD_RECORDS,
        wait: float = HOLD_SECONDS,
    ) -> None:
        if not runners:
            raise ValueError("a projector needs at least one view")
        self.runners = list(runners)
        self.topics = topics
        self.batch = batch  # max_records of one fetch
        self.hold = hold
        self.wait = wait
        self.group = topics.group(role)
        self.applied: dict[str, int] = {r.name: 0 for r in self.runners}
        self.skipped: dict[str, int] = {r.name: 0 for r in self.runners}
        self.records = 0  # records received (decoded or not)
        self.dead = 0
        self.batches = 0  # Kafka batches received
        self.flushes = 0  # transactions that applied held records
        self.released = 0  # records applied on a revoke, before the partitions went
        self.dropped = 0  # records of partitions not owned, or already held: never applied here
        self.decode_seconds = 0.0  # in the worker thread, decoding
        self.apply_seconds = 0.0  # in transactions that applied held records
        self._notifications = 0
        self._broker: KafkaBroker | None = None
        self._held = _Held()
        self._lock = asyncio.Lock()  # one flush at a time; revoke waits for it
        # Partition -> the next offset this process takes from it; None until an assignment
        # is seen (FastStream's test broker assigns nothing: every record is taken).
        self._next: dict[str, int] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._consumer: Callable[[], AIOKafkaConsumer | None] = lambda: None

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runners]

    @property
    def holding(self) -> int:
        return len(self._held.records)

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
            listener=_SeekToStored(self, lambda: getattr(holder.get("s"), "consumer", None)),
            decoder=_raw_body,
            parser=lenient_headers,
            title=f"{self.topics.events}:{self.group}",
            description=f"Projector of the views {names} (consumer group {self.group}).",
        )
        holder["s"] = subscriber
        self._consumer = lambda: getattr(holder.get("s"), "consumer", None)

        @subscriber
        async def project(message: KafkaMessage) -> None:
            raw = message.raw_message
            # A batch arrives as a tuple from aiokafka and as a list from FastStream's test broker.
            records = raw if isinstance(raw, tuple | list) else (raw,)
            # No ack: the projector commits the offsets it has applied after each transaction.
            await self.handle(records)

    async def handle(self, records: Sequence[Any]) -> dict[str, BatchResult]:
        """Decode once, dead-letter what cannot be read, hold the rest; apply what is held to every
        view with the offsets when enough is held or the consumer has caught up."""
        if not self._notifications:
            self._notifications = await asyncio.to_thread(
                lambda: min(r.position(KAFKA_FEED, STORE_PART) for r in self.runners)
            )
        # Decoding runs in the worker thread, so the event loop keeps fetching meanwhile.
        started = time.perf_counter()
        decoded = await asyncio.to_thread(_decode_batch, records)
        self.decode_seconds += time.perf_counter() - started
        self.records += len(records)
        self.batches += 1
        async with self._lock:
            for n, (record, item) in enumerate(zip(records, decoded, strict=True)):
                if not self._owns(record):
                    self.dropped += 1
                    continue
                if isinstance(item, DecodeError):
                    try:
                        await self._dead_letter(record, f"cannot decode: {item}")
                    except BaseException:
                        # Not dead-lettered: this record and the rest of the batch are read again
                        # (the consumer has moved past them; a later fetch must not pass them).
                        self._rewind([record, *(r for r in records[n + 1 :] if self._untaken(r))])
                        raise
                held = self._held
                if held.since is None:
                    held.since = asyncio.get_running_loop().time()
                held.records.append(record)
                held.positions[part_key(record.topic, record.partition)] = record.offset + 1
                if not isinstance(item, DecodeError):
                    held.items.append(item)
            if len(self._held.records) >= self.hold or len(records) < self.batch:
                return await self._flush()
        self._arm()
        return {}

    def _owns(self, record: Any) -> bool:
        """This process owns the record's partition and has not taken this offset yet."""
        if self._next is None:
            return True
        key = part_key(record.topic, record.partition)
        expected = self._next.get(key)
        if expected is None or record.offset < expected:
            return False
        self._next[key] = record.offset + 1
        return True

    def _untaken(self, record: Any) -> bool:
        """The record's partition is this process's and the record not taken yet."""
        if self._next is None:
            return True
        expected = self._next.get(part_key(record.topic, record.partition))
        return expected is not None and record.offset >= expected

    def take(self, starts: dict[str, int]) -> None:
        """Partitions assigned: each is read from its offset in `starts` on."""
        if self._next is None:
            self._next = {}
        self._next.update(starts)

    async def release(self, parts: Sequence[str]) -> None:
        """Partitions revoked: apply what is held (still this process's partitions until this
        returns), then take nothing more from them."""
        async with self._lock:
            held = len(self._held.records)
            await self._flush()
            self.released += held
            if self._next is None:
                self._next = {}
            for part in parts:
                self._next.pop(part, None)

    async def flush(self) -> dict[str, BatchResult]:
        """Apply what is held now (before stopping: the partitions are still this process's)."""
        async with self._lock:
            return await self._flush()

    async def close(self) -> None:
        """Stop the flush timer; what is still held is dropped (the next owner reads it again)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        self._held = _Held()

    def _arm(self) -> None:
        if self._held.since is not None and (self._timer is None or self._timer.done()):
            self._timer = asyncio.create_task(self._flush_when_due())

    async def _flush_when_due(self) -> None:
        """Apply held records once the oldest has waited `wait` seconds (fetching went idle, or
        full batches keep coming more slowly than `hold` fills)."""
        loop = asyncio.get_running_loop()
        while (since := self._held.since) is not None:
            due = since + self.wait - loop.time()
            if due > 0:
                await asyncio.sleep(due)
                continue
            try:
                async with self._lock:
                    if self._held.since is not None and self._held.since + self.wait <= loop.time():
                        await self._flush()
            except Exception:
                log.exception("views %s: the timed flush failed", self.names)
                return

    async def _flush(self) -> dict[str, BatchResult]:
        """Every held record to every view in one transaction with the offsets (the lock is held)."""
        held, self._held = self._held, _Held()
        if not held.records:
            return {}
        for item in held.items:
            self._notifications = max(self._notifications, item.record.notification_id or 0)
        positions = dict(held.positions)
        positions[STORE_PART] = self._notifications
        started = time.perf_counter()
        try:
            results = await self._apply(held.items, positions, held.records)
        except BaseException:
            self._rewind(held.records)
            raise
        self.apply_seconds += time.perf_counter() - started
        self.flushes += 1
        await self._commit(held.positions)
        for name, result in results.items():
            self.applied[name] += result.applied
            self.skipped[name] += result.skipped
        return results

    def _rewind(self, records: Sequence[Any]) -> None:
        """A transaction of held records failed: read their partitions again from the first of them,
        so no later record moves a position past the ones that were not applied."""
        first: dict[str, int] = {}
        for record in records:
            key = part_key(record.topic, record.partition)
            first[key] = min(first.get(key, record.offset), record.offset)
        consumer = self._consumer()
        for key, offset in first.items():
            if self._next is not None and key in self._next:
                self._next[key] = min(self._next[key], offset)
            if consumer is not None:
                consumer.seek(topic_partition(key), offset)
        log.error("views %s: held records not applied; reading %s again", self.names, sorted(first.items()))

    async def _commit(self, positions: dict[str, int]) -> None:
        """Tell Kafka the offsets just applied. Only a hint: a partition starts from the view
        store's positions, but a committed offset never passes them (so nothing fetched before
        that seek lies beyond where the views stand)."""
        consumer = self._consumer()
        if consumer is None or self._next is None or not positions:
            return
        offsets = {topic_partition(key): offset for key, offset in positions.items()}
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a rebalance under way: the next transaction commits again
            log.info("views %s: offsets not committed (%s)", self.names, exc)

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
        """Each view alone, then halves of the batch where it fails down to the one event. A record
        no view can take is dead-lettered ONCE (naming every view that refused it) before any
        offset moves."""
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
        """`items` to one view in order: all at once, else each half the same way (a held batch
        of 20,000 with one bad event costs about 30 transactions, not 20,000)."""
        try:
            return await asyncio.to_thread(runner.apply, items, KAFKA_FEED, {})
        except _TRANSIENT:
            raise
        except Exception as exc:
            if len(items) == 1:
                refused.setdefault(items[0].record.raw, []).append(
                    f"cannot apply to view {runner.name}: {exc!r}"
                )
                return BatchResult()
            log.error("view %s: %d events failed (%s); applying them in halves", runner.name, len(items), exc)
        middle = len(items) // 2
        first = await self._apply_view(runner, items[:middle], refused)
        second = await self._apply_view(runner, items[middle:], refused)
        return BatchResult(applied=first.applied + second.applied, skipped=first.skipped + second.skipped)

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
        await publish_dead_letter(self._broker, self.topics.dlq, record, error, self.group)


def _transient_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.OperationalError, psycopg.OperationalError)


_TRANSIENT = _transient_errors()


async def _raw_body(message: Any) -> Any:
    # The projector decodes records itself, so that a poison record reaches the
    # dead-letter topic instead of failing inside the framework.
    return None


async def lenient_headers(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser, given header values it can read as UTF-8 (it decodes them strictly, and
    one bad header would drop every record fetched with it); the handler still gets the records
    as they came."""
    records = message if isinstance(message, tuple | list) else (message,)
    if all(_utf8(value) for record in records for _, value in record.headers or ()):
        return await original(message)
    readable = tuple(
        dataclasses.replace(
            record,
            headers=[(k, bytes(v).decode("utf-8", "replace").encode()) for k, v in record.headers or ()],
        )
        for record in records
    )
    parsed = await original(readable if isinstance(message, tuple | list) else readable[0])
    parsed.raw_message = message
    return parsed


def _utf8(value: Any) -> bool:
    try:
        bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
