"""The dossier index view in SQL: one row per dossier for search, inbox and citizen lookup.

Fed by the view runtime (in process or from Kafka), which writes rows, seen seqs
and the feed position in one transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import (
    ConsultationAnswered,
    ConsultationRequested,
    DocumentAttached,
    HolderSucceeded,
    LegacyCaseRecorded,
    LegacyTraceRecorded,
)
from gateways.sql import Database, Tx, select_in
from gateways.views.runtime import Applied
from gateways.views.toolkit import Held, Upsert, copy_rows
from projections.dossier_index import DossierRow, fold_batch

VIEW = "dossier_index"
_FIELDS = [f.name for f in dataclasses.fields(DossierRow)]
_TIMES = {"received_at", "due_at", "promised_at", "resolved_at", "closed_at", "updated_at"}

# The indexed part of an imported case id: 200 characters are at most 800 bytes of UTF-8.
CASE_KEY = "substr(case_id, 1, 200)"
# Dossiers whose case id is the parameter: the index finds the few that begin alike. (Given
# `case_id = ?` as it is, SQLite's planner scans the table instead; `|| ''` keeps that term
# out of its choice.)
CASE_ID_IS = (
    "dossier_id IN (SELECT dossier_id FROM dossier_case "
    f"WHERE {CASE_KEY} = substr(?, 1, 200) AND case_id || '' = ?)"
)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS dossier_index (dossier_id TEXT PRIMARY KEY, receipt_code TEXT NOT NULL, "
    "procedure_code TEXT NOT NULL, receiving_agency_code TEXT NOT NULL, holder_agency_code TEXT NOT NULL, "
    "status TEXT NOT NULL, status_code INTEGER NOT NULL, last_seq INTEGER NOT NULL, channel TEXT NOT NULL, "
    "received_at TEXT, due_at TEXT, promised_at TEXT, resolved_at TEXT, closed_at TEXT, timeliness TEXT, "
    "pending_handoff_to TEXT, paused BOOLEAN NOT NULL, lookup_secret_hash TEXT NOT NULL, "
    "imported BOOLEAN NOT NULL, updated_at TEXT)",
    "CREATE INDEX IF NOT EXISTS dossier_index_receipt ON dossier_index (receipt_code)",
    "CREATE INDEX IF NOT EXISTS dossier_index_holder ON dossier_index (holder_agency_code, status)",
    # An agency's inbox (open dossiers it holds, or in transit to it) through two index searches
    # instead of a scan of every dossier ever received (101 ms -> 1.2 ms at a million dossiers).
    "CREATE INDEX IF NOT EXISTS dossier_index_open "
    "ON dossier_index (holder_agency_code, closed_at, resolved_at)",
    "CREATE INDEX IF NOT EXISTS dossier_index_pending ON dossier_index (pending_handoff_to)",
    # Dossiers whose every required component has a file, since when (a table of its own, so
    # index tables of earlier releases need no new column).
    "CREATE TABLE IF NOT EXISTS dossier_digitized (dossier_id TEXT PRIMARY KEY, digitized_at TEXT NOT NULL)",
    # Imported history: the case id each dossier had in the legacy log it came from (a table
    # of its own too; a store whose index was built before it holds these after a rebuild).
    "CREATE TABLE IF NOT EXISTS dossier_case (dossier_id TEXT PRIMARY KEY, case_id TEXT NOT NULL)",
    # Indexed on the id's first characters: a legacy log's case id has no length limit, and
    # PostgreSQL refuses an index entry over 2,704 bytes (which stopped the whole view). The
    # earlier index on the whole id goes.
    "DROP INDEX IF EXISTS dossier_case_id",
    f"CREATE INDEX IF NOT EXISTS dossier_case_key ON dossier_case ({CASE_KEY})",
    # The consultations open on each dossier: which agency's opinion it waits for, since when (the
    # consulted agency's inbox lists them; a row goes when that agency answers).
    "CREATE TABLE IF NOT EXISTS dossier_consultation (dossier_id TEXT NOT NULL, agency_code TEXT NOT NULL, "
    "requested_at TEXT NOT NULL, PRIMARY KEY (dossier_id, agency_code))",
    "CREATE INDEX IF NOT EXISTS dossier_consultation_agency ON dossier_consultation (agency_code)",
]
# The tables beside the index rows: one value per dossier, written once (its first), by column.
_SIDE = {"dossier_digitized": "digitized_at", "dossier_case": "case_id"}
_SIDE_INSERT = {
    table: f"INSERT INTO {table} (dossier_id, {column}) VALUES (?, ?) ON CONFLICT (dossier_id) DO NOTHING"
    for table, column in _SIDE.items()
}
_UPSERT = Upsert("dossier_index", _FIELDS, ("dossier_id",))
# Every table of the view, for a clear and a merge.
_TABLES = ("dossier_index", *_SIDE, "dossier_consultation")
_CONSULTATION_PUT = (
    "INSERT INTO dossier_consultation (dossier_id, agency_code, requested_at) VALUES (?, ?, ?) "
    "ON CONFLICT (dossier_id, agency_code) DO UPDATE SET requested_at = excluded.requested_at"
)
_CONSULTATION_DROP = "DELETE FROM dossier_consultation WHERE dossier_id = ? AND agency_code = ?"


def _to_sql(row: DossierRow) -> list[Any]:
    values = []
    for name in _FIELDS:
        value = getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def row_from_sql(data: dict[str, Any]) -> DossierRow:
    kwargs = {}
    for name in _FIELDS:
        value = data[name]
        if name in _TIMES and value is not None:
            value = datetime.fromisoformat(value)
        elif name in ("paused", "imported"):
            value = bool(value)
        kwargs[name] = value
    return DossierRow(**kwargs)


def _rows_by_id(
    query: Callable[[str, Sequence[Any]], list[dict[str, Any]]], ids: Sequence[str]
) -> dict[str, DossierRow]:
    """The index rows of `ids` (those it has), read through `query` (a transaction's or the store's)."""
    found = select_in(query, "SELECT * FROM dossier_index WHERE dossier_id IN ({marks})", ids)
    return {data["dossier_id"]: row_from_sql(data) for data in found}


class DossierIndexView:
    """The dossier index as a view of the runtime (gateways/views/runtime.py)."""

    name = VIEW
    schema = SCHEMA

    def __init__(self) -> None:
        self.held: Held[DossierRow] = Held(lambda row: row.closed_at is not None)
        # Side table -> dossier -> value, until the next flush: when its files were first all
        # there (dossier_digitized), an imported dossier's case id in its legacy log (dossier_case).
        self.side: dict[str, dict[str, str]] = _no_side_rows()
        # (dossier, consulted agency) -> since when its opinion is awaited, or None once answered
        # (the row goes), until the next flush.
        self.consulted: dict[tuple[str, str], str | None] = {}

    def load(self, tx: Tx, ids: Sequence[str]) -> dict[str, DossierRow]:
        return _rows_by_id(tx.query, ids)

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        """Fold the batch into the rows held; `flush` writes them (gateways/views/runtime.py)."""
        ids = sorted({item.dossier_id for item in batch})
        before = self.held.before(ids, lambda missing: self.load(tx, missing))
        self.held.after(fold_batch(before, ((item.dossier_id, item.seq, item.event) for item in batch)))
        for item in batch:
            event = item.event
            if isinstance(event, DocumentAttached) and event.all_components_digitized:
                self.side["dossier_digitized"].setdefault(item.dossier_id, event.occurred_at.isoformat())
            elif isinstance(event, LegacyCaseRecorded | LegacyTraceRecorded):
                self.side["dossier_case"].setdefault(item.dossier_id, event.case_id)
            elif isinstance(event, ConsultationRequested):
                self.consulted[item.dossier_id, event.consulted_agency_code] = event.occurred_at.isoformat()
            elif isinstance(event, ConsultationAnswered):
                self.consulted[item.dossier_id, event.consulted_agency_code] = None
            elif isinstance(event, HolderSucceeded) and event.consulted:
                self._succeed(tx, item.dossier_id, event.from_agency_code, event.to_agency_code)

    def _succeed(self, tx: Tx, dossier_id: str, old: str, new: str) -> None:
        """The ended agency's open consultation passes to its successor, asked when it was asked
        (as the domain's fold: one consultation if the successor was consulted already)."""
        stored = {
            r["agency_code"]: r["requested_at"]
            for r in tx.query(
                "SELECT agency_code, requested_at FROM dossier_consultation "
                "WHERE dossier_id = ? AND agency_code IN (?, ?)",
                (dossier_id, old, new),
            )
        }

        def since(agency: str) -> str | None:
            key = (dossier_id, agency)
            return self.consulted[key] if key in self.consulted else stored.get(agency)

        asked = since(old)
        if asked is None:
            return
        self.consulted[dossier_id, old] = None
        if since(new) is None:
            self.consulted[dossier_id, new] = asked

    def flush(self, tx: Tx) -> None:
        changed = sorted(
            (row for _, old, row in self.held.changes() if row is not None and row != old),
            key=lambda row: row.dossier_id,
        )
        _UPSERT.write(tx, [_to_sql(row) for row in changed])
        for table, rows in self.side.items():
            tx.executemany(_SIDE_INSERT[table], sorted(rows.items()))
        consulted = sorted(self.consulted.items())
        tx.executemany(_CONSULTATION_DROP, [key for key, at in consulted if at is None])
        tx.executemany(_CONSULTATION_PUT, [(*key, at) for key, at in consulted if at is not None])
        self.side = _no_side_rows()
        self.consulted = {}
        self.held.trim()

    def forget(self, empty: bool = False) -> None:
        self.held.forget(empty)
        self.side = _no_side_rows()
        self.consulted = {}

    def clear(self, tx: Tx) -> None:
        for table in _TABLES:
            tx.execute(f"DELETE FROM {table}")

    def merge(self, tx: Tx, shards: Sequence[Database]) -> None:
        """Add the rows of shards rebuilt apart (disjoint sets of dossiers)."""
        for shard in shards:
            for table in _TABLES:
                copy_rows(tx, shard, table, SCHEMA)


def _no_side_rows() -> dict[str, dict[str, str]]:
    return {table: {} for table in _SIDE}


# UTC offsets run from -12:00 to +14:00: a time's text read as a wall clock is at most this
# far from the same instant's wall clock in UTC.
_BEHIND, _AHEAD = timedelta(hours=12), timedelta(hours=14)


def received_between(start: datetime | None, end: datetime | None) -> tuple[list[str], list[str]]:
    """SQL (clauses, parameters) keeping every dossier received in [start, end], and a few
    received up to a day outside it: the index writes each time with the offset it was
    recorded with, so texts compared as texts only narrow the search (an imported log's
    +01:00 against a desk's +07:00). `received_within` then decides on the instants."""
    clauses, params = [], []
    if start is not None:
        # A text at or after this instant's wall clock in UTC, 12 h earlier (seconds kept).
        clauses.append("received_at >= ?")
        params.append(_wall(start - _BEHIND))
    if end is not None:
        # A text before the next second of this instant's wall clock in UTC, 14 h later.
        clauses.append("received_at < ?")
        params.append(_wall(end + _AHEAD + timedelta(seconds=1)))
    return clauses, params


def received_within(row: DossierRow, start: datetime | None, end: datetime | None) -> bool:
    """Whether the dossier was received in [start, end] (instants compared as instants)."""
    at = row.received_at
    if at is None:
        return False
    return (start is None or start <= at) and (end is None or at <= end)


def _wall(instant: datetime) -> str:
    """The UTC wall clock of `instant` to the second, as the index's texts begin."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


_OPEN_AT = (
    "WHERE (holder_agency_code = ? OR pending_handoff_to = ?) AND closed_at IS NULL AND resolved_at IS NULL"
)
# What an open dossier is to the agency whose inbox it is in: handed to it and not accepted
# yet, in hand, or handed by it to another that has not accepted yet.
OPEN_KINDS = ("incoming", "active", "sent")


@dataclasses.dataclass(frozen=True)
class OpenPage:
    rows: list[DossierRow]  # the first due soonest
    totals: dict[str, int]  # every open dossier of the agency by kind (OPEN_KINDS), not only the first


def _open_where(agency_code: str, imported: bool) -> tuple[str, list[Any]]:
    where, params = _OPEN_AT, [agency_code, agency_code]
    if not imported:
        return where + " AND imported = ?", [*params, False]
    return where, params


def _kind(pending_handoff_to: str | None, agency_code: str) -> str:
    if pending_handoff_to is None:
        return "active"
    return "incoming" if pending_handoff_to == agency_code else "sent"


def _open_at(row: DossierRow, agency_code: str) -> bool:
    held = agency_code in (row.holder_agency_code, row.pending_handoff_to)
    return held and row.closed_at is None and row.resolved_at is None


def _due_first(key: dict[str, Any]) -> tuple[bool, float]:
    due = key["due_at"]
    return (due is None, datetime.fromisoformat(due).timestamp() if due is not None else 0.0)


class DossierIndex:
    """Queries of the dossier index: lookup, inbox, search."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def find_by_receipt(self, receipt_code: str) -> DossierRow | None:
        rows = self.db.query("SELECT * FROM dossier_index WHERE receipt_code = ?", (receipt_code,))
        return row_from_sql(rows[0]) if rows else None

    def open_at(
        self, agency_code: str, first: int | None = None, *, imported: bool = True
    ) -> list[DossierRow]:
        """Unresolved dossiers the agency holds or that are in transit to it (`imported`
        False: not those of imported history). With `first`, only the `first` due soonest (no
        due instant last), in that order (see `open_page`)."""
        if first is None:
            where, params = _open_where(agency_code, imported)
            return [row_from_sql(r) for r in self.db.query(f"SELECT * FROM dossier_index {where}", params)]
        return self.open_page(agency_code, first, imported=imported).rows

    def open_page(self, agency_code: str, first: int, *, imported: bool = True) -> OpenPage:
        """The `first` unresolved dossiers of the agency due soonest (no due instant last), and
        how many it has of each kind in all: the due instants of all are read (with what tells
        their kind), the whole rows of the first only (a department's inbox holds thousands)."""
        where, params = _open_where(agency_code, imported)
        keys = self.db.query(
            f"SELECT dossier_id, due_at, pending_handoff_to FROM dossier_index {where}", params
        )
        totals = dict.fromkeys(OPEN_KINDS, 0)
        for key in keys:
            totals[_kind(key["pending_handoff_to"], agency_code)] += 1
        keys.sort(key=_due_first)
        chosen = [k["dossier_id"] for k in keys[:first]]
        found = _rows_by_id(self.db.query, chosen)
        # Read apart from the keys: one that was resolved, closed or moved on meanwhile is left out.
        rows = (found.get(i) for i in chosen)
        return OpenPage([r for r in rows if r is not None and _open_at(r, agency_code)], totals)

    def consulting(
        self, agency_code: str, first: int, *, imported: bool = True
    ) -> tuple[list[tuple[DossierRow, datetime]], int]:
        """The dossiers not closed that wait for the agency's opinion (a consultation asked of it
        and not answered), with when it was asked, the longest waiting first: the `first` of
        them, and how many there are."""
        sql = (
            "SELECT i.*, c.requested_at AS consultation_requested_at FROM dossier_consultation c "
            "JOIN dossier_index i ON i.dossier_id = c.dossier_id "
            "WHERE c.agency_code = ? AND i.closed_at IS NULL"
        )
        params: list[Any] = [agency_code]
        if not imported:
            sql += " AND i.imported = ?"
            params.append(False)
        found = [
            (row_from_sql(r), datetime.fromisoformat(r["consultation_requested_at"]))
            for r in self.db.query(sql, params)
        ]
        found.sort(key=lambda pair: (pair[1], pair[0].dossier_id))
        return found[:first], len(found)

    def open_involving(self, agency_codes: list[str]) -> list[str]:
        """Ids of dossiers not closed that one of `agency_codes` holds, awaits in transit or
        received at its desk (a result ready at the desk included), in id order."""
        if not agency_codes:
            return []
        marks = ",".join("?" * len(agency_codes))
        rows = self.db.query(
            "SELECT dossier_id FROM dossier_index WHERE closed_at IS NULL AND ("
            f"holder_agency_code IN ({marks}) OR pending_handoff_to IN ({marks}) "
            f"OR receiving_agency_code IN ({marks})) ORDER BY dossier_id",
            [*agency_codes, *agency_codes, *agency_codes],
        )
        return [str(r["dossier_id"]) for r in rows]

    def count_digitized(
        self, desks: Sequence[str], start: datetime, end: datetime, include_imported: bool = False
    ) -> int:
        """Dossiers received at `desks` in [start, end) whose every required component has a
        file (instants compared as instants, whatever offset they were recorded with)."""
        if not desks:
            return 0
        marks = ",".join("?" * len(desks))
        # From the digitized dossiers (few) to their index rows by key, not a scan of every
        # dossier received at the desks probing the digitized table (278 ms -> 9 ms at a million).
        rows = self.db.query(
            "SELECT i.received_at, i.imported FROM dossier_index i "
            "WHERE i.dossier_id IN (SELECT dossier_id FROM dossier_digitized) "
            f"AND i.receiving_agency_code IN ({marks}) AND i.received_at IS NOT NULL",
            list(desks),
        )
        return sum(
            1
            for r in rows
            if (include_imported or not r["imported"])
            and start <= datetime.fromisoformat(r["received_at"]) < end
        )

    def case_ids(self, dossier_ids: Sequence[str]) -> dict[str, str]:
        """The legacy case id of each imported dossier among `dossier_ids` (others are absent)."""
        if not dossier_ids:
            return {}
        found = select_in(
            self.db.query,
            "SELECT dossier_id, case_id FROM dossier_case WHERE dossier_id IN ({marks})",
            dossier_ids,
        )
        return {str(r["dossier_id"]): str(r["case_id"]) for r in found}

    def search(self, where: list[str], params: list[Any], limit: int, after: str | None) -> list[DossierRow]:
        clauses = list(where)
        args = list(params)
        if after:
            clauses.append("dossier_id > ?")
            args.append(after)
        sql = "SELECT * FROM dossier_index"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY dossier_id LIMIT ?"
        args.append(limit)
        return [row_from_sql(r) for r in self.db.query(sql, args)]
