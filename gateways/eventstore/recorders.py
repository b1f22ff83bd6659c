"""The `eventsourcing` recorders, extended to write rows of the project's own tables in the
same transaction as the events they go with, and (SQLite) to insert a set of events with
one `executemany`.

`insert_events(stored, rows=[(sql, params), …])`: the idempotency record of a command, the
dossier's PII data key, … commit together with the events or not at all. Statements are
written with `?` placeholders; the PostgreSQL recorder gets `%s`.

Notification ids (docs/decisions.md, entry 117):

- SQLite: the id is the table's rowid. The package inserts row by row to read each
  `lastrowid`; here the events of a transaction go in with one `executemany` and their ids
  are read back once. In the write transaction (SQLite has one writer at a time) every
  inserted row takes the largest rowid plus one (the table has no AUTOINCREMENT and its
  rowids are far below 2**63), so a set of n events gets the n ids ending at the largest
  rowid after the insert; the first event's rowid, read by its key, is checked to be the
  first of them (if it is not, the transaction is rolled back and nothing is written).
  Ids rise in commit order as before: the write transaction serialises the writers and a
  reader never sees an id before the transaction that holds it commits.
- PostgreSQL: the package already inserts a set of events with one statement (`unnest` of
  an array) after taking the table's EXCLUSIVE lock, so ids are given out in commit order
  (no id becomes visible after a higher one was read); unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

Row = tuple[str, Sequence[Any]]


def grouped(rows: Sequence[Row]) -> list[tuple[str, list[Sequence[Any]]]]:
    """Rows by statement, in the order each statement first appears (one executemany each).
    Callers list a statement that must run first (a DELETE before its INSERT) first."""
    by_statement: dict[str, list[Sequence[Any]]] = {}
    for statement, params in rows:
        by_statement.setdefault(statement, []).append(params)
    return list(by_statement.items())


class RowidsNotConsecutive(RuntimeError):
    """The rowids SQLite gave a set of events are not the n ids ending at the largest (the
    transaction is rolled back: nothing is written)."""


class SQLiteRecorderWithRows(SQLiteApplicationRecorder):
    # Sets of at least this many events go in with one executemany (row by row below it:
    # one event needs no second statement to read its id).
    set_based_from = 2

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) >= self.set_based_from:
            ids: Sequence[int] | None = self._insert_set(c, stored_events)
        else:
            ids = super()._insert_events(c, stored_events, **kwargs)
        for statement, params in grouped(kwargs.get("rows") or ()):
            c.executemany(statement, params)
        return ids

    def _insert_set(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One executemany, then the ids read back (see the module docstring)."""
        hexes: dict[Any, str] = {}  # a stream's events share the originator
        params = []
        for s in stored_events:
            originator = s.originator_id
            key = hexes.get(originator)
            if key is None:
                key = hexes[originator] = originator.hex if isinstance(originator, UUID) else originator
            params.append((key, s.originator_version, s.topic, s.state))
        c.executemany(self.insert_events_statement, params)
        table = self.events_table_name
        c.execute(f"SELECT MAX(rowid) AS last FROM {table}")
        last = int(c.fetchone()["last"])
        first = last - len(stored_events) + 1
        head = stored_events[0]
        c.execute(
            f"SELECT rowid AS id FROM {table} WHERE originator_id=? AND originator_version=?",
            (params[0][0], head.originator_version),
        )
        if int(c.fetchone()["id"]) != first:
            raise RowidsNotConsecutive(f"{len(stored_events)} events do not end at rowid {last}")
        return list(range(first, last + 1))


class PostgresRecorderWithRows(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No server-side prepared statements on the event store's connections (docs/decisions.md,
        # entry 137): in a pipeline whose transaction a conflicting append rolls back, the
        # driver's record of what the server has prepared can fall out of step with the server,
        # and a later append on that connection failed with "prepared statement … does not
        # exist" (a 500) instead of committing or meeting its conflict (a 409). Set on every
        # connection the store takes from its pool (the pool is open and filling already).
        datastore = self.datastore
        take = datastore.get_connection

        @contextmanager
        def unprepared() -> Iterator[Any]:
            with take() as conn:
                conn.prepare_threshold = None
                yield conn

        datastore.get_connection = unprepared  # type: ignore[method-assign]

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # Runs inside the recorder's transaction, before the events are inserted.
        super()._insert_events(curs, stored_events, **kwargs)
        for statement, params in grouped(kwargs.get("rows") or ()):
            curs.executemany(statement.replace("?", "%s"), params)


SQLITE_TOPIC = f"{__name__}:SQLiteRecorderWithRows"
POSTGRES_TOPIC = f"{__name__}:PostgresRecorderWithRows"
