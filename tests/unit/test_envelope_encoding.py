"""The envelope's derived fields, computed the short way, are what their definitions say:
the event id is the UUIDv5 of the stream and seq, the hash is `chain_hash` over the
envelope, and plain JSON values encode to themselves."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum, StrEnum
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from gateways.eventstore.codec import event_payload, json_tree, to_jsonable
from gateways.eventstore.store import GENESIS_HASH, StreamAppend, chain_hash, encode, encode_rows, event_id
from gateways.interchange.xes_import import IMPORT_NAMESPACE, dossier_id_for


@given(st.uuids(), st.integers(min_value=0, max_value=10**12))
@settings(max_examples=300)
def test_event_id_is_the_uuid5_of_stream_and_seq(stream: uuid.UUID, seq: int) -> None:
    assert event_id(stream, seq) == str(uuid.uuid5(stream, str(seq)))


@given(st.uuids(), st.text(max_size=60))
def test_an_imported_trace_s_dossier_id_is_the_uuid5_of_log_and_case(log: uuid.UUID, case: str) -> None:
    assert dossier_id_for(str(log), case) == str(uuid.uuid5(IMPORT_NAMESPACE, f"{log}\n{case}"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_plain_json_values_encode_to_themselves(value: Any) -> None:
    encoded = to_jsonable(value)
    assert encoded == value and type(encoded) is type(value)


instants = st.datetimes(timezones=st.just(UTC)) | st.datetimes(
    timezones=st.just(timezone(timedelta(hours=7)))
)


# Finite floats: JSON has no infinity, so either path stores one as null; the XES reader keeps a
# non-finite xs:double as its text (gateways/interchange/xes.py).
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


def json_trees(numbers: st.SearchStrategy[int], max_leaves: int) -> st.SearchStrategy[Any]:
    """Nested lists and mappings of plain values and instants."""
    return st.recursive(
        st.none()
        | st.booleans()
        | numbers
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
        | instants,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


mixed_values = json_trees(st.integers(), max_leaves=20)


@given(st.dictionaries(st.text(max_size=8), mixed_values, max_size=6))
def test_attribute_trees_copy_as_to_jsonable_converts_them(value: dict[str, Any]) -> None:
    assert json_tree(value) == to_jsonable(value)


def test_values_that_are_not_plain_json_still_convert() -> None:
    at = datetime(2024, 3, 4, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    actor = ev.Actor(agency_code="A", user="u", role="officer")
    assert to_jsonable({"at": at, "actor": actor, "channel": ev.Channel.ONLINE, "pair": (1, 2)}) == {
        "at": "2024-03-04T09:00:00+07:00",
        "actor": {"agency_code": "A", "user": "u", "role": "officer"},
        "channel": "online",
        "pair": [1, 2],
    }
    assert to_jsonable({ev.Channel.ONLINE: 1}) == {str(ev.Channel.ONLINE): 1}
    assert json_tree({"channel": ev.Channel.ONLINE, "at": at}) == {"channel": "online", "at": to_jsonable(at)}


def test_each_envelope_hash_chains_over_the_one_before() -> None:
    stream = str(uuid.uuid4())
    actor = ev.Actor(agency_code="A", user="u", role="integration")
    start = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    events = [
        ev.LegacyActivityRecorded(
            occurred_at=start + timedelta(hours=n),
            actor=actor,
            activity=f"step {n}",
            agency_code="A",
            original={"concept:name": {"type": "string", "value": f"step {n}"}},
        )
        for n in range(3)
    ]
    encoded = encode(StreamAppend(stream, 4, GENESIS_HASH, events), None)
    prev = GENESIS_HASH
    for seq, record in enumerate(encoded.records, start=5):
        envelope = record.envelope
        assert envelope["seq"] == seq and envelope["event_id"] == str(uuid.uuid5(uuid.UUID(stream), str(seq)))
        assert envelope["prev_hash"] == prev and envelope["hash"] == chain_hash(prev, envelope)
        prev = envelope["hash"]


# What a stored event's mapping can hold: JSON numbers in 64 bits (orjson's range).
stored_values = json_trees(st.integers(-(2**63), 2**63 - 1), max_leaves=12)


def _values_of(tp: Any) -> st.SearchStrategy[Any]:
    """Values of a field's type hint, for random events of every type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[_values_of(arg) for arg in typing.get_args(tp)])
    if origin in (tuple, list):
        return st.lists(_values_of(typing.get_args(tp)[0]), max_size=3).map(tuple)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return st.dictionaries(st.text(max_size=8), stored_values, max_size=4)
    if tp is type(None):
        return st.none()
    if tp is datetime:
        return instants
    if tp is date:
        return st.dates()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(2**40), 2**40)
    if tp is float:
        return st.floats(min_value=0.25, max_value=1e9)  # budgets and hours are positive
    if tp is str:
        return st.text(max_size=12)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: _values_of(hints[f.name]) for f in dataclasses.fields(tp) if f.init}
        return st.fixed_dictionaries(fields).map(lambda kwargs: tp(**kwargs))
    raise AssertionError(f"no strategy for {tp!r}")


any_event = st.sampled_from(sorted(ev.EVENT_TYPES.values(), key=lambda cls: cls.__name__)).flatmap(_values_of)


def _expected_envelope(stream: str, seq: int, prev: str, event: ev.DossierEvent) -> dict[str, Any]:
    """The envelope by its definition: every value through the generic `to_jsonable`."""
    occurred = to_jsonable(event.occurred_at)
    names = [f.name for f in dataclasses.fields(event) if f.name not in ("occurred_at", "actor")]
    return {
        "event_id": str(uuid.uuid5(uuid.UUID(stream), str(seq))),
        "dossier_id": stream,
        "seq": seq,
        "type": type(event).__name__,
        "occurred_at": occurred,
        "recorded_at": occurred,
        "agency_code": event.actor.agency_code,
        "actor": to_jsonable(event.actor),
        "payload": {name: to_jsonable(getattr(event, name)) for name in names},
        "prev_hash": prev,
        "schema_version": 1,
    }


@given(st.lists(any_event, min_size=1, max_size=6), st.booleans())
@settings(max_examples=150, deadline=None)
def test_random_events_of_every_type_encode_as_their_definition_says(
    events: list[ev.DossierEvent], shared_instant: bool
) -> None:
    """The short ways of `encode` (per-type payload encoders, one text per shared instant) give
    the envelope of the generic encoding; its hash is `chain_hash` of the canonical bytes, and
    the stored bytes parse back to it."""
    if shared_instant:  # decided together: one datetime object for all (as a handoff pair)
        events = [dataclasses.replace(e, occurred_at=events[0].occurred_at) for e in events]
    stream = str(uuid.uuid4())
    encoded = encode(StreamAppend(stream, 2, GENESIS_HASH, events), None)
    prev = GENESIS_HASH
    for seq, (event, record, stored) in enumerate(
        zip(events, encoded.records, encoded.stored, strict=True), 3
    ):
        expected = _expected_envelope(stream, seq, prev, event)
        body = {k: v for k, v in record.envelope.items() if k != "hash"}
        assert body == expected
        assert record.envelope["hash"] == chain_hash(prev, expected)
        assert orjson.loads(record.raw) == record.envelope and stored.state == record.raw
        assert (stored.originator_version, stored.topic) == (seq, type(event).__name__)
        prev = record.envelope["hash"]


metadata_values = st.none() | st.dictionaries(st.text(max_size=6), stored_values, max_size=3)


@given(st.lists(any_event, min_size=1, max_size=6), metadata_values, st.none() | instants)
@settings(max_examples=150, deadline=None)
def test_rows_dumped_without_copying_the_attributes_are_the_rows_encode_stores(
    events: list[ev.DossierEvent], metadata: dict[str, Any] | None, recorded_at: datetime | None
) -> None:
    """`encode_rows` (the XES import's workers) stores the bytes `encode` stores, whether the
    attribute mappings and the metadata are plain JSON (dumped as they are) or hold instants
    to convert (encoded the copying way)."""
    append = StreamAppend(str(uuid.uuid4()), 1, GENESIS_HASH, events, metadata)
    assert encode_rows(append, recorded_at) == [
        (s.topic, s.state) for s in encode(append, recorded_at).stored
    ]


def test_attributes_dumped_as_they_are_stay_as_they_were() -> None:
    """Tuples, a non-finite float and an instant in an event's attributes: the same bytes as
    the copying way, and the event's own mapping is not changed by either."""
    actor = ev.Actor(agency_code="A", user="u", role="integration")
    at = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    plain = {"pair": (1, 2), "ratio": float("nan"), "nested": {"list": [1.5, "x", None]}}
    events = [
        ev.LegacyActivityRecorded(occurred_at=at, actor=actor, activity="a", agency_code="A", original=plain),
        ev.LegacyActivityRecorded(
            occurred_at=at, actor=actor, activity="b", agency_code="A", original={"at": at}
        ),
    ]
    append = StreamAppend(str(uuid.uuid4()), 0, GENESIS_HASH, events)
    rows = encode_rows(append, None)
    assert rows == [(s.topic, s.state) for s in encode(append, None).stored]
    payloads = [orjson.loads(raw)["payload"]["original"] for _type, raw in rows]
    assert payloads == [
        {"pair": [1, 2], "ratio": None, "nested": {"list": [1.5, "x", None]}},
        {"at": at.isoformat()},
    ]
    assert events[0].original == {
        "pair": (1, 2),
        "ratio": plain["ratio"],
        "nested": {"list": [1.5, "x", None]},
    }
    assert events[1].original == {"at": at}


class _Text(str):
    pass


class _Number(int):
    pass


class _Mapping(dict):  # type: ignore[type-arg]
    pass


class _Kind(StrEnum):
    DESK = "desk"


@pytest.mark.parametrize(
    "original",
    [
        {"text": _Text("subclass")},
        {"count": _Number(3)},
        {"nested": _Mapping(a=1)},
        {"kind": _Kind.DESK},
        {"channel": ev.Channel.ONLINE},
        {3: "int key"},
        {None: "no key"},
        {_Text("key"): 1},
        {"big": 2**64},
        {"text": "lone \ud800 surrogate"},
        {"at": datetime(2024, 3, 4, 9, 0)},  # naive
        {"day": date(2024, 3, 4)},
        {"actor": ev.Actor(agency_code="A", user="u", role="officer")},
        {"blob": b"bytes"},
        {"many": {1, 2}},
        {"inf": math.inf, "nan": math.nan, "zero": -0.0},
        _Mapping(top="level"),
    ],
    ids=repr,
)
def test_values_that_are_not_plain_json_encode_or_fail_the_same_way_without_the_copy(original: Any) -> None:
    """Subclasses, enums, keys that are not text, integers beyond 64 bits, a lone surrogate,
    instants and dates, dataclasses, bytes and sets in an event's attributes: `encode_rows`
    stores what `encode` stores, or refuses what it refuses."""
    at = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    actor = ev.Actor(agency_code="A", user="u", role="integration")
    event = ev.LegacyActivityRecorded(
        occurred_at=at, actor=actor, activity="a", agency_code="A", original=original
    )
    append = StreamAppend(str(uuid.uuid4()), 0, GENESIS_HASH, [event])
    try:
        expected: Any = [(s.topic, s.state) for s in encode(append, None).stored]
    except Exception as exc:  # refused: the same kind of error either way
        expected = type(exc)
    try:
        got: Any = encode_rows(append, None)
    except Exception as exc:
        got = type(exc)
    assert got == expected


def test_one_instant_in_two_offsets_keeps_each_its_own_text() -> None:
    """Equal instants written in different offsets are different texts: the text is reused
    for the same datetime object only, not for an equal one."""
    actor = ev.Actor(agency_code="A", user="u", role="integration")
    at = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    times = [at, at, at.astimezone(timezone(timedelta(hours=7))), at]
    events = [
        ev.LegacyActivityRecorded(occurred_at=t, actor=actor, activity="a", agency_code="A") for t in times
    ]
    texts = [
        r.envelope["occurred_at"]
        for r in encode(StreamAppend(str(uuid.uuid4()), 0, GENESIS_HASH, events), None).records
    ]
    assert texts == [
        "2024-03-04T09:00:00+00:00",
        "2024-03-04T09:00:00+00:00",
        "2024-03-04T16:00:00+07:00",
        "2024-03-04T09:00:00+00:00",
    ]


def test_enum_and_datetime_fields_that_hold_other_values_convert_the_generic_way() -> None:
    """A field typed as an enum or an instant that holds something else (a caller's plain
    text, a naive time) is converted, or refused, as `to_jsonable` does."""
    actor = ev.Actor(agency_code="A", user="u", role="officer")
    at = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    handed = ev.HandedOff(
        occurred_at=at,
        actor=actor,
        from_agency_code="A",
        to_agency_code="B",
        route_step=None,
        step_timeliness=typing.cast(Any, "late"),
    )
    assert event_payload(handed)["step_timeliness"] == "late"
    assert (
        event_payload(dataclasses.replace(handed, step_timeliness=ev.Timeliness.EARLY))["step_timeliness"]
        == "early"
    )
    accepted = ev.HandoffAccepted(
        occurred_at=at, actor=actor, from_agency_code="A", to_agency_code="B", route_step=None, step_due_at=at
    )
    assert event_payload(accepted)["step_due_at"] == "2024-03-04T09:00:00+00:00"
    naive = dataclasses.replace(accepted, step_due_at=datetime(2024, 3, 4, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        event_payload(naive)
