"""The largest event the store takes: one whose Kafka record fits the events topic.

Every stored envelope is published byte for byte as one record of the events topic
(`gateways.kafka.relay`); a record over the topic's `max.message.bytes` would stop the relay
for good (docs/decisions.md, entry 207). So the store refuses such an event when it is
encoded (`gateways.eventstore.store.OversizedEvent`), where its bytes are known, and the
relay sizes its records with the same function.
"""

from __future__ import annotations

# The largest record the events topic takes (its max.message.bytes) and the relay sends: an
# imported legacy event may carry attributes beyond Kafka's default 1 MiB.
MAX_EVENT_BYTES = 16 * 1024 * 1024

# What a record adds to its key, value and headers in a record batch (lengths, offsets, the
# batch header), with room to spare.
RECORD_OVERHEAD = 1024

# The headers of an event's record.
CONTENT_TYPE = ("content-type", b"application/json")
NOTIFICATION_HEADER = "notification_id"
EVENT_TYPE_HEADER = "event-type"

# Digits of the largest notification id (a signed 64-bit number): before an event is committed
# its id is not known, so the store counts with the longest.
LONGEST_NOTIFICATION_ID = 19


def record_size(envelope_bytes: int, dossier_id: str, event_type: str, notification_digits: int) -> int:
    """An upper bound of the bytes an event's record takes in a batch of its own: the envelope,
    the dossier id for key, the headers and `RECORD_OVERHEAD`."""
    headers = (
        len(CONTENT_TYPE[0])
        + len(CONTENT_TYPE[1])
        + len(NOTIFICATION_HEADER)
        + notification_digits
        + len(EVENT_TYPE_HEADER)
        + len(event_type.encode())
    )
    return envelope_bytes + len(dossier_id.encode()) + headers + RECORD_OVERHEAD


def largest_envelope(dossier_id: str, event_type: str = "") -> int:
    """The most bytes an envelope of `dossier_id` (less the type's length when not given) may
    take so that its record fits `MAX_EVENT_BYTES` whatever its notification id."""
    return MAX_EVENT_BYTES - record_size(0, dossier_id, event_type, LONGEST_NOTIFICATION_ID)
