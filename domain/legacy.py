"""Imported legacy history: the case a dossier was in a legacy log, and typed XES values.

A legacy log's attributes are kept as the log wrote them, JSON-ready, each a *typed value*:

    {"type": "string" | "date" | "int" | "float" | "boolean" | "id", "value": ...}
    {"type": "list" | "container", "value": [{"key": ..., "type": ..., "value": ...}, ...]}

with `"children": {key: typed value, ...}` when the attribute has nested attributes. A
value is a JSON string for string, date (as written), id; a JSON integer, number or
boolean for int, float, boolean. Lists keep their items in order (keys may repeat).

A trace of a foreign log is recorded in one event, `LegacyTraceRecorded` (its case and
every event it holds: `RecordLegacyTrace`; `gateways.interchange.selection.unpacked` shows
them one by one, as `LegacyActivityRecorded` events hold them). A trace of a log lienthong
exported names its own events, which an import replays one by one instead (with
`RecordLegacyCase` for its case and `RecordLegacyActivity` for what maps to no event).

Events the importer adds on its own (the receipt a log does not state, the case record)
are *synthesized*: their actor's user is `SYNTHESIZED_USER`, so exports can leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.commands import Command
from domain.dossier import Dossier
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated
from domain.guards import INTEGRATION

SYNTHESIZED_USER = "xes-import"
"""The user of every event an import synthesizes (no legacy user is recorded under it)."""

SCALAR_TYPES = frozenset({"string", "date", "int", "float", "boolean", "id"})
NESTED_TYPES = frozenset({"list", "container"})


def is_synthesized(actor: Mapping[str, Any] | ev.Actor | None) -> bool:
    """The event was synthesized by an import (its actor is the importer)."""
    if actor is None:
        return False
    user = actor.get("user") if isinstance(actor, Mapping) else actor.user
    return user == SYNTHESIZED_USER


def text_of(value: Mapping[str, Any] | None) -> str | None:
    """A scalar typed value as text (booleans `true`/`false`); None for none or a list."""
    if not value or value.get("type") in NESTED_TYPES:
        return None
    raw = value.get("value")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return None if raw is None else str(raw)


@dataclass(frozen=True, kw_only=True)
class RecordLegacyCase(Command):
    name = "legacy_case"
    case_id: str
    attributes: Mapping[str, Any] | None = None


def _may_record_case(state: Dossier, actor: ev.Actor, case_id: str) -> None:
    if actor.role != INTEGRATION:
        raise ActorNotAllowed("only the integration role imports legacy history")
    if not state.imported:
        raise RuleViolated("a legacy case belongs only to imported history")
    if state.external_case_id is not None:
        raise RuleViolated("the dossier already names its legacy case")
    if not case_id.strip():
        raise InvalidValue("case_id is required")


def record_case(state: Dossier, c: RecordLegacyCase, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    _may_record_case(state, c.actor, c.case_id)
    return [
        ev.LegacyCaseRecorded(
            occurred_at=c.occurred_at,
            actor=c.actor,
            case_id=c.case_id,
            attributes=dict(c.attributes or {}),
        )
    ]


@dataclass(frozen=True)
class LegacyStep:
    """One event of a legacy trace, recorded as the log has it."""

    at: datetime
    activity: str
    agency_code: str  # the unit it happened at (its group's agency, else the last one named)
    user: str  # the actor's user it is recorded under
    resource: str
    original: Mapping[str, Any]  # its attributes as the log wrote them (typed values)


@dataclass(frozen=True, kw_only=True)
class RecordLegacyTrace(Command):
    """Record a legacy trace in one event, at `occurred_at` (its last event's time, or the
    receipt's when it holds none)."""

    name = "legacy_trace"
    case_id: str
    attributes: Mapping[str, Any] | None = None
    steps: Sequence[LegacyStep] = ()


def record_trace(state: Dossier, c: RecordLegacyTrace, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    _may_record_case(state, c.actor, c.case_id)
    previous = state.last_occurred_at
    activities = []
    for step in c.steps:
        if step.at < previous:
            raise RuleViolated(
                f"the legacy event at {step.at.isoformat()} is before {previous.isoformat()}: "
                "a trace is recorded in time order"
            )
        activity = step.activity.strip()
        if not activity:
            raise InvalidValue("activity must not be empty")
        if not step.agency_code:
            raise InvalidValue("every legacy event happened at a unit (agency_code)")
        activities.append(
            {
                "occurred_at": step.at.isoformat(),
                "activity": activity,
                "agency_code": step.agency_code,
                "user": step.user,
                "resource": step.resource,
                "original": step.original,
            }
        )
        previous = step.at
    if c.occurred_at < previous:
        raise RuleViolated("a legacy trace is recorded at its last event's time or later")
    return [
        ev.LegacyTraceRecorded(
            occurred_at=c.occurred_at,
            actor=c.actor,
            case_id=c.case_id,
            attributes=dict(c.attributes or {}),
            activities=tuple(activities),
        )
    ]
