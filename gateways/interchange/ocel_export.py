"""Write dossier history as an OCEL 2.0 JSON log (object-centric).

Object types: `dossier`, `agency`, `procedure`. Every event is related to its
dossier, the agencies it names (acting, receiving, from, to, consulted) and the
dossier's procedure, with qualifiers. A dossier object carries its status and
holder over time. Events are written as they are read; dossier objects go to a
temporary file meanwhile (the JSON has them in another array) and are copied
after the events, so memory holds one dossier. Agencies and procedures come from
the catalogue at the end (their number is the catalogue's, not the log's).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from domain.dossier import Dossier, evolve
from domain.events import EVENT_TYPES
from gateways.catalogue import Catalogue
from gateways.eventstore.codec import DecodeError
from gateways.interchange.fields import activity_of, payload_fields
from gateways.interchange.selection import Trace

EPOCH = "1970-01-01T00:00:00+00:00"  # OCEL's time for values that never changed
_KINDS = {"string": "string", "date": "time", "int": "integer", "float": "float", "boolean": "boolean"}
_COMMON = [
    {"name": "activity", "type": "string"},
    {"name": "seq", "type": "integer"},
    {"name": "hash", "type": "string"},
    {"name": "resource", "type": "string"},
    {"name": "role", "type": "string"},
]
OBJECT_TYPES = [
    {
        "name": "dossier",
        "attributes": [
            {"name": "receipt_code", "type": "string"},
            {"name": "channel", "type": "string"},
            {"name": "imported", "type": "boolean"},
            {"name": "status", "type": "string"},
            {"name": "holder_agency_code", "type": "string"},
            {"name": "due_at", "type": "time"},
        ],
    },
    {
        "name": "agency",
        "attributes": [{"name": "name", "type": "string"}, {"name": "level", "type": "string"}],
    },
    {
        "name": "procedure",
        "attributes": [
            {"name": "name", "type": "string"},
            {"name": "field", "type": "string"},
            {"name": "deadline_working_hours", "type": "float"},
            {"name": "supplement_policy", "type": "string"},
        ],
    },
]
# Which agency an event names, under which qualifier.
_AGENCY_ROLES = (
    ("receiving_agency_code", "receiving agency"),
    ("from_agency_code", "from agency"),
    ("to_agency_code", "to agency"),
    ("consulted_agency_code", "consulted agency"),
)


def dossier_object_id(dossier_id: str) -> str:
    return f"dossier:{dossier_id}"


def agency_object_id(code: str) -> str:
    return f"agency:{code}"


def procedure_object_id(code: str) -> str:
    return f"procedure:{code}"


def event_types() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "attributes": _COMMON + [{"name": f, "type": _KINDS[kind]} for f, kind in payload_fields(name)],
        }
        for name in EVENT_TYPES
    ]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class OcelWriter:
    def __init__(self, out: TextIO, catalogue: Catalogue) -> None:
        self.out = out
        self.catalogue = catalogue
        self.events = 0
        self.traces = 0
        self._agencies: set[str] = set()  # codes named so far (bounded by the catalogue)
        self._procedures: set[str] = set()
        self._objects = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - see close()
        self._first_object = True

    def start(self) -> None:
        self.out.write('{"objectTypes":' + _json(OBJECT_TYPES) + ',"eventTypes":' + _json(event_types()))
        self.out.write(',"events":[')

    def trace(self, trace: Trace) -> None:
        for record in trace.events:
            self.out.write(("," if self.events else "") + _json(self._event(record.envelope, trace)))
            self.events += 1
        self._object(self._dossier(trace))
        self.traces += 1

    def _event(self, e: dict[str, Any], trace: Trace) -> dict[str, Any]:
        payload = e.get("payload") or {}
        actor = e.get("actor") or {}
        attributes: list[dict[str, Any]] = [
            {"name": "activity", "value": activity_of(e)},
            {"name": "seq", "value": e["seq"]},
            {"name": "hash", "value": e["hash"]},
            {"name": "resource", "value": actor.get("user") or ""},
            {"name": "role", "value": actor.get("role") or ""},
        ]
        attributes += [
            {"name": f, "value": payload[f]}
            for f, _kind in payload_fields(e["type"])
            if payload.get(f) is not None
        ]
        relationships = [{"objectId": dossier_object_id(trace.dossier_id), "qualifier": "dossier"}]
        named = [(e.get("agency_code"), "acting agency")]
        named += [(payload.get(key), qualifier) for key, qualifier in _AGENCY_ROLES]
        for code, qualifier in named:
            if code:
                self._agencies.add(str(code))
                relationships.append({"objectId": agency_object_id(str(code)), "qualifier": qualifier})
        if trace.procedure_code:
            self._procedures.add(trace.procedure_code)
            relationships.append(
                {"objectId": procedure_object_id(trace.procedure_code), "qualifier": "procedure"}
            )
        return {
            "id": e["event_id"],
            "type": e["type"],
            "time": e["occurred_at"],
            "attributes": attributes,
            "relationships": relationships,
        }

    def _dossier(self, trace: Trace) -> dict[str, Any]:
        attributes: list[dict[str, Any]] = [
            {"name": "receipt_code", "time": EPOCH, "value": trace.receipt_code},
            {"name": "channel", "time": EPOCH, "value": trace.channel},
            {"name": "imported", "time": EPOCH, "value": trace.imported},
        ]
        state: Dossier | None = None
        for record in trace.stream:
            try:
                new = evolve(state, record.to_domain())
            except (DecodeError, TypeError, ValueError):
                break  # a damaged record: its history is for audit/verify to name
            at = record.envelope["occurred_at"]
            for name, value, old in (
                ("status", new.status.value, state.status.value if state else None),
                ("holder_agency_code", new.holder_agency_code, state.holder_agency_code if state else None),
                ("due_at", new.due_at.isoformat() if new.due_at else None, _due(state)),
            ):
                if value is not None and value != old:
                    attributes.append({"name": name, "time": at, "value": value})
            state = new
        relationships = []
        if trace.procedure_code:
            relationships.append(
                {"objectId": procedure_object_id(trace.procedure_code), "qualifier": "follows"}
            )
        if state is not None and state.receiving_agency_code:
            self._agencies.add(state.receiving_agency_code)
            relationships.append(
                {"objectId": agency_object_id(state.receiving_agency_code), "qualifier": "received at"}
            )
        return {
            "id": dossier_object_id(trace.dossier_id),
            "type": "dossier",
            "attributes": attributes,
            "relationships": relationships,
        }

    def _object(self, obj: dict[str, Any]) -> None:
        self._objects.write(("" if self._first_object else ",") + _json(obj))
        self._first_object = False

    def _catalogue_objects(self) -> None:
        procedures = [p for p in self.catalogue.procedures() if p.code in self._procedures]
        for procedure in procedures:
            self._agencies.update(step.agency_code for step in procedure.route)
        hierarchy = self.catalogue.hierarchy
        pending = sorted(self._agencies)
        done: set[str] = set()
        while pending:
            code = pending.pop()
            if code in done:
                continue
            done.add(code)
            versions = hierarchy.history(code)
            attributes = []
            for version in versions:
                since = version.valid_from.isoformat() + "T00:00:00+00:00" if version.valid_from else EPOCH
                attributes.append({"name": "name", "time": since, "value": version.name})
                attributes.append({"name": "level", "time": since, "value": version.level.value})
            relationships = []
            parents = {v.parent_code for v in versions if v.parent_code}
            for parent in sorted(parents):
                relationships.append({"objectId": agency_object_id(parent), "qualifier": "parent"})
                pending.append(parent)
            self._object(
                {
                    "id": agency_object_id(code),
                    "type": "agency",
                    "attributes": attributes,
                    "relationships": relationships,
                }
            )
        for procedure in procedures:
            self._object(
                {
                    "id": procedure_object_id(procedure.code),
                    "type": "procedure",
                    "attributes": [
                        {"name": "name", "time": EPOCH, "value": procedure.name},
                        {"name": "field", "time": EPOCH, "value": procedure.field},
                        {
                            "name": "deadline_working_hours",
                            "time": EPOCH,
                            "value": procedure.deadline_working_hours,
                        },
                        {
                            "name": "supplement_policy",
                            "time": EPOCH,
                            "value": procedure.supplement_policy.value,
                        },
                    ],
                    "relationships": [
                        {"objectId": agency_object_id(step.agency_code), "qualifier": f"route step {i}"}
                        for i, step in enumerate(procedure.route, start=1)
                    ],
                }
            )
        # A procedure named by a dossier but gone from the catalogue still gets its object.
        for code in sorted(self._procedures - {p.code for p in procedures}):
            self._object({"id": procedure_object_id(code), "type": "procedure", "attributes": []})

    def end(self) -> None:
        self._catalogue_objects()
        self.out.write('],"objects":[')
        self._objects.seek(0)
        shutil.copyfileobj(self._objects, self.out)
        self.out.write("]}\n")

    def close(self) -> None:
        self._objects.close()


def _due(state: Dossier | None) -> str | None:
    return state.due_at.isoformat() if state is not None and state.due_at else None


def write_ocel(out: TextIO, traces: Iterable[Trace], catalogue: Catalogue) -> tuple[int, int]:
    """Write the log; returns (dossiers, events) written."""
    writer = OcelWriter(out, catalogue)
    try:
        writer.start()
        for trace in traces:
            writer.trace(trace)
        writer.end()
    finally:
        writer.close()
    return writer.traces, writer.events
