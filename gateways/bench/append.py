"""`bench append`: dossier commands/s through the HTTP API from another process, with p50/p99,
at 8 and at 32 clients (`clients`).

The clients (asyncio, one httpx client and connection each, in this process) walk dossiers
through receive → handoff → accept → decide → handoff back → accept → result ready → result
returned, as the integration role, until `commands` are done or `seconds` have passed. The
API runs as with Kafka: a command appends to the store (the outbox) and the views are fed
by other processes.

The baseline, in the same run, at each number of clients: **the bare endpoint**
(gateways/bench/api.py) — the same server stack (uvicorn with the API's settings, FastAPI,
a synchronous route in the same thread pool) without middleware or application, doing one
`INSERT` + `COMMIT` of a row of the stored events' mean size per request into the same kind
of database with the same durability, driven by the same client code. The two servers run
side by side and the runs alternate (bare, API) at each number of clients.

Also printed, as before: the ratio to one `INSERT` + `COMMIT` per row from one connection
with no server at all — what one command must at least cost when nothing is batched.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateways.bench.api import BARE_PATH, percentile, serving, serving_bare
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench, is_postgres, workbench
from gateways.settings import Settings
from gateways.simulation.world import Reach

CLIENTS = (8, 32)
COMMANDS_PER_DOSSIER = 8
HISTORY_EVENTS = 20_000  # what the store holds before the clients start
P99_TARGET_MS = 50.0

Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]
Script = Callable[[Send, int], Awaitable[None]]


@dataclass
class Load:
    commands: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (transport error)
    done: int = 0  # requests started

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def errors_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def errors_4xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if 400 <= status < 500)

    @property
    def rate(self) -> float:
        """Answered commands (2xx) per second."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def ms(self, q: float) -> float:
        return round(percentile(sorted(self.latencies), q) * 1000, 2)


def _route(bench: Workbench) -> tuple[str, str, str]:
    """(procedure, desk, department) of a commune → department → commune procedure in force now."""
    world_codes = [p for p in bench.container.catalogue.procedures() if p.code.endswith("-2025")]
    for procedure in world_codes:
        route = procedure.route
        if len(route) == 3 and route[0].agency_code == route[2].agency_code:
            return procedure.code, route[0].agency_code, route[1].agency_code
    raise RuntimeError(f"no {Reach.DEPARTMENT.value}-level procedure in the workload's catalogue")


def walk(route: tuple[str, str, str]) -> Script:
    """A client's work on the API: dossier after dossier, eight commands each."""
    procedure, desk, department = route
    steps: list[tuple[str, dict[str, Any]]] = [
        ("handoffs", {"to_agency_code": department}),
        ("handoffs/accept", {}),
        ("decision", {"outcome": "approved"}),
        ("handoffs", {"to_agency_code": desk}),
        ("handoffs/accept", {}),
        ("result-ready", {}),
        ("result-returned", {}),
    ]

    async def script(send: Send, n: int) -> None:
        body = {
            "procedure_code": procedure,
            "channel": "direct",
            "receiving_agency_code": desk,
            "applicant": {"name": f"Công dân {n}", "id_number": f"0792{n:08d}"},
        }
        while True:
            created = await send("/api/v1/dossiers", body)
            if created is None:
                return
            if "id" not in created:  # refused: start another dossier
                continue
            for path, payload in steps:
                answer = await send(f"/api/v1/dossiers/{created['id']}/{path}", payload)
                if answer is None:
                    return
                if "id" not in answer:
                    break

    return script


async def bare_script(send: Send, n: int) -> None:
    """A client's work on the bare endpoint: a body like a receipt's, request after request."""
    body = {
        "procedure_code": "1.000000-2025",
        "channel": "direct",
        "applicant": {"name": f"Công dân {n}", "id_number": f"0792{n:08d}"},
    }
    while await send(BARE_PATH, body) is not None:
        pass


async def drive(
    base: str, headers: dict[str, str], script: Script, clients: int, commands: int, seconds: float
) -> Load:
    """`clients` concurrent clients (one connection each) run `script` until `commands`
    requests were sent or `seconds` have passed."""
    load = Load(commands, seconds)
    deadline = time.perf_counter() + seconds

    async def run(client: httpx.AsyncClient, n: int) -> None:
        async def send(path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
            """The answer's JSON ({} when refused); None when the run is over."""
            if load.done >= load.commands or time.perf_counter() > deadline:
                return None
            load.done += 1
            started = time.perf_counter()
            try:
                response = await client.post(path, json=payload)
            except httpx.HTTPError as exc:
                load.latencies.append(time.perf_counter() - started)
                load.statuses[0] += 1
                load.failures.append(f"{path}: {type(exc).__name__} {exc}"[:300])
                return {}
            load.latencies.append(time.perf_counter() - started)
            load.statuses[response.status_code] += 1
            if response.status_code >= 300:
                load.failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                return {}
            result: dict[str, Any] = response.json()
            return result

        await script(send, n)

    # One client object per client: httpx's shared connection pool costs the client process
    # more the more connections it holds (at 32 clients it halved the rate of either server).
    pool = [
        httpx.AsyncClient(
            base_url=base, headers=headers, timeout=30.0, limits=httpx.Limits(max_connections=1)
        )
        for _ in range(clients)
    ]
    started = time.perf_counter()
    try:
        await asyncio.gather(*(run(client, n) for n, client in enumerate(pool)))
        load.seconds = time.perf_counter() - started
    finally:
        for client in pool:
            await client.aclose()
    return load


def _row_size(bench: Workbench) -> int:
    records = bench.container.store.notifications(0, 2000)
    return round(sum(len(r.raw) for r in records) / len(records)) if records else 1000


def insert_commit_baseline(url: str, row_size: int, rows: int, seconds: float) -> tuple[int, float]:
    """One INSERT + COMMIT per row from one connection; (rows written, seconds)."""
    payload = b"x" * row_size
    table = "bench_insert_commit"
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, body BYTEA)")
            conn.commit()

            def one_pg() -> None:
                conn.execute(f"INSERT INTO {table} (body) VALUES (%s)", (payload,))
                conn.commit()

            return _timed_inserts(one_pg, rows, seconds)
    path = url[len("sqlite:///") :]
    # The event store's recorder: WAL journal, SQLite's default (FULL) synchronous setting.
    lite = sqlite3.connect(path, isolation_level=None)
    try:
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, body BLOB)")

        def one() -> None:
            lite.execute("BEGIN")
            lite.execute(f"INSERT INTO {table} (body) VALUES (?)", (payload,))
            lite.execute("COMMIT")

        return _timed_inserts(one, rows, seconds)
    finally:
        lite.close()


def _timed_inserts(one: Any, rows: int, seconds: float) -> tuple[int, float]:
    started = time.perf_counter()
    done = 0
    while done < rows and time.perf_counter() - started < seconds:
        one()
        done += 1
    return done, time.perf_counter() - started


def durability(store_kind: str) -> str:
    if store_kind == "sqlite":
        return "SQLite WAL, synchronous FULL (the event store's recorder)"
    return "PostgreSQL defaults (synchronous_commit on)"


def limits(events: int, clients: int) -> tuple[int, float]:
    """(commands, seconds) of one run: whole dossiers for every client, at most 30 s."""
    commands = max(COMMANDS_PER_DOSSIER * clients, events // 10)
    return commands, max(5.0, min(30.0, commands / 200))


def bench_append(
    settings: Settings, events: int, store_url: str | None = None, clients: Sequence[int] = CLIENTS
) -> BenchResult:
    counts = sorted(set(clients))
    if not counts or counts[0] < 1:
        raise ValueError("clients: one or more positive numbers, e.g. 8,32")
    bench = workbench(settings, min(events, HISTORY_EVENTS), store_url=store_url)
    try:
        url = bench.settings.resolved_event_store_url
        size = _row_size(bench)
        raw_limit, raw_seconds_limit = limits(events, counts[-1])
        rows, raw_seconds = insert_commit_baseline(url, size, raw_limit, raw_seconds_limit)
        raw_rate = rows / raw_seconds
        # The bare route writes beside the event store: its own file in the run's folder
        # (SQLite), or its own table in the run's database (PostgreSQL).
        bare_url = url if is_postgres(url) else f"sqlite:///{bench.work / 'bare.sqlite'}"
        route = _route(bench)
        runs: dict[int, tuple[Load, Load]] = {}
        with serving(bench, views_out_of_process=True) as api, serving_bare(bare_url, size) as bare_base:
            headers = {"Authorization": f"Bearer {api.token('integration')}"}
            for n in counts:
                commands, seconds = limits(events, n)
                bare = asyncio.run(drive(bare_base, {}, bare_script, n, commands, seconds))
                measured = asyncio.run(drive(api.base, headers, walk(route), n, commands, seconds))
                runs[n] = (measured, bare)
        for n, (measured, bare) in runs.items():
            if measured.ok == 0:
                raise RuntimeError(
                    f"no command succeeded at {n} clients; first failure: {measured.failures[:1]}"
                )
            if bare.ok == 0 or bare.failures:
                raise RuntimeError(f"the bare endpoint failed at {n} clients: {bare.failures[:1]}")
        top, (measured, bare) = counts[-1], runs[counts[-1]]
        per_clients = {
            str(n): {
                "commands_per_s": round(m.rate, 1),
                "bare_per_s": round(b.rate, 1),
                "ratio": round(m.rate / b.rate, 4),
                "ratio_to_raw_inserts": round(m.rate / raw_rate, 4),
                "p50_ms": m.ms(50),
                "p99_ms": m.ms(99),
                "bare_p50_ms": b.ms(50),
                "bare_p99_ms": b.ms(99),
                "commands": m.ok,
                "bare_requests": b.ok,
                "seconds": round(m.seconds, 2),
                "bare_seconds": round(b.seconds, 2),
                "errors_5xx": m.errors_5xx,
                "errors_4xx": m.errors_4xx,
                "no_answer": m.statuses.get(0, 0),
                "first_failure": m.failures[0] if m.failures else None,
            }
            for n, (m, b) in runs.items()
        }
        errors_5xx = sum(m.errors_5xx for m, _ in runs.values())
        p99 = measured.ms(99)
        ratio = measured.rate / bare.rate
        return BenchResult(
            name="append",
            value=measured.rate,
            unit="commands/s",
            baseline=bare.rate,
            target_ratio=0.5,
            params={
                "clients": counts,
                "headline_clients": top,
                "commands": measured.ok,
                "limit_commands": limits(events, top)[0],
                "limit_seconds": limits(events, top)[1],
                "store": bench.store_kind,
                "history_events": bench.events,
                "row_bytes": size,
                "views": "out of process (Kafka mode: the command appends to the outbox)",
                "baseline": "bare endpoint: same uvicorn settings, FastAPI, no middleware, one INSERT + "
                "COMMIT per request; same clients",
                "durability": durability(bench.store_kind),
                "bare_store": "own file in the run's folder" if bench.store_kind == "sqlite" else "own table",
                "bare_connections": "one, serialised" if bench.store_kind == "sqlite" else "pool of 10",
            },
            extra={
                "p50_ms": measured.ms(50),
                "p99_ms": p99,
                "p99_target_ms": P99_TARGET_MS,
                "p99_met": p99 < P99_TARGET_MS,
                "errors_5xx": errors_5xx,
                "no_5xx": errors_5xx == 0,
                "all_targets_met": ratio >= 0.5 and p99 < P99_TARGET_MS and errors_5xx == 0,
                "per_clients": per_clients,
                "raw_insert_commit_per_s": round(raw_rate, 1),
                "ratio_to_raw_inserts": round(measured.rate / raw_rate, 4),
                "raw_rows": rows,
            },
        )
    finally:
        bench.close()
