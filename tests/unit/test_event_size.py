"""The store takes an event exactly as large as the relay can publish, and refuses one byte more
(one measure, gateways/eventstore/limits.py, for the store, the relay and the topic)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain import events as ev
from gateways.eventstore.limits import MAX_EVENT_BYTES, largest_envelope
from gateways.eventstore.store import (
    GENESIS_HASH,
    Outgoing,
    OversizedEvent,
    StreamAppend,
    encode,
    encode_rows,
)
from gateways.kafka.relay import record_size

DOSSIER = str(uuid.UUID(int=7))
LARGEST_NOTIFICATION_ID = 2**63 - 1


def _append(padding: int) -> StreamAppend:
    event = ev.LegacyActivityRecorded(
        occurred_at=datetime(2024, 3, 1, 2, tzinfo=UTC),
        actor=ev.Actor(agency_code="A", user="u", role="integration"),
        activity="Review",
        agency_code="A",
        original={"note": {"type": "string", "value": "A" * padding}},
    )
    return StreamAppend(DOSSIER, 0, GENESIS_HASH, [event])


def test_the_largest_event_stored_fits_the_topic_and_one_byte_more_is_refused() -> None:
    kind = "LegacyActivityRecorded"
    base = len(encode(_append(0), None).records[0].raw)
    fits = largest_envelope(DOSSIER, kind) - base
    [record] = encode(_append(fits), None).records
    assert len(record.raw) == largest_envelope(DOSSIER, kind)
    outgoing = Outgoing(record.raw, DOSSIER, kind, LARGEST_NOTIFICATION_ID)
    assert record_size(outgoing) == MAX_EVENT_BYTES  # what the relay checks, at the topic's limit

    for encoder in (encode, encode_rows):  # the writer's, and an import worker's
        with pytest.raises(OversizedEvent, match="event 1 \\(LegacyActivityRecorded\\)") as refused:
            encoder(_append(fits + 1), None)
        assert refused.value.size == largest_envelope(DOSSIER, kind) + 1
        assert refused.value.limit == largest_envelope(DOSSIER, kind)
