"""Write dossier history as an OCEL 2.0 JSON log (object-centric), valid against the
standard's JSON schema (`schemas/ocel20-schema-json.json`).

Event type = what happened: the activity of an imported legacy step as the log named it,
else the lienthong event type. Attribute values are strings (the schema's rule), their
types (`string`, `time`, `integer`, `float`, `boolean`) declared per event type; an
imported step carries the legacy log's attributes (lists and nested values as JSON text).
Object types: `dossier` (with the legacy case id of imported history and the case's
attributes as its log typed them, `log:` before a name the dossier has already), `agency`,
`procedure`. Every event is related to its dossier, the agencies it names and the
dossier's procedure, one qualifier per object: the most specific role (receiving, from,
to, consulted agency) over the acting one. Events an import synthesized are left out
unless the selection asks for them. Events are written as they are read; dossier objects
go to a temporary file meanwhile and are copied after the events, and the types, known
only once every event is written, come last (JSON members have no order), so memory
holds one dossier. Agencies and procedures come from the catalogue at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from domain.dossier import Dossier, evolve
from domain.legacy import text_of
from gateways.catalogue import Catalogue
from gateways.eventstore.codec import DecodeError
from gateways.interchange.fields import activity_of, payload_fields
from gateways.interchange.mapping import DEFAULT_NO_GROUP
from gateways.interchange.selection import Trace
from gateways.interchange.xes import GROUP, NAME, POSITION
from gateways.interchange.xes_import import UNRECORDED

EPOCH = "1970-01-01T00:00:00+00:00"  # OCEL's time for values that never changed
_KINDS = {
    "string": "string",
    "id": "string",
    "date": "time",
    "int": "integer",
    "float": "float",
    "boolean": "boolean",
}
# The event's type and time; its place in its trace (the events' times order them here).
_SKIPPED_ORIGINAL = frozenset({"concept:name", "time:timestamp", POSITION})
_COMMON = [
    {"name": "activity", "type": "string"},
    {"name": "seq", "type": "integer"},
    {"name": "hash", "type": "string"},
    {"name": "resource", "type": "string"},
    {"name": "role", "type": "string"},
]
OBJECT_TYPES: list[dict[str, Any]] = [
    {
        "name": "dossier",
        "attributes": [
            {"name": "receipt_code", "type": "string"},
            {"name": "case_id", "type": "string"},
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
# Which agency an event names, under which qualifier (the first role named wins).
_AGENCY_ROLES = (
    ("receiving_agency_code", "receiving agency"),
    ("from_agency_code", "from agency"),
    ("to_agency_code", "to agency"),
    ("consulted_agency_code", "consulted agency"),
)


_DOSSIER_NATIVE = frozenset(str(a["name"]) for a in OBJECT_TYPES[0]["attributes"])


def case_attribute_name(key: str) -> str:
    """A legacy case attribute's name on its dossier object: as the log wrote it, `log:` before
    it where it is a name the dossier has already (a log's own `status`, say)."""
    return "log:" + key if key in _DOSSIER_NATIVE or key.startswith("log:") else key


def typed_original(typed: dict[str, Any]) -> tuple[str, Any]:
    """A legacy attribute (`{type, value[, children]}`) as an OCEL type and value: a list or
    nested attributes as JSON text, a `float` the log wrote as no number as text."""
    kind = _KINDS.get(str(typed.get("type")), "string")
    value = typed.get("value")
    if typed.get("type") in ("list", "container") or typed.get("children"):
        return "string", typed
    if typed.get("type") == "float" and isinstance(value, str):
        return "string", value  # INF / NaN as written
    return kind, value


def ocel_value(value: Any) -> str:
    """An attribute value as the OCEL 2.0 JSON schema wants it: a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return _json(value)
    return str(value)


def dossier_object_id(dossier_id: str) -> str:
    return f"dossier:{dossier_id}"


def _recorded(code: object) -> bool:
    """A unit some record names: not none, nor the agency an import gives a trace that names
    no group (`UNRECORDED`: no unit was recorded), which the export leaves out."""
    return bool(code) and code != UNRECORDED.code


def _names_unit(original: dict[str, Any]) -> bool:
    """Whether an imported step's log named its unit: an `org:group` whose value is not one
    of those the import reads by default as "no group recorded" (`EMPTY`, blank); the import
    gave such a step the agency holding the dossier."""
    value = text_of(original.get(GROUP))
    return value is not None and value.strip() not in DEFAULT_NO_GROUP


def agency_object_id(code: str) -> str:
    return f"agency:{code}"


def procedure_object_id(code: str) -> str:
    return f"procedure:{code}"


def native_attribute_types(type_name: str) -> dict[str, str]:
    """The attributes (name -> OCEL type) an event of a lienthong type carries."""
    kinds = {a["name"]: a["type"] for a in _COMMON}
    kinds.update({f: _KINDS[kind] for f, kind in payload_fields(type_name)})
    return kinds


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
        # Event type -> attribute -> OCEL type, as met (bounded by the activities).
        self._types: dict[str, dict[str, str]] = {}
        # The imported cases' attributes on their dossiers: name -> OCEL type, as met.
        self._case_types: dict[str, str] = {}

    def start(self) -> None:
        self.out.write('{"events":[')

    def trace(self, trace: Trace) -> None:
        for record in trace.events:
            self.out.write(("," if self.events else "") + _json(self._event(record.envelope, trace)))
            self.events += 1
        self._object(self._dossier(trace))
        self.traces += 1

    def _declare(self, type_name: str, name: str, kind: str) -> None:
        declared = self._types.setdefault(type_name, {})
        known = declared.setdefault(name, kind)
        if known != kind:
            declared[name] = "string"  # one name, several types: the text is what they share

    def _event(self, e: dict[str, Any], trace: Trace) -> dict[str, Any]:
        payload = e.get("payload") or {}
        actor = e.get("actor") or {}
        activity = activity_of(e)
        original = payload.get("original") if e["type"] == "LegacyActivityRecorded" else None
        attributes: list[dict[str, Any]] = []
        self._types.setdefault(activity, {})
        if original:
            # The legacy log's attributes, as it typed them.
            for key, typed in original.items():
                if key in _SKIPPED_ORIGINAL:
                    continue
                kind, value = typed_original(typed)
                self._declare(activity, key, kind)
                attributes.append({"name": key, "value": ocel_value(value)})
        else:
            values: dict[str, Any] = {
                "activity": activity,
                "seq": e["seq"],
                "hash": e["hash"],
                "resource": actor.get("user") or "",
                "role": actor.get("role") or "",
            }
            values.update(
                {f: payload[f] for f, _kind in payload_fields(e["type"]) if payload.get(f) is not None}
            )
            kinds = native_attribute_types(e["type"])
            for name, value in values.items():
                self._declare(activity, name, kinds[name])
                attributes.append({"name": name, "value": ocel_value(value)})
        relationships = [{"objectId": dossier_object_id(trace.dossier_id), "qualifier": "dossier"}]
        named = [(payload.get(key), qualifier) for key, qualifier in _AGENCY_ROLES]
        if original is None or _names_unit(original):
            # An imported step is related to a unit only where its log named one (else the
            # agency holding the dossier then, or the import's placeholder, would be invented).
            named.append((e.get("agency_code"), "acting agency"))
        related: set[str] = set()
        for code, qualifier in named:
            if _recorded(code) and str(code) not in related:
                related.add(str(code))
                self._agencies.add(str(code))
                relationships.append({"objectId": agency_object_id(str(code)), "qualifier": qualifier})
        if trace.procedure_code:
            self._procedures.add(trace.procedure_code)
            relationships.append(
                {"objectId": procedure_object_id(trace.procedure_code), "qualifier": "procedure"}
            )
        return {
            "id": e["event_id"],
            "type": activity,
            "time": e["occurred_at"],
            "attributes": attributes,
            "relationships": relationships,
        }

    def _dossier(self, trace: Trace) -> dict[str, Any]:
        attributes: list[dict[str, Any]] = [
            {"name": "receipt_code", "time": EPOCH, "value": trace.receipt_code},
            {"name": "channel", "time": EPOCH, "value": trace.channel},
            {"name": "imported", "time": EPOCH, "value": ocel_value(trace.imported)},
        ]
        if trace.case_id is not None:
            attributes.insert(1, {"name": "case_id", "time": EPOCH, "value": trace.case_id})
            # The trace's own attributes, as the log typed them (its name is the case id).
            for key, typed in (trace.case_attributes or {}).items():
                if key == NAME or not isinstance(typed, dict):
                    continue
                name = case_attribute_name(key)
                kind, value = typed_original(typed)
                known = self._case_types.setdefault(name, kind)
                if known != kind:
                    self._case_types[name] = "string"  # one name, several types: the text
                attributes.append({"name": name, "time": EPOCH, "value": ocel_value(value)})
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
                if value is not None and value != old and (name != "holder_agency_code" or _recorded(value)):
                    attributes.append({"name": name, "time": at, "value": value})
            state = new
        relationships = []
        if trace.procedure_code:
            relationships.append(
                {"objectId": procedure_object_id(trace.procedure_code), "qualifier": "follows"}
            )
        desk = state.receiving_agency_code if state is not None else None
        if desk and _recorded(desk):
            self._agencies.add(desk)
            relationships.append({"objectId": agency_object_id(desk), "qualifier": "received at"})
        return {
            "id": dossier_object_id(trace.dossier_id),
            "type": "dossier",
            "attributes": attributes,
            "relationships": relationships,
        }

    def object_types(self) -> list[dict[str, Any]]:
        """The object types, the dossier's with the case attributes met."""
        dossier, *others = OBJECT_TYPES
        extra = [{"name": name, "type": kind} for name, kind in self._case_types.items()]
        return [{"name": dossier["name"], "attributes": [*dossier["attributes"], *extra]}, *others]

    def _object(self, obj: dict[str, Any]) -> None:
        self._objects.write(("" if self._first_object else ",") + _json(obj))
        self._first_object = False

    def _catalogue_objects(self) -> None:
        procedures = [p for p in self.catalogue.procedures() if p.code in self._procedures]
        for procedure in procedures:
            self._agencies.update(step.agency_code for step in procedure.route if _recorded(step.agency_code))
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
                            "value": ocel_value(float(procedure.deadline_working_hours)),
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
                        if _recorded(step.agency_code)
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
        event_types = [
            {"name": name, "attributes": [{"name": a, "type": kind} for a, kind in declared.items()]}
            for name, declared in self._types.items()
        ]
        self.out.write(
            '],"objectTypes":' + _json(self.object_types()) + ',"eventTypes":' + _json(event_types)
        )
        self.out.write("}\n")

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
