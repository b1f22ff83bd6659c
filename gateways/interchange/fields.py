"""Which payload fields of each event type an export carries, and as what kind of value.

Taken from the event dataclasses' own type hints, so a field added to an event
is exported without touching this package. Applicant data (PII, ciphertext in
the store anyway) and the lookup secret's hash never leave.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, Literal

from domain.events import EVENT_TYPES

Kind = Literal["string", "date", "int", "float", "boolean"]

# Never exported: PII and secrets, nested structures, and what the trace already says.
NOT_EXPORTED = frozenset(
    {
        "applicant",
        "lookup_secret_hash",
        "route",
        "attributes",
        "dossier_id",
        "receipt_code",
        "procedure_code",
        "activity",
        "resource",
    }
)


def _kind(tp: Any) -> Kind | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        kinds = {_kind(arg) for arg in typing.get_args(tp) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if tp is datetime:
        return "date"
    if tp is bool:
        return "boolean"
    if tp is int:
        return "int"
    if tp is float:
        return "float"
    if tp is str or (isinstance(tp, type) and issubclass(tp, Enum)):
        return "string"
    return None


@cache
def payload_fields(type_name: str) -> tuple[tuple[str, Kind], ...]:
    """(field, kind) of the scalar payload fields an export writes for this event type."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        return ()
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in NOT_EXPORTED or f.name in ("occurred_at", "actor"):
            continue
        kind = _kind(hints[f.name])
        if kind is not None:
            out.append((f.name, kind))
    return tuple(out)


def activity_of(envelope: dict[str, Any]) -> str:
    """The activity an event stands for: the legacy step's name, else the event type."""
    if envelope["type"] == "LegacyActivityRecorded":
        return str(envelope["payload"].get("activity") or envelope["type"])
    return str(envelope["type"])
