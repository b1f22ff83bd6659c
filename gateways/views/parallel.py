"""`lienthong projections rebuild --workers N`: rebuild shards of dossiers in parallel, then merge.

Each worker process reads the notification log up to the head it is given, keeps the events
of its shard of dossiers (by a hash of the dossier id: a dossier's events never span two
shards) and folds them with the same view runtime into a SQLite store of its own. The parent
then replaces the views in ONE transaction of the view store: the rows are reset, every
shard's per-dossier rows are copied, the counters of the same bucket are summed, and the
seen seqs and the store position are written — the same rows as a single-process rebuild.
Kafka positions are kept, as by `StoreFeed.rebuild` (docs/decisions.md).
"""

from __future__ import annotations

import shutil
import time
import uuid
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any, Protocol

from gateways.calendar_factory import build_calendar
from gateways.eventstore.store import EventStore
from gateways.settings import Settings
from gateways.sql import Database, Tx
from gateways.views.feed import RebuildResult, StoreFeed
from gateways.views.registry import build_views
from gateways.views.runtime import STORE_FEED, STORE_PART, PassSeen, ViewRunner, decode
from gateways.views.toolkit import rows_of


class Mergeable(Protocol):
    def merge(self, tx: Tx, shards: Sequence[Database]) -> None: ...


def shard_of(dossier_id: str, shards: int) -> int:
    return zlib.crc32(dossier_id.encode()) % shards


@dataclass(frozen=True)
class ShardJob:
    settings: dict[str, Any]
    views: tuple[str, ...]
    shard: int
    shards: int
    head: int  # the last notification id to fold
    path: str  # the shard's SQLite store
    batch: int


@dataclass(frozen=True)
class ShardDone:
    read: int
    applied: int
    seconds: float


def fold_shard(job: ShardJob) -> ShardDone:
    """In a worker process: fold one shard's events into its own SQLite store."""
    started = time.perf_counter()
    settings = Settings(**job.settings)
    store = EventStore(settings.resolved_event_store_url, create_tables=False)
    db = Database(f"sqlite:///{job.path}")
    try:
        runners = [ViewRunner(db, v) for v in build_views(build_calendar(settings)) if v.name in job.views]
        position = read = applied = 0
        with db.transaction() as tx:
            for runner in runners:  # a new store: nothing to read back
                runner.reset(tx)
            seen = PassSeen(runners)
            while position < job.head:
                records = [
                    r
                    for r in store.notifications(position, job.batch)
                    if (r.notification_id or 0) <= job.head
                ]
                if not records:
                    break
                position = records[-1].notification_id or position
                read += len(records)
                mine, _bad = decode(r for r in records if shard_of(r.dossier_id, job.shards) == job.shard)
                applied += len(mine)
                fresh = seen.fresh(tx, mine)
                for runner in runners:
                    runner.apply_in(tx, fresh, STORE_FEED, {STORE_PART: position}, defer=True, shared=seen)
            for runner in runners:
                runner.flush(tx)
            seen.finish(tx)
        return ShardDone(read, applied, time.perf_counter() - started)
    finally:
        db.close()
        store.close()


def rebuild_in_parallel(
    settings: Settings,
    store: EventStore,
    feed: StoreFeed,
    names: Sequence[str] | None,
    workers: int,
    batch: int = 5000,
) -> list[RebuildResult]:
    """Rebuild the views named (all if None) with `workers` processes; one transaction to merge."""
    chosen = [feed.runner(n) for n in names] if names else list(feed.runners)
    for runner in chosen:
        if not hasattr(runner.view, "merge"):
            raise ValueError(f"view '{runner.name}' cannot be rebuilt in shards (it has no merge)")
    head = store.max_notification_id()
    work = settings.data_dir / "rebuild" / uuid.uuid4().hex[:8]
    work.mkdir(parents=True, exist_ok=True)
    try:
        jobs = [
            ShardJob(
                settings.model_dump(mode="json"),
                tuple(r.name for r in chosen),
                shard,
                workers,
                head,
                str(work / f"shard-{shard}.sqlite"),
                batch,
            )
            for shard in range(workers)
        ]
        # Spawned, not forked: the parent holds database pools and threads.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            done = list(pool.map(fold_shard, jobs))
        shards = [Database(f"sqlite:///{job.path}") for job in jobs]
        try:
            _merge(chosen, shards, head)
        finally:
            for shard in shards:
                shard.close()
        read = done[0].read if done else 0
        return [RebuildResult(runner.name, read) for runner in chosen]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _merge(runners: Sequence[ViewRunner], shards: Sequence[Database], head: int) -> None:
    with runners[0].db.transaction() as tx:
        for runner in runners:
            runner.reset(tx, feeds=(STORE_FEED,))
            view: Mergeable = runner.view  # type: ignore[assignment]
            view.merge(tx, shards)
            runner.forget()  # the merge wrote rows the runner does not hold
            for shard in shards:
                seen = [
                    (runner.name, row["dossier_id"], int(row["seq"]))
                    for row in rows_of(shard, "projection_seqs")
                    if row["view"] == runner.name
                ]
                tx.executemany("INSERT INTO projection_seqs (view, dossier_id, seq) VALUES (?, ?, ?)", seen)
            tx.execute(
                "INSERT INTO projection_positions (view, feed, part, position, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (view, feed, part) DO UPDATE SET "
                "position = excluded.position, updated_at = excluded.updated_at",
                (runner.name, STORE_FEED, STORE_PART, head, datetime.now(UTC).isoformat()),
            )
