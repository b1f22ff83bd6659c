"""What every view store shares: upserts, counters kept as additive deltas, and copying the
rows of a shard's store into the view store (parallel rebuilds).

A view writes each batch as sets: one `executemany` per table. Counters (per bucket of
days) are never read back to be written: a batch adds its deltas with
`INSERT … ON CONFLICT … DO UPDATE SET c = c + excluded.c`, and a row that falls back to
zero in every column is deleted, so a live view and a rebuild hold the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from gateways.sql import Database, Tx


def upsert(table: str, columns: Sequence[str], key: Sequence[str], add: bool = False) -> str:
    """An insert that updates on conflict: sets the new values, or adds them (counters)."""
    rest = [c for c in columns if c not in key]
    sets = [f"{c} = {table}.{c} + excluded.{c}" if add else f"{c} = excluded.{c}" for c in rest]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
    )


# From this many rows, PostgreSQL gets a set through COPY and one INSERT … SELECT.
STAGE_FROM = 200


class Upsert:
    """`upsert` for a set of rows: `executemany` (SQLite, small sets), or on PostgreSQL COPY
    into a temporary staging table and one `INSERT … SELECT … ON CONFLICT` (keys must be
    unique within a set)."""

    def __init__(self, table: str, columns: Sequence[str], key: Sequence[str], add: bool = False) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.statement = upsert(table, columns, key, add)
        rest = [c for c in columns if c not in key]
        sets = [f"{c} = {table}.{c} + excluded.{c}" if add else f"{c} = excluded.{c}" for c in rest]
        names = ", ".join(columns)
        self.stage = f"stage_{table}"
        self._from_stage = (
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {self.stage} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
        )

    def write(self, tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) < STAGE_FROM or not tx.is_postgres:
            tx.executemany(self.statement, rows)
            return
        tx.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.stage} "
            f"(LIKE {self.table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        tx.copy_rows(self.stage, self.columns, rows)
        tx.execute(self._from_stage)
        tx.execute(f"TRUNCATE {self.stage}")


def insert_rows(tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain inserts of a set: one COPY on PostgreSQL, `executemany` on SQLite."""
    if len(rows) >= STAGE_FROM and tx.is_postgres:
        tx.copy_rows(table, columns, rows)
    else:
        tx.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
        )


class Counters:
    """Deltas of a batch for one counter table: key -> a vector of column deltas."""

    def __init__(self, table: str, key: Sequence[str], columns: Sequence[str]) -> None:
        self.table = table
        self.key = tuple(key)
        self.columns = tuple(columns)
        self.deltas: dict[tuple[Any, ...], list[int]] = {}
        self._add = Upsert(table, (*self.key, *self.columns), self.key, add=True)
        self._delete_zero = (
            f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in self.key)} AND "
            + " AND ".join(f"{c} = 0" for c in self.columns)
        )

    def add(self, key: tuple[Any, ...], index: int, amount: int) -> None:
        vector = self.deltas.get(key)
        if vector is None:
            vector = self.deltas[key] = [0] * len(self.columns)
        vector[index] += amount

    def write(self, tx: Tx) -> None:
        """Add the deltas to the stored rows (one statement for all), then drop rows back at zero."""
        moved: Mapping[tuple[Any, ...], list[int]] = {k: v for k, v in self.deltas.items() if any(v)}
        self._add.write(tx, [[*key, *vector] for key, vector in moved.items()])
        # Only a negative delta can bring a row back to zero.
        tx.executemany(self._delete_zero, [list(key) for key, vector in moved.items() if min(vector) < 0])
        self.deltas = {}


S = TypeVar("S")

# Per-dossier states of open dossiers a view holds between flushes and transactions, at most
# (ended ones are let go at every flush).
HELD_LIMIT = 50_000
# A view whose states never end holds those of the dossiers met within this many events (a
# rebuild's flush interval: gateways/views/runtime.py, FLUSH_EVENTS).
RECENT_EVENTS = 10_000
# Ids of dossiers let go during a rebuild that are remembered (so the others need no read-back):
# past this many the filter would answer "maybe" too often, and everything not held is read back.
DROPPED_LIMIT = 1_000_000


class IdFilter:
    """A set of ids in fixed memory (a Bloom filter of 2**22 bits, two probes, 512 KiB): `in`
    is always true for an id added, and true for one never added with a probability that
    grows with the ids added (about 0.03 % at 40,000, 1.8 % at 300,000, 14 % at 1,000,000).
    It answers "might this id have a stored row?": a wrong yes costs a read that finds
    nothing, never a wrong answer."""

    BITS = 1 << 22

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)
        self.count = 0

    def add(self, key: str) -> None:
        h = hash(key)
        bits = self.bits
        for i in (h & (self.BITS - 1), (h >> 22) & (self.BITS - 1)):
            bits[i >> 3] |= 1 << (i & 7)
        self.count += 1

    def update(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        h = hash(key)
        bits = self.bits
        i, j = h & (self.BITS - 1), (h >> 22) & (self.BITS - 1)
        return bool(bits[i >> 3] & (1 << (i & 7))) and bool(bits[j >> 3] & (1 << (j & 7)))


class Held(Generic[S]):
    """The per-dossier states a view holds (see gateways/views/runtime.py, `HeldView`).

    `known` maps each dossier met to its state as folded so far (None: none, or none
    stored); `stored` keeps, for each dossier changed since the last flush, the state the
    store holds, so a flush writes the difference. With `empty`, a dossier not known has
    no row in the store (right after a reset), so nothing is read back. With `recent`, a
    state not folded within the last `recent` events is let go at the next `trim`, ended or
    not: what is held is bounded by the events of that window, not by the history.
    """

    def __init__(
        self, ended: Callable[[S], bool], limit: int = HELD_LIMIT, recent: int | None = None
    ) -> None:
        self.known: dict[str, S | None] = {}
        self.stored: dict[str, S | None] = {}
        self.empty = False
        # With `empty`: the dossiers let go since the reset (their rows are in the store).
        self.dropped = IdFilter()
        self.ended = ended
        self.limit = limit
        self.recent = recent
        self.clock = 0  # events folded (with `recent`)
        # With `recent`: the clock when each dossier held was last folded, the oldest first.
        self.folded: dict[str, int] = {}

    def before(self, ids: Iterable[str], load: Callable[[list[str]], Mapping[str, S]]) -> dict[str, S | None]:
        """The states of `ids`, read from the store (`load`) only for those not held."""
        known = self.known
        missing = [d for d in ids if d not in known]
        if missing:
            asked = [d for d in missing if d in self.dropped] if self.empty else missing
            loaded: Mapping[str, S] = load(asked) if asked else {}
            for d in missing:
                known[d] = loaded.get(d)
        return known

    def after(self, states: Mapping[str, S | None], events: int = 0) -> None:
        """The states a batch of `events` events folded (they replace what was known)."""
        known, stored = self.known, self.stored
        for d, state in states.items():
            old = known.pop(d, None)
            if d not in stored:
                stored[d] = old
            known[d] = state  # re-inserted: the most recently used go last
        if self.recent is not None:
            self.clock = now = self.clock + events
            folded = self.folded
            for d in states:
                folded.pop(d, None)
                folded[d] = now

    def changes(self) -> list[tuple[str, S | None, S | None]]:
        """(dossier, stored state, state now) of every dossier changed since the last call."""
        known = self.known
        out = [(d, old, known.get(d)) for d, old in self.stored.items()]
        self.stored = {}
        return out

    def trim(self) -> None:
        """After a flush: let go of ended dossiers (a late event reads one back) and, with
        `recent`, of those not folded within the last `recent` events; then hold at most
        `limit` states, the least recently used going first. Memory stays with the open (or
        recent) dossiers, not with the history."""
        known, ended = self.known, self.ended
        going = {d for d, state in known.items() if state is None or ended(state)}
        if self.recent is not None:
            horizon, folded = self.clock - self.recent, self.folded
            going.update(d for d in known if folded.get(d, horizon) <= horizon)
        gone = [d for d in known if d in going]
        if len(known) - len(gone) > self.limit:
            gone += [d for d in known if d not in going][: len(known) - len(gone) - self.limit // 2]
        if self.recent is not None:
            for d in gone:
                self.folded.pop(d, None)
        for d in gone:
            del known[d]
        if self.empty:
            self.dropped.update(gone)
            if self.dropped.count > DROPPED_LIMIT:
                self.empty = False  # read back whatever is not held from now on
                self.dropped = IdFilter()

    def forget(self, empty: bool = False) -> None:
        self.known = {}
        self.stored = {}
        self.folded = {}
        self.empty = empty
        if self.dropped.count:
            self.dropped = IdFilter()


def boolean_columns(schema: Sequence[str], table: str) -> frozenset[str]:
    """The BOOLEAN columns of `table` in a view's DDL (SQLite hands them back as 0/1)."""
    for statement in schema:
        found = re.match(rf"\s*CREATE TABLE IF NOT EXISTS {table} \((.*)\)\s*$", statement, re.DOTALL)
        if found:
            return frozenset(re.findall(r"(\w+) BOOLEAN", found.group(1)))
    return frozenset()


def rows_of(source: Database, table: str, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every row of a table of a SQLite view store, a chunk at a time (memory stays flat)."""
    last = 0
    while True:
        rows = source.query(
            f"SELECT rowid AS rowid_, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, chunk)
        )
        if not rows:
            return
        last = int(rows[-1]["rowid_"])
        for row in rows:
            del row["rowid_"]
            yield row


def copy_rows(tx: Tx, source: Database, table: str, schema: Sequence[str], chunk: int = 5000) -> int:
    """Append every row of `table` in a SQLite store to the same table through `tx`."""
    booleans = boolean_columns(schema, table)
    batch: list[list[Any]] = []
    statement = ""
    copied = 0
    for row in rows_of(source, table, chunk):
        if not statement:
            columns = list(row)
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        batch.append([bool(v) if k in booleans and v is not None else v for k, v in row.items()])
        if len(batch) >= chunk:
            tx.executemany(statement, batch)
            copied += len(batch)
            batch = []
    if batch:
        tx.executemany(statement, batch)
        copied += len(batch)
    return copied
