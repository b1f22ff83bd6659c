"""Imported legacy history: the case a dossier was in a legacy log, and typed XES values.

A legacy log's attributes are kept as the log wrote them, JSON-ready, each a *typed value*:

    {"type": "string" | "date" | "int" | "float" | "boolean" | "id", "value": ...}
    {"type": "list" | "container", "value": [{"key": ..., "type": ..., "value": ...}, ...]}

with `"children": {key: typed value, ...}` when the attribute has nested attributes. A
value is a JSON string for string, date (as written), id; a JSON integer, number or
boolean for int, float, boolean. Lists keep their items in order (keys may repeat).

Events the importer adds on its own (the receipt a log does not state, handoffs read
from a change of `org:group`) are *synthesized*: their actor's user is
`SYNTHESIZED_USER`, so exports can leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


def record_case(state: Dossier, c: RecordLegacyCase, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    if c.actor.role != INTEGRATION:
        raise ActorNotAllowed("only the integration role imports legacy history")
    if not state.imported:
        raise RuleViolated("a legacy case belongs only to imported history")
    if state.external_case_id is not None:
        raise RuleViolated("the dossier already names its legacy case")
    if not c.case_id.strip():
        raise InvalidValue("case_id is required")
    return [
        ev.LegacyCaseRecorded(
            occurred_at=c.occurred_at,
            actor=c.actor,
            case_id=c.case_id,
            attributes=dict(c.attributes or {}),
        )
    ]
