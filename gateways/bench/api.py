"""The API of a benchmark run, served by a child process on loopback, the bare endpoint that is
`bench append`'s baseline, and what clients share."""

from __future__ import annotations

import contextlib
import math
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from gateways.auth import issue_token
from gateways.bench.child import free_port, running, stop, wait_for_http, write_settings
from gateways.bench.workload import Workbench, derive
from gateways.settings import Settings

# Only ever loopback: the benchmark's clients never send a request anywhere else.
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Api:
    base: str
    settings: Settings

    def token(self, role: str, agency: str | None = None) -> str:
        from gateways.bootstrap import system_clock
        from gateways.keys import Keyring

        secret = Keyring(self.settings).jwt_secret
        return issue_token(
            secret,
            role=role,
            sub=f"bench-{role}",
            agency_code=agency,
            now=system_clock(),
            ttl=timedelta(hours=2),
        )


@contextlib.contextmanager
def serving(bench: Workbench, *, views_out_of_process: bool) -> Iterator[Api]:
    """The API on the run's stores until the block ends.

    `views_out_of_process`: as with Kafka, commands only append to the store (the outbox)
    and the views are fed by other processes; otherwise views follow in the request.
    """
    settings = bench.settings
    if views_out_of_process and not settings.kafka_bootstrap:
        # Nothing connects to this address: it only switches the in-process view feed off.
        settings = derive(settings, kafka_bootstrap=f"{HOST}:9")
    settings_file = write_settings(settings, bench.work / "api-settings.json")
    port = free_port()
    base = f"http://{HOST}:{port}"
    with running("serve", settings_file, str(port)) as child:
        wait_for_http(base, child)
        yield Api(base, settings)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


# -- the bare endpoint: the same server stack without the application ------------------------
#
# `bench append`'s baseline: a FastAPI app on uvicorn with the API's uvicorn settings and no
# middleware, one synchronous POST route (run in the same thread pool as the API's command
# routes) that parses a JSON body and does one INSERT + COMMIT of a row the size of a stored
# event, with the event store's durability: SQLite in WAL mode with the default (FULL)
# synchronous setting, from one connection (SQLite has one writer; a lock keeps the
# threads from spinning on its busy handler); PostgreSQL with its defaults
# (synchronous_commit on), from a pool as large as the application's.

BARE_PATH = "/bare"
BARE_TABLE = "bench_bare_route"


def bare_inserter(url: str, row_size: int) -> tuple[Callable[[], int], Callable[[], None]]:
    """(insert one row and commit → its id, close)."""
    payload = b"x" * row_size
    if urlsplit(url).scheme in ("postgresql", "postgres"):
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(url, min_size=1, max_size=10, open=True)
        with pool.connection() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} (id BIGSERIAL PRIMARY KEY, body BYTEA)")

        def insert_pg() -> int:
            with pool.connection() as conn:  # commits when the block ends
                row = conn.execute(
                    f"INSERT INTO {BARE_TABLE} (body) VALUES (%s) RETURNING id", (payload,)
                ).fetchone()
            return int(row[0]) if row else 0

        return insert_pg, pool.close
    lite = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None, check_same_thread=False)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute(f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} (id INTEGER PRIMARY KEY, body BLOB)")
    lock = threading.Lock()

    def insert_lite() -> int:
        with lock:
            lite.execute("BEGIN")
            cursor = lite.execute(f"INSERT INTO {BARE_TABLE} (body) VALUES (?)", (payload,))
            lite.execute("COMMIT")
        return int(cursor.lastrowid or 0)

    return insert_lite, lite.close


def bare_app(url: str, row_size: int) -> Any:
    from fastapi import FastAPI

    insert, close = bare_inserter(url, row_size)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            close()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.post(BARE_PATH, status_code=201)
    def bare(body: dict[str, Any]) -> dict[str, int]:
        return {"id": insert()}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextlib.contextmanager
def serving_bare(url: str, row_size: int) -> Iterator[str]:
    """The bare endpoint in a child process until the block ends; yields its base URL."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    child = subprocess.Popen(
        [sys.executable, "-m", "gateways.bench.api", "bare", url, str(port), str(row_size)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(base, child)
        yield base
    finally:
        stop(child)


def _serve_bare(url: str, port: int, row_size: int) -> None:
    import uvicorn

    # The API's own uvicorn settings (gateways/bench/child.py `serve`).
    uvicorn.run(bare_app(url, row_size), host=HOST, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    if sys.argv[1:2] != ["bare"]:
        raise SystemExit("usage: python -m gateways.bench.api bare STORE_URL PORT ROW_BYTES")
    _serve_bare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
