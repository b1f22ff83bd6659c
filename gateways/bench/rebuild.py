"""`bench rebuild`: events/s rebuilding every view from the event store, against a loop that
only reads the same records (same fetch size) and orjson-decodes them, in the same run; then
the same rebuild with two worker processes (`projections rebuild --workers 2`).

Also measured: the write floor of the rebuilt views (gateways/bench/floor.py) and the ceilings
it sets: the best ratio a rebuild that reads the log and writes those rows could reach, with its
folds in Python (`ceiling_ratio`) or inside the database (`engine_ceiling_ratio`)."""

from __future__ import annotations

import time

from gateways.bench.floor import ceiling, view_tables, write_floor
from gateways.bench.report import BenchResult
from gateways.bench.workload import workbench
from gateways.eventstore.store import EventStore
from gateways.settings import Settings
from gateways.views.parallel import rebuild_in_parallel
from gateways.views.registry import build_views


def read_only_loop(store: EventStore, batch: int) -> tuple[int, float]:
    """Read every notification (`batch` per fetch) and decode each envelope with orjson."""
    started = time.perf_counter()
    position, count = 0, 0
    while records := store.notifications(position, batch):
        count += len(records)  # RecordedEvent.from_bytes has orjson-decoded each envelope
        position = records[-1].notification_id or position
    return count, time.perf_counter() - started


def bench_rebuild(settings: Settings, events: int, store_url: str | None = None) -> BenchResult:
    bench = workbench(settings, events, store_url=store_url)
    try:
        container = bench.container
        batch = container.feed.batch
        read_events, first = read_only_loop(container.store, batch)
        started = time.perf_counter()
        results = container.feed.rebuild()
        rebuild_seconds = time.perf_counter() - started
        _, second = read_only_loop(container.store, batch)
        tables = view_tables(build_views(container.calendar))
        floor = write_floor(container.view_db, tables, bench.work / "floor.sqlite")
        started = time.perf_counter()
        rebuild_in_parallel(bench.settings, container.store, container.feed.log, None, workers=2)
        two_workers_seconds = time.perf_counter() - started
        # The faster of two read passes (before and after) is the baseline: the cache is warm for both.
        read_seconds = min(first, second)
        kind = bench.store_kind
        return BenchResult(
            name="rebuild" if kind == "sqlite" else f"rebuild-{kind}",
            value=read_events / rebuild_seconds,
            unit="events/s",
            baseline=read_events / read_seconds,
            target_ratio=0.35,
            params={
                "events": read_events,
                "dossiers": bench.tally.dossiers,
                "store": kind,
                "views": [r.view for r in results],
                "fetch_size": batch,
                "transaction": "one per view (readers see the old view or the new one)",
            },
            extra={
                "rebuild_seconds": round(rebuild_seconds, 3),
                "two_workers_seconds": round(two_workers_seconds, 3),
                "two_workers_events_per_s": round(read_events / two_workers_seconds),
                "two_workers_ratio": round(read_seconds / two_workers_seconds, 4),
                "read_seconds": round(read_seconds, 3),
                # Writing the rebuilt rows once each and nothing else; with the read loop, the
                # best ratio a rebuild writing these rows could reach: folding in Python (rows
                # handed from Python), and folding inside the database (gateways/bench/floor.py).
                "write_floor": floor.as_json(read_events),
                "ceiling_ratio": ceiling(read_seconds, floor.from_python_seconds),
                "engine_ceiling_ratio": ceiling(read_seconds, floor.seconds),
                "per_view_events": {r.view: r.events for r in results},
                "workload_events_per_s": round(bench.events / bench.seconds) if bench.seconds else None,
            },
        )
    finally:
        bench.close()
