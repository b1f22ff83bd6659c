"""`bench lag`: from a command accepted (appended to the event store) to the event visible in
the SLA view, through the relay, Kafka and the SLA projector, p50/p99.

The relay and the view projectors run in a child process (`lienthong stream` without the
inbound consumer) on the run's stores and topics; with `processes` N, N - 1 more children
run the projectors alone in the same consumer group (as `lienthong stream --processes N`
does), and the measure starts once the group has its N members and every partition is
applied to its end. This process receives dossiers through the application service at a
steady pace and watches the view runtime's applied seqs of the SLA view (written in the
same transaction as the view rows) until each one shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import time
import uuid

from domain.events import Actor, Channel
from gateways.bench import BenchUnavailable
from gateways.bench.api import percentile
from gateways.bench.child import running, write_settings
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench, workbench
from gateways.kafka.topics import Topics, group_assignment
from gateways.settings import Settings

VIEW = "sla"
TARGET_P99_MS = 500.0
HISTORY_EVENTS = 20_000
ACTOR = Actor(agency_code="", user="bench-lag", role="integration")


def _visible(bench: Workbench, ids: list[str]) -> set[str]:
    rows = bench.container.view_db.query(
        "SELECT dossier_id FROM projection_seqs WHERE view = ? AND dossier_id IN "
        f"({','.join('?' * len(ids))})",
        (VIEW, *ids),
    )
    return {str(r["dossier_id"]) for r in rows}


def _receive(bench: Workbench, procedure: str, desk: str) -> str:
    service = bench.container.service
    dossier_id = str(uuid.uuid4())
    service.create(
        dossier_id=dossier_id,
        procedure_code=procedure,
        channel=Channel.DIRECT,
        applicant={"name": "Công dân", "id_number": "079200000000"},
        receiving_agency_code=desk,
        actor=ACTOR,
        occurred_at=service.now(),
    )
    return dossier_id


class Watcher(threading.Thread):
    """Polls the view for dossiers accepted but not yet seen, and notes when each shows."""

    def __init__(self, bench: Workbench, every: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.bench = bench
        self.every = every
        self.accepted: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def accept(self, dossier_id: str, at: float) -> None:
        with self.lock:
            self.accepted[dossier_id] = at

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                waiting = [d for d in self.accepted if d not in self.seen]
            if waiting:
                shown = _visible(self.bench, waiting)
                now = time.perf_counter()
                for dossier_id in shown:
                    self.seen[dossier_id] = now
            time.sleep(self.every)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.seen) >= len(self.accepted):
                    return
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.accepted) - len(self.seen)} dossiers never showed in the {VIEW} view")


def _settle(bench: Workbench, kafka: str, processes: int, children: list[subprocess.Popen[bytes]]) -> None:
    """Wait until the views' consumer group has every process as a member and is stable, and every
    partition of the events topic is applied to its end (no rebalance or backlog is measured)."""
    topics = Topics.with_prefix(bench.settings.kafka_topic_prefix)
    group = topics.group("views")
    feed = bench.container.feed
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                raise RuntimeError(f"a stream process exited with {child.returncode}")
        state, members = asyncio.run(group_assignment(kafka, group, topics.events))
        if state == "Stable" and len(members) == processes:
            lag = feed.lag()
            rows = feed.partitions(feed.end_offsets())
            if lag.relay is not None and lag.relay.lag == 0 and rows and all(r.lag == 0 for r in rows):
                return
        time.sleep(0.5)
    raise TimeoutError(f"the projectors did not settle ({processes} processes in group {group})")


def bench_lag(
    settings: Settings,
    events: int,
    kafka: str,
    store_url: str | None = None,
    rate: float = 20.0,
    processes: int = 1,
) -> BenchResult:
    commands = max(20, min(400, events // 500))
    bench = workbench(settings, min(events, HISTORY_EVENTS), store_url=store_url, kafka=kafka)
    try:
        views = [r.name for r in bench.container.runners]
        if VIEW not in views:
            raise BenchUnavailable(f"skipped: no '{VIEW}' view is registered (views: {', '.join(views)})")
        procedure = next(p for p in bench.container.catalogue.procedures() if len(p.route) == 1)
        desk = procedure.route[0].agency_code
        settings_file = write_settings(bench.settings, bench.work / "stream-settings.json")
        watcher = Watcher(bench)
        with contextlib.ExitStack() as stack:
            children = [stack.enter_context(running("stream", settings_file))]
            children += [
                stack.enter_context(running("projectors", settings_file)) for _ in range(processes - 1)
            ]
            watcher.start()
            # The history first: the projectors have caught up once a fresh dossier shows.
            started = time.perf_counter()
            watcher.accept(_receive(bench, procedure.code, desk), time.perf_counter())
            watcher.wait_all(timeout=300)
            catch_up_seconds = time.perf_counter() - started
            _settle(bench, kafka, processes, children)
            watcher.accepted.clear()
            watcher.seen.clear()
            for _ in range(commands):
                for child in children:
                    if child.poll() is not None:
                        raise RuntimeError(f"a stream process exited with {child.returncode}")
                dossier_id = _receive(bench, procedure.code, desk)
                watcher.accept(dossier_id, time.perf_counter())
                time.sleep(1 / rate)
            watcher.wait_all(timeout=60)
            watcher.stop.set()
            watcher.join()
        lags = sorted(watcher.seen[d] - watcher.accepted[d] for d in watcher.accepted)
        p50, p99 = percentile(lags, 50) * 1000, percentile(lags, 99) * 1000
        return BenchResult(
            name="lag",
            value=round(p99, 1),
            unit="ms (p99)",
            baseline=None,
            target_ratio=None,
            target_max=TARGET_P99_MS,
            params={
                "commands": len(lags),
                "processes": processes,
                "rate_per_s": rate,
                "view": VIEW,
                "store": bench.store_kind,
                "history_events": bench.events,
                "relay_idle_ms": bench.settings.relay_idle_ms,
                "projector_batch": bench.settings.projector_batch,
                "poll_ms": watcher.every * 1000,
            },
            extra={
                "p50_ms": round(p50, 1),
                "max_ms": round(lags[-1] * 1000, 1),
                "history_catch_up_seconds": round(catch_up_seconds, 2),
            },
        )
    finally:
        bench.close()
