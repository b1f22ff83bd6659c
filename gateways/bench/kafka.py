"""`bench relay` and `bench project-kafka`: the Kafka paths against raw aiokafka in the same run.

Both build a fresh simulated history (`lienthong simulate`'s province profile) in their own
store (a fresh folder under var/bench), publish to topics with a fresh prefix, and compare:
- relay: events/s from the event store to Kafka (acks=all, idempotent) vs. aiokafka
  `send_batch` of the same bytes, keys, headers and partitions with the same producer settings;
- project-kafka: events/s through the projector of every view (decode once, apply, view rows
  and offsets of several fetches in one transaction) vs. an aiokafka `getmany` loop over the same topic
  with the same `max_records`, decode skipped; then the same topic again from scratch with
  two projector processes sharing the consumer group.

project-kafka also measures its floor (gateways/bench/floor.py): the `getmany` loop's time, plus
parsing every record with orjson, plus writing the views' final rows once each; `ceiling_ratio`
is the best ratio to the raw loop that a single process folding in Python and writing those rows
could reach (`engine_ceiling_ratio`: were the rows written inside the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gateways.bench.child import running, write_settings
from gateways.bench.floor import ceiling, parse_seconds, view_tables, write_floor
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench as SimulatedWorkbench
from gateways.bench.workload import workbench as simulated_workbench
from gateways.bootstrap import Container
from gateways.eventstore.store import RecordedEvent
from gateways.kafka.app import build_stream, stop_projectors
from gateways.kafka.projector import KAFKA_FEED, ViewProjector, part_key
from gateways.kafka.relay import Relay, headers_for
from gateways.kafka.topics import Topics, end_offsets, ensure_topics, partition_for
from gateways.settings import Settings


@dataclass
class Workbench:
    container: Container
    topics: Topics
    events: int
    simulated: SimulatedWorkbench

    def close(self) -> None:
        self.simulated.close()


def workbench(settings: Settings, events: int, kafka: str, store_url: str | None) -> Workbench:
    """A fresh store with about `events` simulated events, and fresh topics (gateways/bench/workload.py)."""
    simulated = simulated_workbench(settings, events, store_url=store_url, kafka=kafka)
    topics = Topics.with_prefix(simulated.settings.kafka_topic_prefix)
    return Workbench(simulated.container, topics, simulated.events, simulated)


def _producer(kafka: str) -> AIOKafkaProducer:
    # The relay's own producer settings: the baseline must pay for the same durability.
    return AIOKafkaProducer(
        bootstrap_servers=kafka, enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )


async def _raw_send(kafka: str, topic: str, records: list[RecordedEvent], partitions: int) -> float:
    producer = _producer(kafka)
    await producer.start()
    try:
        started = time.perf_counter()
        by_partition: dict[int, list[RecordedEvent]] = {}
        for record in records:
            by_partition.setdefault(partition_for(record.dossier_id, partitions), []).append(record)
        sends = []
        for partition, chunk in by_partition.items():
            batch = producer.create_batch()
            for record in chunk:
                args = {"key": record.dossier_id.encode(), "value": record.raw, "timestamp": None}
                if batch.append(**args, headers=headers_for(record)) is None:
                    sends.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(**args, headers=headers_for(record))
            sends.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sends)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def bench_relay(settings: Settings, events: int, kafka: str, store_url: str | None = None) -> BenchResult:
    bench = workbench(settings, events, kafka, store_url)
    try:
        container, topics = bench.container, bench.topics
        partitions = container.settings.kafka_event_partitions
        relay = Relay(
            container.store,
            container.db,
            kafka,
            topics,
            partitions=partitions,
            batch=container.settings.relay_batch,
        )

        async def run() -> tuple[float, float]:
            await ensure_topics(kafka, topics, partitions)
            baseline_topic = Topics.with_prefix(topics.events.split(".")[0] + "raw")
            await ensure_topics(kafka, baseline_topic, partitions)
            records: list[RecordedEvent] = []
            position = 0
            while batch := container.store.notifications(position, 5000):
                records.extend(batch)
                position = batch[-1].notification_id or position
            raw_seconds = await _raw_send(kafka, baseline_topic.events, records, partitions)
            started = time.perf_counter()
            await relay.drain()
            return time.perf_counter() - started, raw_seconds

        relay_seconds, raw_seconds = asyncio.run(run())
        return BenchResult(
            name="relay",
            value=bench.events / relay_seconds,
            unit="events/s",
            baseline=bench.events / raw_seconds,
            target_ratio=0.5,
            params={
                "events": bench.events,
                "store": container.store.url.split(":")[0],
                "partitions": partitions,
                "relay_batch": container.settings.relay_batch,
                "acks": "all",
                "idempotent": True,
                "linger_ms": 5,
                "max_batch_size": 512 * 1024,
            },
            extra={"relay_seconds": round(relay_seconds, 3), "raw_seconds": round(raw_seconds, 3)},
        )
    finally:
        bench.close()


async def _raw_consume(kafka: str, topic: str, total: int, max_records: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        group_id=f"{topic}.raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < total:
            got = await consumer.getmany(timeout_ms=200, max_records=max_records)
            seen += sum(len(v) for v in got.values())
            if got:
                await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def bench_project_kafka(
    settings: Settings, events: int, kafka: str, store_url: str | None = None
) -> BenchResult:
    bench = workbench(settings, events, kafka, store_url)
    try:
        container, topics = bench.container, bench.topics
        side = build_stream(container, bootstrap=kafka, with_inbound=False, with_relay=False)
        partitions = container.settings.kafka_event_partitions
        relay = Relay(container.store, container.db, kafka, topics, partitions=partitions)

        async def run() -> tuple[float, float]:
            await ensure_topics(kafka, topics, partitions)
            await relay.drain()
            ends = await end_offsets(kafka, topics.events)
            raw_seconds = await _raw_consume(
                kafka, topics.events, bench.events, container.settings.projector_batch
            )
            started = time.perf_counter()
            await side.broker.start()
            try:
                while not await asyncio.to_thread(_caught_up, side.projectors, topics.events, ends):
                    await asyncio.sleep(0.05)
                return time.perf_counter() - started, raw_seconds
            finally:
                await stop_projectors(side)

        projector_seconds, raw_seconds = asyncio.run(run())
        views = [name for p in side.projectors for name in p.names]
        _, parsing = parse_seconds(container.store)
        tables = view_tables(runner.view for p in side.projectors for runner in p.runners)
        floor = write_floor(container.view_db, tables, bench.simulated.work / "floor.sqlite")
        two = _with_processes(bench, side.projectors, 2, ends=asyncio.run(end_offsets(kafka, topics.events)))
        return BenchResult(
            name="project-kafka",
            value=bench.events / projector_seconds,
            unit="events/s",
            baseline=bench.events / raw_seconds,
            target_ratio=0.5,
            params={
                "events": bench.events,
                "views": views,
                "view_store": container.view_db.url.split(":")[0],
                "max_records": container.settings.projector_batch,
                "partitions": partitions,
            },
            extra={
                "projector_seconds": round(projector_seconds, 3),
                "raw_seconds": round(raw_seconds, 3),
                "dead_lettered": sum(p.dead for p in side.projectors),
                "kafka_batches": sum(p.batches for p in side.projectors),
                "transactions": sum(p.flushes for p in side.projectors),
                "decode_seconds": round(sum(p.decode_seconds for p in side.projectors), 3),
                "apply_seconds": round(sum(p.apply_seconds for p in side.projectors), 3),
                # What no single process writing these rows could go under, and the ratio it caps.
                "parse_seconds": round(parsing, 3),
                "write_floor": floor.as_json(bench.events),
                "ceiling_ratio": ceiling(raw_seconds, parsing + floor.from_python_seconds),
                "engine_ceiling_ratio": ceiling(raw_seconds, parsing + floor.seconds),
                "two_processes_events_per_s": round(bench.events / two[0]),
                "two_processes_ratio": round(raw_seconds / two[0], 4),
                "two_processes_seconds": round(two[0], 3),
                "two_processes_after_first_batch_seconds": round(two[1], 3),
            },
        )
    finally:
        bench.close()


def _with_processes(
    bench: Workbench, projectors: list[ViewProjector], processes: int, ends: dict[int, int]
) -> tuple[float, float]:
    """The same topic projected again from scratch by `processes` projector processes sharing the
    consumer group: (seconds from their start, seconds from the first committed batch)."""
    container = bench.container
    runners = [runner for projector in projectors for runner in projector.runners]
    with container.view_db.transaction() as tx:
        for runner in runners:
            runner.reset(tx)  # rows, seen seqs and every position: the projectors start from the beginning
    settings_file = write_settings(bench.simulated.settings, bench.simulated.work / "projectors.json")
    started = time.perf_counter()
    first: float | None = None
    with contextlib.ExitStack() as stack:
        children = [stack.enter_context(running("projectors", settings_file)) for _ in range(processes)]
        while not _caught_up(projectors, bench.topics.events, ends):
            if any(child.poll() is not None for child in children):
                raise RuntimeError("a projector process exited before the views caught up")
            if first is None and any(r.positions(KAFKA_FEED) for r in runners):
                first = time.perf_counter()
            time.sleep(0.05)
        done = time.perf_counter()
    return done - started, done - (first or started)


def _caught_up(projectors: list[ViewProjector], topic: str, ends: dict[int, int]) -> bool:
    for projector in projectors:
        for runner in projector.runners:
            stored = runner.positions(KAFKA_FEED)
            if any(stored.get(part_key(topic, p), 0) < end for p, end in ends.items()):
                return False
    return True


def bench_dir(settings: Settings) -> Path:
    return settings.data_dir / "bench"
