"""The catalogue (agencies with their versions, procedures) in the project's database."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import orjson

from domain.agencies import Agency, AgencyLevel, Hierarchy
from domain.procedures import Component, ComponentForm, Procedure, RouteStep, SupplementPolicy
from gateways.sql import Database

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS agencies (code TEXT NOT NULL, valid_from TEXT NOT NULL, "
    "name TEXT NOT NULL, level TEXT NOT NULL, parent_code TEXT, valid_to TEXT, "
    "PRIMARY KEY (code, valid_from))",
    "CREATE TABLE IF NOT EXISTS procedures (code TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS catalogue_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
]
# valid_from NULL ("since ever") is stored as this sentinel so it can be part of the key.
_SINCE_EVER = "0001-01-01"


def agency_from_row(row: dict[str, Any]) -> Agency:
    valid_from = None if row["valid_from"] == _SINCE_EVER else date.fromisoformat(row["valid_from"])
    return Agency(
        code=row["code"],
        name=row["name"],
        level=AgencyLevel(row["level"]),
        parent_code=row["parent_code"],
        valid_from=valid_from,
        valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
    )


def procedure_to_json(p: Procedure) -> dict[str, Any]:
    return {
        "code": p.code,
        "name": p.name,
        "field": p.field,
        "deadline_working_hours": p.deadline_working_hours,
        "supplement_policy": p.supplement_policy.value,
        "route": [
            {"agency_code": s.agency_code, "budget_working_hours": s.budget_working_hours} for s in p.route
        ],
        "components": [component_to_json(c) for c in p.components],
    }


def component_to_json(c: Component) -> dict[str, Any]:
    return {
        "name": c.name,
        "copies": c.copies,
        "form": c.form.value,
        "effective_from": c.effective_from.isoformat() if c.effective_from else None,
        "effective_to": c.effective_to.isoformat() if c.effective_to else None,
    }


def component_from_json(body: dict[str, Any]) -> Component:
    start, end = body.get("effective_from"), body.get("effective_to")
    return Component(
        name=str(body["name"]).strip(),
        copies=int(body.get("copies", 1)),
        form=ComponentForm(body.get("form", "original")),
        effective_from=date.fromisoformat(start) if start else None,
        effective_to=date.fromisoformat(end) if end else None,
    )


def procedure_from_json(body: dict[str, Any]) -> Procedure:
    return Procedure(
        code=body["code"],
        name=body["name"],
        field=body.get("field", ""),
        deadline_working_hours=float(body["deadline_working_hours"]),
        supplement_policy=SupplementPolicy(body.get("supplement_policy", "restart")),
        route=tuple(
            RouteStep(agency_code=s["agency_code"], budget_working_hours=float(s["budget_working_hours"]))
            for s in body["route"]
        ),
        components=tuple(component_from_json(c) for c in body.get("components", ())),
    )


def parent_cycle(hierarchy: Hierarchy, agency: Agency) -> list[str] | None:
    """The loop `agency` would close through its parent (Z -> Y -> Z), on any day it is in
    force, or None. A hierarchy with a loop has no root for the agencies on it."""
    if not agency.parent_code:
        return None
    after = hierarchy.with_version(agency)
    days = {agency.valid_from or date.min} | {a.valid_from for a in after if a.valid_from}
    for day in sorted(d for d in days if agency.valid_on(d)):
        chain = [agency.parent_code, *after.ancestors_on(agency.parent_code, day)]
        if agency.code in chain:
            return [agency.code, *chain[: chain.index(agency.code) + 1]]
    return None


class Catalogue:
    """Reads are served from memory and reloaded when another process changed the catalogue.

    This process's own edits are seen at once; another process's within `recheck_seconds`
    (the stored version is not read on every lookup: commands look the catalogue up often).
    """

    def __init__(self, db: Database, recheck_seconds: float = 1.0) -> None:
        self._db = db
        self._recheck = recheck_seconds
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        db.executescript(SCHEMA)
        self._loaded_version = -1
        self._hierarchy = Hierarchy()
        self._procedures: dict[str, Procedure] = {}

    def _stored_version(self) -> int:
        rows = self._db.query("SELECT version FROM catalogue_version WHERE id = 1")
        return int(rows[0]["version"]) if rows else 0

    def _refresh(self) -> None:
        if time.monotonic() - self._checked_at < self._recheck:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < self._recheck:
                return  # another thread refreshed while this one waited
            version = self._stored_version()
            if version != self._loaded_version:
                agencies = [agency_from_row(r) for r in self._db.query("SELECT * FROM agencies")]
                procedures = {
                    r["code"]: procedure_from_json(orjson.loads(r["body"]))
                    for r in self._db.query("SELECT code, body FROM procedures")
                }
                self._hierarchy = Hierarchy(agencies)
                self._procedures = procedures
                self._loaded_version = version
            self._checked_at = time.monotonic()

    def _bump(self, tx: Any) -> None:
        rows = tx.query("SELECT version FROM catalogue_version WHERE id = 1")
        if rows:
            tx.execute("UPDATE catalogue_version SET version = version + 1 WHERE id = 1")
        else:
            tx.execute("INSERT INTO catalogue_version (id, version) VALUES (1, 1)")

    @property
    def hierarchy(self) -> Hierarchy:
        self._refresh()
        return self._hierarchy

    def procedures(self) -> list[Procedure]:
        self._refresh()
        return sorted(self._procedures.values(), key=lambda p: p.code)

    def procedure(self, code: str) -> Procedure | None:
        self._refresh()
        return self._procedures.get(code)

    def put_agency(self, agency: Agency) -> bool:
        """Insert or replace the version with this valid_from; True if it was new."""
        key = (agency.code, agency.valid_from.isoformat() if agency.valid_from else _SINCE_EVER)
        with self._db.transaction() as tx:
            existed = bool(tx.query("SELECT 1 AS x FROM agencies WHERE code = ? AND valid_from = ?", key))
            tx.execute("DELETE FROM agencies WHERE code = ? AND valid_from = ?", key)
            tx.execute(
                "INSERT INTO agencies (code, valid_from, name, level, parent_code, valid_to) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    agency.name,
                    agency.level.value,
                    agency.parent_code,
                    agency.valid_to.isoformat() if agency.valid_to else None,
                ),
            )
            self._bump(tx)
        self._checked_at = float("-inf")
        return not existed

    def put_procedure(self, procedure: Procedure) -> bool:
        body = orjson.dumps(procedure_to_json(procedure)).decode()
        with self._db.transaction() as tx:
            existed = bool(tx.query("SELECT 1 AS x FROM procedures WHERE code = ?", (procedure.code,)))
            tx.execute("DELETE FROM procedures WHERE code = ?", (procedure.code,))
            tx.execute("INSERT INTO procedures (code, body) VALUES (?, ?)", (procedure.code, body))
            self._bump(tx)
        self._checked_at = float("-inf")
        return not existed

    def is_empty(self) -> bool:
        return not self._db.query("SELECT 1 AS x FROM agencies LIMIT 1")
