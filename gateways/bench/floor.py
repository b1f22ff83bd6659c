"""The floor under a projection benchmark: what writing the views' rows alone costs, measured
in the run, and the highest ratio to the baseline that any implementation writing them could reach.

Every row a view holds at the end of a run was written at least once (a live projector writes
many of them more than once). `write_floor` writes every such row once more into empty tables of
the same schema, indexes included, in ONE transaction per way, with nothing else done, in the
order of their primary keys (the cheapest), two ways (SQLite: scratch files attached beside the
view store; PostgreSQL: scratch schemas):
- **from Python** (`from_python_seconds`): the rows as Python values handed to the database, as a
  projector whose folds run in Python must hand them: `executemany` of plain INSERTs (SQLite), one
  COPY per table (PostgreSQL). No fold, no decode, no row built: the values are ready.
- **in the engine** (`seconds`): `INSERT INTO … SELECT * FROM` the view's table: nothing crosses
  from Python at all, the least a design folding inside the database (SQL) would pay.

`ceiling(baseline, extra)`: a path that must do the baseline's work (fetch the records; read and
parse them) and at least `extra` seconds more reaches at most `baseline / (baseline + extra)` of
the baseline's rate, however its own code is written. Where that is below a target, no
implementation of that kind writing the same rows in one process meets it.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateways.eventstore.store import EventStore
from gateways.sql import Database
from gateways.views.runtime import View

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
# The seen (dossier, seq) pairs a view store keeps with its rows (one per view and dossier).
RUNTIME_TABLES = ("projection_seqs",)


def view_tables(views: Iterable[View]) -> list[str]:
    """The tables the views' schemas create, then the runtime's table of seen seqs."""
    names = [m.group(1) for view in views for statement in view.schema if (m := _TABLE.search(statement))]
    return list(dict.fromkeys([*names, *RUNTIME_TABLES]))


@dataclass(frozen=True)
class WriteFloor:
    rows: dict[str, int]  # in the view store, by table
    seconds: float  # the rows written once inside the engine
    from_python_seconds: float  # the same rows handed from Python
    copied: dict[str, int]  # found in each scratch copy after its commit (untimed): both the same

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def as_json(self, events: int) -> dict[str, object]:
        per_event = (lambda s: round(s / events * 1e6, 2)) if events else (lambda s: None)
        return {
            "rows": self.total_rows,
            "rows_per_event": round(self.total_rows / events, 3) if events else None,
            "from_python_seconds": round(self.from_python_seconds, 3),
            "from_python_us_per_event": per_event(self.from_python_seconds),
            "engine_seconds": round(self.seconds, 3),
            "engine_us_per_event": per_event(self.seconds),
            "rows_by_table": {k: v for k, v in self.rows.items() if v},
        }


def ceiling(baseline_seconds: float, extra_seconds: float) -> float:
    """The best ratio to the baseline of a path doing its work and `extra_seconds` more."""
    return round(baseline_seconds / (baseline_seconds + extra_seconds), 4)


def parse_seconds(store: EventStore, page: int = 5_000) -> tuple[int, float]:
    """(records, seconds) of `orjson.loads` over every stored envelope: what any reader of the
    records must at least do to see their fields (timed apart from the reading)."""
    position, count, spent = 0, 0, 0.0
    loads = orjson.loads
    while records := store.notifications(position, page):
        raws = [r.raw for r in records]
        started = time.perf_counter()
        for raw in raws:
            loads(raw)
        spent += time.perf_counter() - started
        count += len(raws)
        position = records[-1].notification_id or position
    return count, spent


def write_floor(db: Database, tables: Sequence[str], scratch: Path) -> WriteFloor:
    """Every row of `tables` in `db`, written once more into scratch copies of their schema, both
    ways: timed. `scratch`: a file name the SQLite copies are made beside (and removed)."""
    if db.is_postgres:
        return _postgres_floor(db, tables)
    return _sqlite_floor(db, tables, scratch)


_DDL = "SELECT sql FROM main.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC"
_CREATE = re.compile(r"^(CREATE (?:UNIQUE )?(?:TABLE|INDEX)(?: IF NOT EXISTS)?) (\w+)", re.IGNORECASE)


def _in_schema(ddl: str, schema: str) -> str:
    """A table's or index's DDL, creating it in the attached `schema` (its table stays unqualified:
    SQLite resolves an index's table in the index's own schema)."""
    return _CREATE.sub(lambda m: f"{m.group(1)} {schema}.{m.group(2)}", ddl, count=1)


def _sqlite_floor(db: Database, tables: Sequence[str], scratch: Path) -> WriteFloor:
    scratch.parent.mkdir(parents=True, exist_ok=True)
    files = {
        name: scratch.with_name(f"{scratch.stem}-{name}{scratch.suffix}") for name in ("engine", "python")
    }
    conn = sqlite3.connect(db.url[len("sqlite:///") :], isolation_level=None)
    try:
        rows = {t: conn.execute(f'SELECT COUNT(*) FROM main."{t}"').fetchone()[0] for t in tables}
        # The scratch files are written as the view store is (gateways.sql.Database): WAL, NORMAL.
        for name, path in files.items():
            conn.execute(f"ATTACH DATABASE ? AS {name}", (str(path),))
            conn.execute(f"PRAGMA {name}.journal_mode=WAL")
            conn.execute(f"PRAGMA {name}.synchronous=NORMAL")
            for table in tables:
                for (ddl,) in conn.execute(_DDL, (table,)).fetchall():
                    conn.execute(_in_schema(ddl, name))
            _same_indexes(conn, name, tables)
        for table in tables:  # the rows in key order, read before the clock starts
            conn.execute(
                f'CREATE TEMP TABLE "src_{table}" AS SELECT * FROM main."{table}"{_sqlite_order(conn, table)}'
            )
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in tables:
            conn.execute(f'INSERT INTO engine."{table}" SELECT * FROM temp."src_{table}"')
        conn.execute("COMMIT")
        engine = time.perf_counter() - started
        python = 0.0
        conn.execute("BEGIN IMMEDIATE")
        for table in tables:
            found = conn.execute(f'SELECT * FROM temp."src_{table}"').fetchall()
            if found:
                insert = f'INSERT INTO python."{table}" VALUES ({", ".join("?" * len(found[0]))})'
                started = time.perf_counter()
                conn.executemany(insert, found)
                python += time.perf_counter() - started
            del found
        started = time.perf_counter()
        conn.execute("COMMIT")
        python += time.perf_counter() - started
        copied = {t: _same_count(conn, t) for t in tables}
        for name in files:
            conn.execute(f"DETACH DATABASE {name}")
    finally:
        conn.close()
        for path in files.values():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return WriteFloor(rows, engine, python, copied)


def _same_indexes(conn: sqlite3.Connection, schema: str, tables: Sequence[str]) -> None:
    """The scratch copy has every index of the tables (a copy without them would write cheaper)."""
    marks = ", ".join("?" * len(tables))
    count = f"SELECT COUNT(*) FROM {{}}.sqlite_master WHERE type = 'index' AND tbl_name IN ({marks})"
    source, copy = (conn.execute(count.format(s), tuple(tables)).fetchone()[0] for s in ("main", schema))
    if source != copy:
        raise RuntimeError(f"the floor's copy has {copy} indexes of the views' {source}")


def _sqlite_order(conn: sqlite3.Connection, table: str) -> str:
    """` ORDER BY` the table's primary key: rows arrive in key order, the cheapest to insert (a
    view written live holds them in the order they were first written, not by key)."""
    info = conn.execute(f'PRAGMA main.table_info("{table}")').fetchall()
    key = [f'"{row[1]}"' for row in sorted(info, key=lambda row: row[5]) if row[5]]
    return f" ORDER BY {', '.join(key)}" if key else ""


def _postgres_order(db: Database, table: str) -> str:
    found = db.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (f"public.{table}",),
    )
    key = [f'"{r["attname"]}"' for r in found]
    return f" ORDER BY {', '.join(key)}" if key else ""


def _same_count(conn: sqlite3.Connection, table: str) -> int:
    engine, python = (
        conn.execute(f'SELECT COUNT(*) FROM {s}."{table}"').fetchone()[0] for s in ("engine", "python")
    )
    if engine != python:
        raise RuntimeError(f"floor copies of {table} differ: {engine} and {python} rows")
    return int(engine)


def _postgres_floor(db: Database, tables: Sequence[str]) -> WriteFloor:
    tag = uuid.uuid4().hex[:8]
    engine_schema, python_schema = f"floor_{tag}_engine", f"floor_{tag}_python"
    rows: dict[str, int] = {}
    try:
        with db.transaction() as tx:
            for schema in (engine_schema, python_schema):
                tx.execute(f"CREATE SCHEMA {schema}")
                for table in tables:
                    tx.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
            for table in tables:
                rows[table] = int(tx.query(f"SELECT COUNT(*) AS n FROM public.{table}")[0]["n"])
        order = {table: _postgres_order(db, table) for table in tables}
        with db.transaction() as tx:
            for table in tables:  # the rows in key order, read before the clock starts (not logged)
                source = f"SELECT * FROM public.{table}{order[table]}"
                tx.execute(f"CREATE TEMP TABLE src_{table} ON COMMIT DROP AS {source}")
            started = time.perf_counter()
            for table in tables:
                tx.execute(f"INSERT INTO {engine_schema}.{table} SELECT * FROM src_{table}")
        engine = time.perf_counter() - started  # with the commit
        python = 0.0
        with db.transaction() as tx:
            for table in tables:
                found = tx.query(f"SELECT * FROM public.{table}{order[table]}")
                if found:
                    columns = list(found[0])
                    values = [tuple(r[c] for c in columns) for r in found]
                    started = time.perf_counter()
                    tx.copy_rows(f"{python_schema}.{table}", columns, values)
                    python += time.perf_counter() - started
                del found
            started = time.perf_counter()
        python += time.perf_counter() - started  # the commit
        copied = {}
        for table in tables:
            counts = {
                int(db.query(f"SELECT COUNT(*) AS n FROM {s}.{table}")[0]["n"])
                for s in (engine_schema, python_schema)
            }
            if len(counts) != 1:
                raise RuntimeError(f"floor copies of {table} differ: {sorted(counts)} rows")
            copied[table] = counts.pop()
    finally:
        with db.transaction() as tx:
            for schema in (engine_schema, python_schema):
                tx.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return WriteFloor(rows, engine, python, copied)
