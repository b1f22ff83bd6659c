"""The envelope's derived fields, computed the short way, are what their definitions say:
the event id is the UUIDv5 of the stream and seq, the hash is `chain_hash` over the
envelope, and plain JSON values encode to themselves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from gateways.eventstore.codec import json_tree, to_jsonable
from gateways.eventstore.store import GENESIS_HASH, StreamAppend, chain_hash, encode, event_id


@given(st.uuids(), st.integers(min_value=0, max_value=10**12))
@settings(max_examples=300)
def test_event_id_is_the_uuid5_of_stream_and_seq(stream: uuid.UUID, seq: int) -> None:
    assert event_id(stream, seq) == str(uuid.uuid5(stream, str(seq)))


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
mixed_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | instants,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


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
