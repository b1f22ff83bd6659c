"""`bench append`: dossier commands/s through the HTTP API from another process, with p50/p99.

Eight clients (asyncio, one connection each) walk dossiers through receive → handoff →
accept → decide → handoff back → accept → result ready → result returned, as the
integration role, until `commands` are done or `seconds` have passed. The API runs as
with Kafka: a command appends to the store (the outbox) and the views are fed by other
processes. The baseline, in the same run and the same database with the same durability
settings: one `INSERT` + `COMMIT` per row of the stored events' mean size, from one
connection — what one command must at least cost when nothing is batched.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateways.bench.api import Api, percentile, serving
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench, is_postgres, workbench
from gateways.settings import Settings
from gateways.simulation.world import Reach

CLIENTS = 8
COMMANDS_PER_DOSSIER = 8
HISTORY_EVENTS = 20_000  # what the store holds before the clients start


@dataclass
class Load:
    commands: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, one per command
    failures: list[str] = field(default_factory=list)
    done: int = 0


def _route(bench: Workbench) -> tuple[str, str, str]:
    """(procedure, desk, department) of a commune → department → commune procedure in force now."""
    world_codes = [p for p in bench.container.catalogue.procedures() if p.code.endswith("-2025")]
    for procedure in world_codes:
        route = procedure.route
        if len(route) == 3 and route[0].agency_code == route[2].agency_code:
            return procedure.code, route[0].agency_code, route[1].agency_code
    raise RuntimeError(f"no {Reach.DEPARTMENT.value}-level procedure in the workload's catalogue")


async def _client(
    client: httpx.AsyncClient, load: Load, deadline: float, route: tuple[str, str, str], n: int
) -> None:
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
    body = {
        "procedure_code": procedure,
        "channel": "direct",
        "receiving_agency_code": desk,
        "applicant": {"name": f"Công dân {n}", "id_number": f"0792{n:08d}"},
    }

    async def send(path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if load.done >= load.commands or time.perf_counter() > deadline:
            return None
        load.done += 1
        started = time.perf_counter()
        response = await client.post(path, json=payload)
        load.latencies.append(time.perf_counter() - started)
        if response.status_code >= 300:
            load.failures.append(f"{path}: {response.status_code} {response.text[:200]}")
            return None
        result: dict[str, Any] = response.json()
        return result

    while True:
        created = await send("/api/v1/dossiers", body)
        if created is None:
            return
        for path, payload in steps:
            if await send(f"/api/v1/dossiers/{created['id']}/{path}", payload) is None:
                return


async def drive(api: Api, route: tuple[str, str, str], commands: int, seconds: float) -> Load:
    load = Load(commands, seconds)
    headers = {"Authorization": f"Bearer {api.token('integration')}"}
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=api.base, headers=headers, timeout=30.0, limits=httpx.Limits(max_connections=CLIENTS)
    ) as client:
        await asyncio.gather(*(_client(client, load, deadline, route, n) for n in range(CLIENTS)))
    load.seconds = time.perf_counter() - started
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


def bench_append(settings: Settings, events: int, store_url: str | None = None) -> BenchResult:
    commands = max(COMMANDS_PER_DOSSIER * CLIENTS, events // 10)
    seconds = max(5.0, min(30.0, commands / 200))
    bench = workbench(settings, min(events, HISTORY_EVENTS), store_url=store_url)
    try:
        url = bench.settings.resolved_event_store_url
        size = _row_size(bench)
        rows, base_seconds = insert_commit_baseline(url, size, commands, seconds)
        route = _route(bench)
        with serving(bench, views_out_of_process=True) as api:
            load = asyncio.run(drive(api, route, commands, seconds))
        if load.failures:
            raise RuntimeError(f"{len(load.failures)} commands failed, first: {load.failures[0]}")
        latencies = sorted(load.latencies)
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        return BenchResult(
            name="append",
            value=len(latencies) / load.seconds,
            unit="commands/s",
            baseline=rows / base_seconds,
            target_ratio=0.5,
            params={
                "clients": CLIENTS,
                "commands": len(latencies),
                "limit_commands": commands,
                "limit_seconds": seconds,
                "store": bench.store_kind,
                "history_events": bench.events,
                "row_bytes": size,
                "views": "out of process (Kafka mode: the command appends to the outbox)",
                "durability": "SQLite WAL, synchronous FULL"
                if bench.store_kind == "sqlite"
                else "PostgreSQL defaults",
            },
            extra={
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "p99_target_ms": 50,
                "p99_met": p99 < 50,
                "baseline_rows": rows,
            },
        )
    finally:
        bench.close()
