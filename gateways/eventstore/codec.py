"""Domain events <-> JSON-ready dicts, driven by the dataclasses' own type hints.

One generic codec instead of a hand-written mapper per event: adding a field to
an event needs no codec change, and decoding checks the types it reads.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any

import orjson

from domain.events import EVENT_TYPES, DossierEvent


class DecodeError(ValueError):
    """A stored or received record cannot be turned back into an event."""


_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    kind = type(value)
    # The exact JSON types first: imported history carries deep trees of them.
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): to_jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; every instant carries its offset")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_jsonable(getattr(value, name)) for name in _field_names(typing.cast(type, kind))}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Convert = Callable[[Any], Any]


def from_jsonable(tp: Any, value: Any) -> Any:
    return converter(tp)(value)


@cache
def converter(tp: Any) -> Convert:
    """A function that turns JSON values into `tp`, built once per type (decoding is hot:
    every view and every read folds events)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [converter(arg) for arg in typing.get_args(tp) if arg is not type(None)]
        optional = type(None) in typing.get_args(tp)

        def union(value: Any) -> Any:
            if value is None and optional:
                return None
            errors = []
            for option in options:
                try:
                    return option(value)
                except (TypeError, ValueError) as exc:
                    errors.append(str(exc))
            raise DecodeError("; ".join(errors) or f"no type of {tp} fits {value!r}")

        return union
    if tp is Any:
        return _same
    if origin in (tuple, list):
        item = converter(typing.get_args(tp)[0])

        def sequence(value: Any) -> Any:
            if not isinstance(value, list):
                raise DecodeError(f"expected a list, got {type(value).__name__}")
            return tuple(item(v) for v in value)

        return sequence
    if origin in (dict, Mapping) or tp in (dict, Mapping) or origin is typing.Mapping:
        return _mapping
    if isinstance(tp, type):
        if tp is datetime:
            return _instant
        if tp is date:
            return date.fromisoformat
        if issubclass(tp, Enum):
            return tp
        if dataclasses.is_dataclass(tp):
            return _dataclass_converter(tp)
        if tp is float:
            return _number
        if tp in (int, str, bool):
            return _exact(tp)
    raise DecodeError(f"unsupported type {tp!r}")


def _same(value: Any) -> Any:
    return value


def _mapping(value: Any) -> Any:
    if not isinstance(value, dict):
        raise DecodeError(f"expected an object, got {type(value).__name__}")
    return value


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise DecodeError(f"expected an ISO instant, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise DecodeError(f"instant without offset: {value!r}")
    return parsed


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"expected a number, got {value!r}")
    return float(value)


def _exact(tp: type) -> Convert:
    def exact(value: Any) -> Any:
        if type(value) is not tp and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
            raise DecodeError(f"expected {tp.__name__}, got {value!r}")
        return value

    return exact


def _dataclass_converter(cls: type) -> Convert:
    hints = _hints(cls)
    fields = [
        (
            f.name,
            converter(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    ]

    def build(data: Any) -> Any:
        if not isinstance(data, dict):
            raise DecodeError(f"{cls.__name__}: expected an object")
        kwargs = {}
        for name, convert, required in fields:
            if name in data:
                kwargs[name] = convert(data[name])
            elif required:
                raise DecodeError(f"{cls.__name__}: missing field '{name}'")
        return cls(**kwargs)

    return build


def decode_dataclass(cls: type, data: Any) -> Any:
    return converter(cls)(data)


def event_payload(event: DossierEvent) -> dict[str, Any]:
    """The event's own fields, minus the envelope's (time and actor)."""
    encode: Callable[[Any], dict[str, Any]] = _payload_encoder(typing.cast(Any, type(event)))
    return encode(event)


def event_payload_uncopied(event: DossierEvent) -> dict[str, Any]:
    """`event_payload` with each mapping of JSON values (an imported event's attributes) left
    as it is instead of copied: the same JSON once dumped by `plain_dump`, which refuses
    what is not plain JSON; the caller then encodes the event with `event_payload`. The
    payload shares those mappings with the event: for a caller that only dumps it."""
    encode: Callable[[Any], dict[str, Any]] = _payload_encoder(typing.cast(Any, type(event)), copy=False)
    return encode(event)


@cache
def _payload_encoder(cls: type, copy: bool = True) -> Callable[[Any], dict[str, Any]]:
    """Per event class, the fields to encode and how, decided once from the type hints
    (writing is hot too: every command encodes its events)."""
    hints = _hints(cls)
    fields = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(cls) if f.name not in _ENVELOPE]
    if not copy:
        fields = [(name, _same if enc is json_tree else enc) for name, enc in fields]

    def encode(event: Any) -> dict[str, Any]:
        return {name: enc(getattr(event, name)) for name, enc in fields}

    return encode


_ENVELOPE = frozenset({"occurred_at", "actor"})


@cache
def _encoder(tp: Any) -> Convert:
    """A JSON encoder for values of `tp`: plain values pass as they are, the rest go through
    `to_jsonable` (datetimes, enums, nested dataclasses, mappings)."""
    if tp in (int, str, bool, float):
        return _same
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and all(
        arg in (int, str, bool, float, type(None)) for arg in typing.get_args(tp)
    ):
        return _same
    if origin in (dict, Mapping) and typing.get_args(tp)[1:] in ((Any,), (str,)):
        return json_tree
    if origin in (tuple, list) and _is_json_mapping(typing.get_args(tp)[0]):
        return json_tree  # JSON objects (an imported trace's events): an array of them
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(tp) if arg is not type(None)]
    else:
        kinds = [] if origin else [tp]
    if len(kinds) == 1 and kinds[0] is datetime:
        return instant_text
    if len(kinds) == 1 and isinstance(kinds[0], type) and issubclass(kinds[0], Enum):
        return _enum_encoder(kinds[0])
    return to_jsonable


def _is_json_mapping(tp: Any) -> bool:
    return typing.get_origin(tp) in (dict, Mapping) and typing.get_args(tp)[1:] in ((Any,), (str,))


def instant_text(value: Any) -> Any:
    """`to_jsonable` of a datetime field: an aware datetime's ISO text without the generic walk."""
    if type(value) is datetime and value.tzinfo is not None:
        return value.isoformat()
    return to_jsonable(value)


def _enum_encoder(cls: type[Enum]) -> Convert:
    """`to_jsonable` of an enum field (or an optional one): a member of `cls` gives its value."""
    if issubclass(cls, date):  # pragma: no cover - `to_jsonable` writes these as dates
        return to_jsonable

    def member_value(value: Any) -> Any:
        if type(value) is cls:
            return value.value
        return to_jsonable(value)

    return member_value


# What orjson must hand back instead of writing in its own way (then `to_jsonable` decides).
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def plain_dump(value: Any, option: int = 0) -> bytes | None:
    """orjson's bytes of `value` (with `option` too), or None where it holds anything that is
    not plain JSON (or that orjson refuses otherwise)."""
    try:
        return orjson.dumps(value, option=option | _PLAIN_ONLY)
    except TypeError:
        return None


def json_tree(value: Any) -> Any:
    """`to_jsonable` for a mapping of JSON values (an imported event's attributes): copied
    by orjson, in C; anything that is not plain JSON goes the long way."""
    if type(value) is dict and not value:
        return {}
    dumped = plain_dump(value)
    return orjson.loads(dumped) if dumped is not None else to_jsonable(value)


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
