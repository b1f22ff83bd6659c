"""A thin database handle for the project's own tables (SQLite or PostgreSQL).

Statements are written once with `?` placeholders and portable SQL; the
PostgreSQL dialect gets `%s`. Event streams are not here: they live in the
`eventsourcing` recorders (gateways/eventstore).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

# One PostgreSQL advisory lock key for every process's schema statements: concurrent
# CREATE TABLE IF NOT EXISTS in two sessions fails with "tuple concurrently updated".
SCHEMA_LOCK_KEY = 0x6C74_5343  # "ltSC"


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold the schema lock (PostgreSQL only) while another library creates its tables."""
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        yield
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def drop_database(url: str, wait_seconds: float = 120.0) -> bool:
    """Drop the PostgreSQL database of `url`, ending its sessions (connected to the server's
    `postgres` database). An autovacuum worker in the database is another role's session: ending it
    takes pg_signal_backend (deploy/postgres grants it); without it, wait for the worker to finish.
    False if it was still held after `wait_seconds`."""
    import psycopg

    server, name = url.rsplit("/", 1)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with psycopg.connect(server + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return True
        except psycopg.errors.InsufficientPrivilege:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Database:
    """Connections per thread (SQLite) or from a pool (PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = urlsplit(url).scheme
        self.is_postgres = scheme in ("postgresql", "postgres")
        if self.is_postgres:
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                url, min_size=1, max_size=10, kwargs={"row_factory": dict_row}, open=True
            )
        elif scheme == "sqlite":
            self._path = url[len("sqlite:///") :]
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._local = threading.local()
            self._all: list[sqlite3.Connection] = []
            self._all_lock = threading.Lock()
        else:
            raise ValueError(f"unsupported database URL '{scheme}://…'")

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.is_postgres else statement

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.is_postgres:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield Tx(self, cur)
        else:
            lite = self._sqlite()
            lite.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self, lite.cursor())
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if self.is_postgres:
            with self._pool.connection() as conn, conn.cursor() as cur:
                cur.execute(self.sql(statement), params)
                return [dict(r) for r in cur.fetchall()]
        rows = self._sqlite().execute(statement, params).fetchall()
        return [dict(r) for r in rows]

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.transaction() as tx:
            tx.execute(statement, params)

    def executescript(self, statements: Sequence[str]) -> None:
        """Schema statements, serialised across processes on PostgreSQL."""
        with self.transaction() as tx:
            if self.is_postgres:
                tx.query("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))
            for statement in statements:
                tx.execute(statement)

    def close(self) -> None:
        if self.is_postgres:
            self._pool.close()
        else:
            with self._all_lock:
                for conn in self._all:
                    conn.close()
                self._all.clear()
            self._local = threading.local()


class Tx:
    def __init__(self, db: Database, cursor: Any) -> None:
        self._db = db
        self._cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._db.sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._db.sql(statement), rows)

    @property
    def is_postgres(self) -> bool:
        return self._db.is_postgres

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL only: append `rows` to `table` with one COPY (a set in one round trip)."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self._cursor.execute(self._db.sql(statement), params)
        return [dict(r) for r in self._cursor.fetchall()]

    def select_in(
        self, statement: str, values: Sequence[Any], params: Sequence[Any] = (), chunk: int = 500
    ) -> list[dict[str, Any]]:
        """`select_in` inside this transaction."""
        return select_in(self.query, statement, values, params, chunk)


def select_in(
    query: Callable[[str, Sequence[Any]], list[dict[str, Any]]],
    statement: str,
    values: Sequence[Any],
    params: Sequence[Any] = (),
    chunk: int = 500,
) -> list[dict[str, Any]]:
    """Run `statement` (with one `IN ({marks})`, after `params`) over `values` in chunks.

    Each chunk's list is padded with its last value to a power of two (or `chunk`): a
    repeated value changes nothing in an IN list, and a statement takes a dozen texts
    instead of one per length. Each text is prepared and kept by the driver (on SQLite up to
    128 per connection, a 500-value one holding tens of KiB): one per length filled that
    cache over a long rebuild, and memory grew with the history."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(values), chunk):
        part = list(values[start : start + chunk])
        part += [part[-1]] * (min(chunk, 1 << (len(part) - 1).bit_length()) - len(part))
        out.extend(query(statement.format(marks=",".join("?" * len(part))), [*params, *part]))
    return out
