"""The `eventsourcing` recorders, extended to write rows of the project's own tables in the
same transaction as the events they go with.

`insert_events(stored, rows=[(sql, params), …])`: the idempotency record of a command, the
dossier's PII data key, … commit together with the events or not at all. Statements are
written with `?` placeholders; the PostgreSQL recorder gets `%s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class SQLiteRecorderWithRows(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for statement, params in grouped(kwargs.get("rows") or ()):
            c.executemany(statement, params)
        return ids


class PostgresRecorderWithRows(PostgresApplicationRecorder):
    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # Runs inside the recorder's transaction, before the events are inserted.
        super()._insert_events(curs, stored_events, **kwargs)
        for statement, params in grouped(kwargs.get("rows") or ()):
            curs.executemany(statement.replace("?", "%s"), params)


SQLITE_TOPIC = f"{__name__}:SQLiteRecorderWithRows"
POSTGRES_TOPIC = f"{__name__}:PostgresRecorderWithRows"
