"""Domain events <-> JSON-ready dicts, driven by the dataclasses' own type hints.

One generic codec instead of a hand-written mapper per event: adding a field to
an event needs no codec change, and decoding checks the types it reads.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any

from domain.events import EVENT_TYPES, DossierEvent


class DecodeError(ValueError):
    """A stored or received record cannot be turned back into an event."""


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; every instant carries its offset")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_jsonable(arg, value)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise DecodeError("; ".join(errors) or f"no type of {tp} fits {value!r}")
    if tp is Any:
        return value
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if not isinstance(value, list):
            raise DecodeError(f"expected a list, got {type(value).__name__}")
        return tuple(from_jsonable(args[0], v) for v in value)
    if origin in (dict, Mapping) or tp in (dict, Mapping) or origin is typing.Mapping:
        if not isinstance(value, dict):
            raise DecodeError(f"expected an object, got {type(value).__name__}")
        return value
    if isinstance(tp, type):
        if tp is datetime:
            if not isinstance(value, str):
                raise DecodeError(f"expected an ISO instant, got {value!r}")
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise DecodeError(f"instant without offset: {value!r}")
            return parsed
        if tp is date:
            return date.fromisoformat(value)
        if issubclass(tp, Enum):
            return tp(value)
        if dataclasses.is_dataclass(tp):
            return decode_dataclass(tp, value)
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DecodeError(f"expected a number, got {value!r}")
            return float(value)
        if tp in (int, str, bool):
            if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
                raise DecodeError(f"expected {tp.__name__}, got {value!r}")
            return value
    raise DecodeError(f"unsupported type {tp!r}")


def decode_dataclass(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DecodeError(f"{cls.__name__}: expected an object")
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = from_jsonable(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DecodeError(f"{cls.__name__}: missing field '{f.name}'")
    return cls(**kwargs)


def event_payload(event: DossierEvent) -> dict[str, Any]:
    """The event's own fields, minus the envelope's (time and actor)."""
    data = to_jsonable(event)
    data.pop("occurred_at")
    data.pop("actor")
    return typing.cast(dict[str, Any], data)


def decode_event(type_name: str, occurred_at: str, actor: Any, payload: Any) -> DossierEvent:
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise DecodeError(f"unknown event type '{type_name}'")
    if not isinstance(payload, dict):
        raise DecodeError("payload must be an object")
    return typing.cast(
        DossierEvent,
        decode_dataclass(cls, {**payload, "occurred_at": occurred_at, "actor": actor}),
    )
