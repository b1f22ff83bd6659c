"""The soak's checks at the end, with the faults healed: the topic holds every stored event once,
the views reached the topic's end, and they equal a rebuild from the store."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gateways.bootstrap import Container, bootstrap
from gateways.settings import Settings
from gateways.soak.parts import SoakFailed, new_database


def topic_check(kafka: str, container: Container, topics: Any, head: int) -> int:
    """Every stored event is on the events topic exactly once; returns the records read."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from gateways.kafka.relay import notification_id_of
    from gateways.kafka.topics import end_offsets, servers

    async def read() -> list[int]:
        ends = await end_offsets(kafka, topics.events)
        consumer = AIOKafkaConsumer(bootstrap_servers=servers(kafka), enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topics.events, p) for p in ends]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ids: list[int] = []
            remaining = {tp for tp in tps if ends[tp.partition]}
            while remaining:
                got = await consumer.getmany(*remaining, timeout_ms=1000, max_records=50_000)
                for tp, batch in got.items():
                    ids += [
                        notification_id_of(r.headers) or 0 for r in batch if r.offset < ends[tp.partition]
                    ]
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp.partition]:
                        remaining.discard(tp)
            return ids
        finally:
            await consumer.stop()

    ids = asyncio.run(read())
    counts = Counter(ids)
    stored = {r.notification_id for r in container.store.notifications(0, head + 10)}
    gaps = stored - set(counts)
    duplicates = [n for n, c in counts.items() if c > 1]
    if gaps or duplicates or set(counts) - stored:
        raise SoakFailed(f"topic: {len(gaps)} missing, {len(duplicates)} duplicated notification ids")
    return len(ids)


def views_caught_up(container: Container, topics: Any, ends: dict[int, int]) -> None:
    """Wait until every view's Kafka positions reach the topic's end offsets."""
    from gateways.kafka.projector import KAFKA_FEED

    deadline = time.monotonic() + 600
    while True:
        behind = []
        for runner in container.runners:
            stored = runner.positions(KAFKA_FEED)
            at = {int(k.rsplit(":", 1)[1]): v for k, v in stored.items() if k.startswith(topics.events + ":")}
            if any(at.get(p, 0) < end for p, end in ends.items()):
                behind.append(runner.name)
        if not behind:
            return
        if time.monotonic() > deadline:
            raise SoakFailed(f"views behind the topic after 600 s: {behind}")
        time.sleep(0.2)


def views_equal_rebuild(
    container: Container, admin_url: str, store_url: str, work: Path, secret: str, drop: list[str]
) -> None:
    """The views the projectors built from Kafka equal a rebuild from the store, table by table."""
    import re

    views_url = new_database(admin_url)
    drop.append(views_url)
    rebuilt = bootstrap(
        Settings(
            data_dir=work / "rebuild",
            event_store_url=store_url,
            view_store_url=views_url,
            jwt_secret=secret,
        )
    )
    try:
        rebuilt.feed.rebuild()
        for runner in container.runners:
            for statement in runner.view.schema:
                match = re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement, re.IGNORECASE)
                if not match or match.group(1) == "projection_positions":
                    continue
                table = match.group(1)
                live = sorted(
                    repr(sorted(r.items())) for r in container.view_db.query(f"SELECT * FROM {table}")
                )
                again = sorted(
                    repr(sorted(r.items())) for r in rebuilt.view_db.query(f"SELECT * FROM {table}")
                )
                if live != again:
                    raise SoakFailed(f"view {runner.name}: table {table} differs from a rebuild")
        seqs = "SELECT view, dossier_id, seq FROM projection_seqs"
        if sorted(map(repr, container.view_db.query(seqs))) != sorted(map(repr, rebuilt.view_db.query(seqs))):
            raise SoakFailed("projection_seqs differ from a rebuild")
    finally:
        rebuilt.close()
