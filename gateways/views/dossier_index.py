"""The dossier index view in SQL, fed in process from the notification log.

View rows and the feed position are written in ONE transaction, so a crash
replays at most an uncommitted batch and a replayed event is skipped by `seq`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime
from typing import Any

from gateways.eventstore.codec import DecodeError
from gateways.eventstore.store import EventStore
from gateways.sql import Database, Tx
from projections.dossier_index import DossierRow, apply

log = logging.getLogger("lienthong.views")
VIEW = "dossier_index"
_FIELDS = [f.name for f in dataclasses.fields(DossierRow)]
_TIMES = {"received_at", "due_at", "promised_at", "resolved_at", "closed_at", "updated_at"}

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS view_positions (view TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dossier_index (dossier_id TEXT PRIMARY KEY, receipt_code TEXT NOT NULL, "
    "procedure_code TEXT NOT NULL, receiving_agency_code TEXT NOT NULL, holder_agency_code TEXT NOT NULL, "
    "status TEXT NOT NULL, status_code INTEGER NOT NULL, last_seq INTEGER NOT NULL, channel TEXT NOT NULL, "
    "received_at TEXT, due_at TEXT, promised_at TEXT, resolved_at TEXT, closed_at TEXT, timeliness TEXT, "
    "pending_handoff_to TEXT, paused BOOLEAN NOT NULL, lookup_secret_hash TEXT NOT NULL, "
    "imported BOOLEAN NOT NULL, updated_at TEXT)",
    "CREATE INDEX IF NOT EXISTS dossier_index_receipt ON dossier_index (receipt_code)",
    "CREATE INDEX IF NOT EXISTS dossier_index_holder ON dossier_index (holder_agency_code, status)",
]


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


class DossierIndex:
    def __init__(self, db: Database, store: EventStore) -> None:
        self.db = db
        self.store = store
        self._lock = threading.Lock()
        db.executescript(SCHEMA)

    def position(self) -> int:
        rows = self.db.query("SELECT position FROM view_positions WHERE view = ?", (VIEW,))
        return int(rows[0]["position"]) if rows else 0

    def catch_up(self, batch: int = 500) -> int:
        """Apply every event recorded so far; returns how many were applied."""
        applied = 0
        with self._lock:
            while True:
                position = self.position()
                records = self.store.notifications(position, batch)
                if not records:
                    return applied
                with self.db.transaction() as tx:
                    self._apply_batch(tx, records)
                    last = records[-1].notification_id or position
                    tx.execute("DELETE FROM view_positions WHERE view = ?", (VIEW,))
                    tx.execute("INSERT INTO view_positions (view, position) VALUES (?, ?)", (VIEW, last))
                applied += len(records)

    def _apply_batch(self, tx: Tx, records: list[Any]) -> None:
        ids = sorted({r.dossier_id for r in records})
        rows: dict[str, DossierRow | None] = dict.fromkeys(ids)
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            marks = ",".join("?" * len(chunk))
            for data in tx.query(f"SELECT * FROM dossier_index WHERE dossier_id IN ({marks})", chunk):
                rows[data["dossier_id"]] = row_from_sql(data)
        changed: set[str] = set()
        for record in records:
            try:
                event = record.to_domain()
            except (DecodeError, KeyError, TypeError, ValueError) as exc:
                log.error(
                    "view %s skips undecodable event %s#%s: %s",
                    VIEW,
                    record.dossier_id,
                    record.envelope.get("seq"),
                    exc,
                )
                continue
            new = apply(rows[record.dossier_id], record.dossier_id, record.seq, event)
            if new is not rows[record.dossier_id]:
                rows[record.dossier_id] = new
                changed.add(record.dossier_id)
        for dossier_id in changed:
            row = rows[dossier_id]
            if row is None:
                continue
            tx.execute("DELETE FROM dossier_index WHERE dossier_id = ?", (dossier_id,))
            tx.execute(
                f"INSERT INTO dossier_index ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                _to_sql(row),
            )

    def rebuild(self) -> int:
        with self._lock, self.db.transaction() as tx:
            tx.execute("DELETE FROM dossier_index")
            tx.execute("DELETE FROM view_positions WHERE view = ?", (VIEW,))
        return self.catch_up()

    def find_by_receipt(self, receipt_code: str) -> DossierRow | None:
        rows = self.db.query("SELECT * FROM dossier_index WHERE receipt_code = ?", (receipt_code,))
        return row_from_sql(rows[0]) if rows else None

    def open_at(self, agency_code: str) -> list[DossierRow]:
        """Unresolved dossiers the agency holds or that are in transit to it."""
        rows = self.db.query(
            "SELECT * FROM dossier_index WHERE (holder_agency_code = ? OR pending_handoff_to = ?) "
            "AND closed_at IS NULL AND resolved_at IS NULL",
            (agency_code, agency_code),
        )
        return [row_from_sql(r) for r in rows]

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
