"""Hash-chain verification of stored dossier streams.

Every event's `hash` = SHA-256(prev_hash + canonical bytes of the rest), so an
edited, reordered or deleted event breaks the chain at that point. (A deleted
*last* event of a stream is caught only by signed checkpoints over all streams.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from gateways.eventstore.store import GENESIS_HASH, EventStore, chain_hash


@dataclass
class Verification:
    checked_events: int = 0
    first_bad: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "checked_events": self.checked_events}
        if self.first_bad:
            body["first_bad"] = self.first_bad
        return body


def _check(result: Verification, dossier_id: str, expected_seq: int, prev: str, raw: bytes) -> str | None:
    """Check one stored record; returns its hash, or None after recording the fault."""
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        result.first_bad = {
            "dossier_id": dossier_id,
            "seq": expected_seq,
            "reason": "stored bytes are not JSON",
        }
        return None
    seq = envelope.get("seq")
    if seq != expected_seq:
        result.first_bad = {
            "dossier_id": dossier_id,
            "seq": expected_seq,
            "reason": f"event {expected_seq} is missing (found seq {seq})",
        }
        return None
    if envelope.get("prev_hash") != prev:
        result.first_bad = {
            "dossier_id": dossier_id,
            "seq": seq,
            "reason": "prev_hash does not match the previous event (deleted or reordered)",
        }
        return None
    if chain_hash(prev, envelope) != envelope.get("hash"):
        result.first_bad = {
            "dossier_id": dossier_id,
            "seq": seq,
            "reason": "content does not match its hash (altered)",
        }
        return None
    result.checked_events += 1
    return str(envelope["hash"])


def verify_chains(store: EventStore, dossier_id: str | None = None) -> Verification:
    result = Verification()
    if dossier_id is not None:
        records = store.recorder.select_events(uuid.UUID(dossier_id))
        prev = GENESIS_HASH
        for expected, record in enumerate(records, start=1):
            got = _check(result, dossier_id, expected, prev, bytes(record.state))
            if got is None:
                return result
            prev = got
        return result
    heads: dict[str, tuple[int, str]] = {}
    position = 0
    while True:
        batch = store.recorder.select_notifications(position, 1000, inclusive_of_start=False)
        if not batch:
            return result
        for n in batch:
            stream = str(n.originator_id)
            last_seq, prev = heads.get(stream, (0, GENESIS_HASH))
            got = _check(result, stream, last_seq + 1, prev, bytes(n.state))
            if got is None:
                return result
            heads[stream] = (last_seq + 1, got)
        position = batch[-1].id
