"""The outbound relay: the event store's notification log (a transactional outbox) -> Kafka.

Every stored envelope is published, byte for byte, to the events topic keyed by dossier
id, with the notification id in a header, by an idempotent producer with acks=all.
The relay's position (last notification id confirmed by the broker) is stored in the
event store's database after each batch.

Restart rule (no gap, no duplicate on the topic): a session starts from the stored
position, reads the notification id of the last record of every partition, and skips
an event only if its own partition already holds its notification id or a later one.
Within one partition the producer keeps order, so that partition holds every earlier
event of its dossiers; another partition that lagged behind is filled in. Consumers still
deduplicate by (dossier_id, seq), never by offset.

Only one relay publishes at a time: the holder of a PostgreSQL advisory lock
(leadership.py). The others are standbys; when the holder dies its lock is released and a
standby starts a session by the same restart rule, so the topic has no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from gateways.eventstore.limits import (
    CONTENT_TYPE,
    EVENT_TYPE_HEADER,
    MAX_EVENT_BYTES,
    NOTIFICATION_HEADER,
)
from gateways.eventstore.limits import record_size as kafka_record_size
from gateways.eventstore.store import EventStore, Outgoing, RecordedEvent
from gateways.kafka.leadership import Leadership, LeadershipLost, lock_key
from gateways.kafka.topics import (
    Topics,
    ensure_topics,
    max_message_bytes,
    partition_for,
    servers,
)
from gateways.sql import Database

log = logging.getLogger("lienthong.relay")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS relay_positions (name TEXT PRIMARY KEY, position BIGINT NOT NULL, "
    "updated_at TEXT NOT NULL)",
]


class EventTooLarge(Exception):
    """A stored event larger than the events topic takes. The relay publishes everything before it
    and nothing after it (sending what follows would leave a gap no restart could see)."""


MAX_BATCH_BYTES = 512 * 1024  # records sent in one producer batch, at most (a topic's limit if lower)


def record_size(record: Outgoing) -> int:
    """An upper bound of the bytes the record takes in a batch of its own (the store refuses an
    event whose record would pass MAX_EVENT_BYTES by the same measure)."""
    return kafka_record_size(
        len(record.raw), record.dossier_id, record.type, len(str(record.notification_id))
    )


class RelayBusy(Exception):
    """Another process holds the relay lock."""


@dataclass
class RelayStats:
    published: int = 0
    skipped: int = 0  # already on the topic after a crash
    sessions: int = 0
    outages: int = 0  # sessions ended by the broker or the store being away
    leader: bool = False  # this process holds the relay lock


def headers_for(record: RecordedEvent | Outgoing) -> list[tuple[str, bytes]]:
    return [
        CONTENT_TYPE,
        (NOTIFICATION_HEADER, str(record.notification_id).encode()),
        (EVENT_TYPE_HEADER, record.type.encode()),
    ]


def notification_id_of(headers: object) -> int | None:
    for key, value in headers or ():  # type: ignore[attr-defined]
        if key == NOTIFICATION_HEADER:
            return int(bytes(value))
    return None


class Relay:
    def __init__(
        self,
        store: EventStore,
        db: Database,
        bootstrap: str,
        topics: Topics,
        *,
        partitions: int = 12,
        batch: int = 1000,
        idle_ms: int = 50,
        name: str = "relay",
        replication: int = 1,
        standby_poll_seconds: float = 1.0,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.store = store
        self.db = db
        self.bootstrap = bootstrap
        self.topics = topics
        self.partitions = partitions
        self.batch = batch
        self.idle = idle_ms / 1000
        self.name = name
        self.replication = replication
        self.stats = RelayStats()
        self.leadership = Leadership(
            db.url, db.is_postgres, lock_key(name, topics.events), poll=standby_poll_seconds
        )
        self._partitions: dict[str, int] = {}
        db.executescript(SCHEMA)

    # -- position ---------------------------------------------------------------------------
    def position(self) -> int:
        rows = self.db.query("SELECT position FROM relay_positions WHERE name = ?", (self.name,))
        return int(rows[0]["position"]) if rows else 0

    def _save(self, position: int) -> None:
        self.db.execute(
            "INSERT INTO relay_positions (name, position, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            (self.name, position, datetime.now(UTC).isoformat()),
        )

    def lag(self) -> int:
        return self.store.max_notification_id() - self.position()

    # -- running ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, reconnecting with backoff when the broker is away.

        Waits as a standby while another process holds the relay lock."""
        backoff = 0.5
        try:
            while not stop.is_set():
                if not self.leadership.held:
                    self.stats.leader = False
                    if not await self.leadership.acquire(stop):
                        return
                    self.stats.leader = True
                try:
                    await ensure_topics(self.bootstrap, self.topics, self.partitions, self.replication)
                    await self._session(stop)
                    return
                except LeadershipLost as exc:
                    log.warning("relay: lost the relay lock (%s); standing by", exc)
                    self.leadership.release()
                    continue
                except EventTooLarge as exc:
                    self.stats.outages += 1
                    log.error("relay: %s; retrying in %.1fs", exc, backoff)
                except (TimeoutError, KafkaError, OSError) as exc:
                    self.stats.outages += 1
                    log.warning("relay: broker unavailable (%s); retrying in %.1fs", exc, backoff)
                except Exception:
                    # The store may be away too; the outbox keeps every event, so retrying loses nothing.
                    self.stats.outages += 1
                    log.exception("relay: session failed; retrying in %.1fs", backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
        finally:
            self.stats.leader = False
            await asyncio.to_thread(self.leadership.release)

    async def drain(self) -> int:
        """Publish everything recorded so far, then return (tools, tests, benchmarks).

        Takes the relay lock for the while; RelayBusy if another relay holds it."""
        if not self.leadership.held and not await asyncio.to_thread(self.leadership.try_acquire):
            await asyncio.to_thread(self.leadership.release)
            raise RelayBusy("another relay is active on this event store; it publishes everything")
        try:
            await ensure_topics(self.bootstrap, self.topics, self.partitions, self.replication)
            stop = asyncio.Event()
            before = self.stats.published
            await self._session(stop, until_idle=True)
            return self.stats.published - before
        finally:
            await asyncio.to_thread(self.leadership.release)

    async def _session(self, stop: asyncio.Event, until_idle: bool = False) -> None:
        # The topic's own limit when it is lower (a topic created before it was raised): the
        # broker would refuse such a record after the ones behind it had gone.
        topic_limit = await max_message_bytes(self.bootstrap, self.topics.events)
        limit = min(self.max_event_bytes, topic_limit) if topic_limit else self.max_event_bytes
        producer = AIOKafkaProducer(
            bootstrap_servers=servers(self.bootstrap),
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            # A batch of several records is no larger than the topic takes either: refused, the
            # batches after it on the partition would land, and a restart take them for proof.
            max_batch_size=min(MAX_BATCH_BYTES, limit),
            max_request_size=self.max_event_bytes,
            request_timeout_ms=15000,
        )
        await producer.start()
        self.stats.sessions += 1
        try:
            partitions = await producer.partitions_for(self.topics.events)
            count = len(partitions)
            heads = await self._published_heads(count)
            position = await asyncio.to_thread(self.position)
            reading = asyncio.create_task(asyncio.to_thread(self.store.outbox, position, self.batch))
            checked = time.monotonic()
            while not stop.is_set():
                records = await reading
                if not records:
                    if until_idle:
                        return
                    if time.monotonic() - checked >= 1.0:
                        await asyncio.to_thread(self.leadership.check)
                        checked = time.monotonic()
                    await _sleep_or_stop(stop, self.idle)
                    reading = asyncio.create_task(asyncio.to_thread(self.store.outbox, position, self.batch))
                    continue
                blocked = next((r for r in records if record_size(r) > limit), None)
                if blocked is not None:
                    records = records[: records.index(blocked)]
                by_partition: dict[int, list[Outgoing]] = {}
                for record in records:
                    partition = self._partition(record.dossier_id, count)
                    if (record.notification_id or 0) <= heads.get(partition, 0):
                        self.stats.skipped += 1
                        continue
                    by_partition.setdefault(partition, []).append(record)
                sends = [
                    send
                    for partition, chunk in by_partition.items()
                    for send in await self._send_partition(producer, partition, chunk)
                ]
                # The next page is read while this one is on its way; the position moves only
                # once every send of this page is acknowledged (acks=all).
                after = (records[-1].notification_id or position) if records else position
                reading = asyncio.create_task(asyncio.to_thread(self.store.outbox, after, self.batch))
                await asyncio.gather(*sends)
                self.stats.published += sum(len(chunk) for chunk in by_partition.values())
                position = after
                # Still the leader? (A relay that lost its lock stops before saving.)
                await asyncio.to_thread(self.leadership.check)
                checked = time.monotonic()
                await asyncio.to_thread(self._save, position)
                if blocked is not None:
                    reading.cancel()
                    raise EventTooLarge(_too_large(blocked, limit))
            reading.cancel()
        finally:
            await producer.stop()

    def _partition(self, dossier_id: str, count: int) -> int:
        partition = self._partitions.get(dossier_id)
        if partition is None:
            if len(self._partitions) > 100_000:
                self._partitions.clear()
            partition = self._partitions[dossier_id] = partition_for(dossier_id, count)
        return partition

    async def _send_partition(
        self, producer: AIOKafkaProducer, partition: int, chunk: list[Outgoing]
    ) -> list[asyncio.Future[Any]]:
        """One partition's records in as few producer batches as fit, in order."""
        sends: list[asyncio.Future[Any]] = []
        batch = producer.create_batch()
        for record in chunk:
            fields = {"key": record.dossier_id.encode(), "value": record.raw, "timestamp": None}
            if batch.append(**fields, headers=headers_for(record)) is not None:
                continue
            if batch.record_count():
                sends.append(await producer.send_batch(batch, self.topics.events, partition=partition))
                batch = producer.create_batch()
                if batch.append(**fields, headers=headers_for(record)) is not None:
                    continue
            # Larger than a whole batch: on its own, after what came before it.
            sends.append(
                await producer.send(
                    self.topics.events,
                    record.raw,
                    key=fields["key"],
                    partition=partition,
                    headers=headers_for(record),
                )
            )
        if batch.record_count():
            sends.append(await producer.send_batch(batch, self.topics.events, partition=partition))
        return sends

    async def _published_heads(self, partitions: int) -> dict[int, int]:
        """partition -> notification id of the last record on it."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=servers(self.bootstrap), enable_auto_commit=False, request_timeout_ms=15000
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topics.events, p) for p in range(partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            heads: dict[int, int] = {}
            for tp in tps:
                if ends[tp] == 0:
                    continue
                consumer.seek(tp, ends[tp] - 1)
                for _ in range(20):
                    got = await consumer.getmany(tp, timeout_ms=500, max_records=1)
                    if got.get(tp):
                        last = got[tp][-1]
                        nid = await asyncio.to_thread(self._published_here, last.value, last.headers)
                        if nid is not None:
                            heads[tp.partition] = nid
                        else:
                            log.warning(
                                "relay: the last record of %s:%d (offset %d) is not an event this store "
                                "published; that partition resumes from the stored position",
                                tp.topic,
                                tp.partition,
                                last.offset,
                            )
                        break
            return heads
        finally:
            await consumer.stop()

    def _published_here(self, value: bytes | None, headers: object) -> int | None:
        """The notification id of a record if it carries that stored event's bytes, else None (a
        record someone else put on the topic must not pass for the relay's last one)."""
        try:
            nid = notification_id_of(headers)
        except ValueError:
            return None
        if nid is None or nid < 1:
            return None
        stored = self.store.outbox(nid - 1, 1)
        return nid if stored and stored[0].notification_id == nid and stored[0].raw == value else None


def _too_large(record: Outgoing, limit: int) -> str:
    try:
        seq = orjson.loads(record.raw).get("seq")
    except orjson.JSONDecodeError:
        seq = "?"
    return (
        f"event {record.notification_id} ({record.type}, dossier {record.dossier_id} seq {seq}) takes "
        f"{record_size(record)} bytes, over the {limit} the events topic takes (its max.message.bytes); "
        "nothing after it is published until the topic takes it"
    )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
