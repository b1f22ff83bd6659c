"""The catalogue (agencies with their versions and successors, procedure versions) in the
project's database.

The JSON shape of an agency version (seed files, the HTTP API) is described in
`domain/agencies.py`; `agency_to_json` / `agency_from_json` are its one reader and writer.
A procedure version is `procedure_to_json`'s shape, with `valid_from` (null = since ever)
and `fee_vnd`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

import orjson

from domain.agencies import Agency, AgencyLevel, Hierarchy, Successor
from domain.procedures import Component, ComponentForm, Procedure, RouteStep, SupplementPolicy, version_on
from gateways.sql import Database, Tx

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS agencies (code TEXT NOT NULL, valid_from TEXT NOT NULL, "
    "name TEXT NOT NULL, level TEXT NOT NULL, parent_code TEXT, valid_to TEXT, "
    "PRIMARY KEY (code, valid_from))",
    # Successors and legal basis of an ended agency version (own table: no ALTER of agencies).
    "CREATE TABLE IF NOT EXISTS agency_successions (code TEXT NOT NULL, valid_from TEXT NOT NULL, "
    "body TEXT NOT NULL, PRIMARY KEY (code, valid_from))",
    # `procedures` held one version per code before procedures were dated; its rows are
    # copied once into `procedure_versions` as versions "since ever", then it is emptied.
    "CREATE TABLE IF NOT EXISTS procedures (code TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS procedure_versions (code TEXT NOT NULL, valid_from TEXT NOT NULL, "
    "body TEXT NOT NULL, PRIMARY KEY (code, valid_from))",
    "INSERT INTO procedure_versions (code, valid_from, body) SELECT code, '0001-01-01', body "
    "FROM procedures WHERE code NOT IN (SELECT code FROM procedure_versions)",
    "DELETE FROM procedures",
    "CREATE TABLE IF NOT EXISTS catalogue_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
    # Units an import of legacy history made of a log's org:group values (own table: no ALTER).
    "CREATE TABLE IF NOT EXISTS legacy_units (code TEXT PRIMARY KEY)",
]
# valid_from NULL ("since ever") is stored as this sentinel so it can be part of the key.
_SINCE_EVER = "0001-01-01"

# The most steps a procedure's route may have (docs/decisions.md): an inter-level route has a
# handful (ward -> department -> ward; with a district, a second department or a return, a few
# more), and every dossier received copies its route into its first event.
MAX_ROUTE_STEPS = 20


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _share(value: Any) -> float | None:
    return None if value is None else float(value)


def successors_to_json(successors: tuple[Successor, ...]) -> list[dict[str, Any]]:
    return [{"code": s.code, "valid_from": s.valid_from.isoformat(), "share": s.share} for s in successors]


def successors_from_json(items: list[dict[str, Any]] | None) -> tuple[Successor, ...]:
    return tuple(
        Successor(
            code=s["code"], valid_from=date.fromisoformat(s["valid_from"]), share=_share(s.get("share"))
        )
        for s in items or ()
    )


def agency_to_json(a: Agency) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level.value,
        "parent_code": a.parent_code,
        "valid_from": a.valid_from.isoformat() if a.valid_from else None,
        "valid_to": a.valid_to.isoformat() if a.valid_to else None,
        "successors": successors_to_json(a.successors),
        "basis": a.basis,
    }


def agency_from_json(body: dict[str, Any]) -> Agency:
    return Agency(
        code=body["code"],
        name=body["name"],
        level=AgencyLevel(body["level"]),
        parent_code=body.get("parent_code"),
        valid_from=_day(body.get("valid_from")),
        valid_to=_day(body.get("valid_to")),
        successors=successors_from_json(body.get("successors")),
        basis=body.get("basis") or "",
    )


def agency_from_row(row: dict[str, Any], succession: dict[str, Any] | None = None) -> Agency:
    valid_from = None if row["valid_from"] == _SINCE_EVER else date.fromisoformat(row["valid_from"])
    return Agency(
        code=row["code"],
        name=row["name"],
        level=AgencyLevel(row["level"]),
        parent_code=row["parent_code"],
        valid_from=valid_from,
        valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
        successors=successors_from_json((succession or {}).get("successors")),
        basis=(succession or {}).get("basis") or "",
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
        "valid_from": p.valid_from.isoformat() if p.valid_from else None,
        "fee_vnd": p.fee_vnd,
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
        valid_from=_day(body.get("valid_from")),
        fee_vnd=int(body.get("fee_vnd", 0)),
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
        self._procedures: dict[str, list[Procedure]] = {}
        self._legacy: frozenset[str] = frozenset()

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
                successions = {
                    (r["code"], r["valid_from"]): orjson.loads(r["body"])
                    for r in self._db.query("SELECT code, valid_from, body FROM agency_successions")
                }
                agencies = [
                    agency_from_row(r, successions.get((r["code"], r["valid_from"])))
                    for r in self._db.query("SELECT * FROM agencies")
                ]
                procedures: dict[str, list[Procedure]] = {}
                for r in self._db.query("SELECT code, valid_from, body FROM procedure_versions"):
                    procedures.setdefault(r["code"], []).append(procedure_from_json(orjson.loads(r["body"])))
                for versions in procedures.values():
                    versions.sort(key=lambda p: p.valid_from or date.min)
                self._hierarchy = Hierarchy(agencies)
                self._procedures = procedures
                self._legacy = frozenset(r["code"] for r in self._db.query("SELECT code FROM legacy_units"))
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

    def is_legacy(self, code: str) -> bool:
        """`code` is a unit an import of legacy history made of a log's group, not an agency of
        this system: it holds imported history and receives no live dossier."""
        self._refresh()
        return code in self._legacy

    def procedures(self, on: date | None = None) -> list[Procedure]:
        """One version per procedure: the latest, or the one in force `on` a day."""
        self._refresh()
        found = (self._pick(versions, on) for versions in self._procedures.values())
        return sorted((p for p in found if p is not None), key=lambda p: p.code)

    @staticmethod
    def _pick(versions: list[Procedure], on: date | None) -> Procedure | None:
        return versions[-1] if on is None else version_on(versions, on)

    def procedure(self, code: str, on: date | None = None) -> Procedure | None:
        """The latest version of `code`, or the one in force `on` a day (None if none was)."""
        self._refresh()
        versions = self._procedures.get(code)
        return self._pick(versions, on) if versions else None

    def procedure_versions(self, code: str) -> list[Procedure]:
        self._refresh()
        return list(self._procedures.get(code, ()))

    def put_agency(self, agency: Agency, *, legacy: bool = False) -> bool:
        """Insert or replace the version with this valid_from; True if it was new. `legacy`:
        the agency is a unit of imported legacy history (`is_legacy`)."""
        key = (agency.code, agency.valid_from.isoformat() if agency.valid_from else _SINCE_EVER)
        with self._db.transaction() as tx:
            existed = bool(tx.query("SELECT 1 AS x FROM agencies WHERE code = ? AND valid_from = ?", key))
            self._write_agencies(tx, [agency])
            if legacy:
                tx.execute(
                    "INSERT INTO legacy_units (code) VALUES (?) ON CONFLICT (code) DO NOTHING", (agency.code,)
                )
        self._checked_at = float("-inf")
        return not existed

    def put_agencies(self, agencies: Iterable[Agency]) -> int:
        """Insert or replace many versions in one transaction (the whole country is ~14k);
        returns how many were written."""
        with self._db.transaction() as tx:
            written = self._write_agencies(tx, list(agencies))
        self._checked_at = float("-inf")
        return written

    def _write_agencies(self, tx: Tx, versions: list[Agency]) -> int:
        """Replace these versions (and their successions) as sets, and move the catalogue's version."""
        rows = [
            (
                a.code,
                a.valid_from.isoformat() if a.valid_from else _SINCE_EVER,
                a.name,
                a.level.value,
                a.parent_code,
                a.valid_to.isoformat() if a.valid_to else None,
            )
            for a in versions
        ]
        successions = [
            (
                *row[:2],
                orjson.dumps({"successors": successors_to_json(a.successors), "basis": a.basis}).decode(),
            )
            for a, row in zip(versions, rows, strict=True)
            if a.successors or a.basis
        ]
        keys = [r[:2] for r in rows]
        tx.executemany("DELETE FROM agencies WHERE code = ? AND valid_from = ?", keys)
        tx.executemany(
            "INSERT INTO agencies (code, valid_from, name, level, parent_code, valid_to) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        tx.executemany("DELETE FROM agency_successions WHERE code = ? AND valid_from = ?", keys)
        tx.executemany(
            "INSERT INTO agency_successions (code, valid_from, body) VALUES (?, ?, ?)", successions
        )
        self._bump(tx)
        return len(rows)

    def put_procedure(self, procedure: Procedure) -> bool:
        """Insert or replace the version with this valid_from; True if it was new."""
        body = orjson.dumps(procedure_to_json(procedure)).decode()
        key = (procedure.code, procedure.valid_from.isoformat() if procedure.valid_from else _SINCE_EVER)
        with self._db.transaction() as tx:
            existed = bool(
                tx.query("SELECT 1 AS x FROM procedure_versions WHERE code = ? AND valid_from = ?", key)
            )
            tx.execute("DELETE FROM procedure_versions WHERE code = ? AND valid_from = ?", key)
            tx.execute(
                "INSERT INTO procedure_versions (code, valid_from, body) VALUES (?, ?, ?)", (*key, body)
            )
            self._bump(tx)
        self._checked_at = float("-inf")
        return not existed

    def home(self) -> str | None:
        """The top agency (no parent) that the procedures' route steps fall under most: the
        province a demo or a deployment works in, among the country's hundred top agencies."""
        self._refresh()
        hierarchy, counts = self._hierarchy, Counter[str]()
        for procedure in (version for versions in self._procedures.values() for version in versions):
            for step in procedure.route:
                latest = hierarchy.latest(step.agency_code)
                if latest is None:
                    continue
                day = latest.valid_from or date.min
                chain = [step.agency_code, *hierarchy.ancestors_on(step.agency_code, day)]
                counts[chain[-1]] += 1
        return counts.most_common(1)[0][0] if counts else None

    def is_empty(self) -> bool:
        return not self._db.query("SELECT 1 AS x FROM agencies LIMIT 1")
