"""Hash-chain verification of stored dossier streams.

Every event's `hash` = SHA-256(prev_hash + canonical bytes of the rest), so an
edited, reordered or deleted event breaks the chain at that point, and an event stored
under another dossier's id than its own (streams swapped) is named too. A deleted
*last* event of a stream, or a whole stream rewritten with recomputed hashes,
leaves a valid chain: only the signed checkpoints (gateways/audit/verify.py) see those.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from gateways.eventstore.store import GENESIS_HASH, EventStore, chain_hash

DAMAGED = "damaged:"


@dataclass
class Verification:
    """What a verification run saw; `first_bad` names the first fault found."""

    checked_events: int = 0
    checkpoints_checked: int = 0
    covered_events: int = 0
    uncovered_events: int = 0
    last_checkpoint: int | None = None
    kept_checked: int = 0  # checkpoints kept outside the system found stored as kept
    first_bad: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "checked_events": self.checked_events,
            "checkpoints_checked": self.checkpoints_checked,
            "last_checkpoint": self.last_checkpoint,
            "covered_events": self.covered_events,
            "uncovered_events": self.uncovered_events,
            "kept_checked": self.kept_checked,
        }
        if self.first_bad:
            body["first_bad"] = self.first_bad
        return body


# What kind of fault a run found: a fault's `kind`, with the values its `reason` names as fields
# of their own, so that a reader in another language says the same (the dashboard does).
FAULT_KINDS = frozenset(
    {
        # a stream's hash chain (link_fault)
        "not_an_event",
        "moved",
        "missing",
        "prev_hash",
        "altered",
        "type_altered",
        # the signed checkpoints and the log under them (gateways/audit/verify.py)
        "checkpoint_missing",
        "unknown_key",
        "signature",
        "not_extending",
        "leaf_missing",
        "leaves_altered",
        "frontier_altered",
        "kept_missing",
        "kept_replaced",
        "deleted",
        "reordered",
        "rewritten",
        "inserted",
        "root_mismatch",
        "log_short",
    }
)


class Broken(Exception):
    """The first fault of a run: which event (when one can be named), what kind of fault
    (one of FAULT_KINDS) and why, in English; `extra` holds the values the reason names."""

    def __init__(self, dossier_id: str | None, seq: int | None, kind: str, reason: str, **extra: Any) -> None:
        assert kind in FAULT_KINDS, kind
        super().__init__(reason)
        self.fault: dict[str, Any] = {
            "dossier_id": dossier_id,
            "seq": seq,
            "kind": kind,
            "reason": reason,
            **extra,
        }


@dataclass(frozen=True)
class Examined:
    """One stored record, parsed once.

    `digest` is what a checkpoint leaf commits to: the event's own hash when its bytes
    agree with it, else a digest of the raw bytes, so damage already present when a
    checkpoint was signed is frozen into it rather than stopping checkpoints.
    """

    envelope: dict[str, Any] | None
    consistent: bool
    digest: str


def examine(raw: bytes) -> Examined:
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError:
        envelope = None
    if not isinstance(envelope, dict):
        return Examined(None, False, DAMAGED + hashlib.sha256(raw).hexdigest())
    claimed, prev = envelope.get("hash"), envelope.get("prev_hash")
    consistent = isinstance(claimed, str) and isinstance(prev, str) and chain_hash(prev, envelope) == claimed
    digest = str(claimed) if consistent else DAMAGED + hashlib.sha256(raw).hexdigest()
    return Examined(envelope, consistent, digest)


def link_fault(
    dossier_id: str, expected_seq: int, prev: str, seen: Examined, stored_type: str | None = None
) -> Broken | None:
    """Why `seen` cannot follow `prev` as event `expected_seq` of its stream, if it cannot.

    `stored_type`: the type the row is filed under (what the relay puts in the record's
    `event-type` header), outside the hash: it must be the envelope's own."""
    if seen.envelope is None:
        return Broken(
            dossier_id, expected_seq, "not_an_event", "stored bytes are not an event (not a JSON object)"
        )
    owner = seen.envelope.get("dossier_id")
    if owner != dossier_id:
        # The hash covers the envelope's own dossier id, not the row it is stored under: a stream
        # moved to another dossier's id (two dossiers' streams swapped) keeps a valid chain.
        return Broken(
            dossier_id,
            expected_seq,
            "moved",
            f"stored under this dossier but the event is of dossier {owner} (moved between streams)",
            owner=owner,
        )
    seq = seen.envelope.get("seq")
    if seq != expected_seq:
        return Broken(
            dossier_id,
            expected_seq,
            "missing",
            f"event {expected_seq} is missing (found seq {seq})",
            found_seq=seq,
        )
    if seen.envelope.get("prev_hash") != prev:
        return Broken(
            dossier_id,
            expected_seq,
            "prev_hash",
            "prev_hash does not match the previous event (deleted or reordered)",
        )
    if not seen.consistent:
        return Broken(dossier_id, expected_seq, "altered", "content does not match its hash (altered)")
    if stored_type is not None and stored_type != seen.envelope.get("type"):
        return Broken(
            dossier_id,
            expected_seq,
            "type_altered",
            f"stored as a {stored_type} event but the event is a {seen.envelope.get('type')} "
            "(the row's type was altered)",
            stored_type=stored_type,
            event_type=seen.envelope.get("type"),
        )
    return None


class ChainHeads:
    """The last seq and hash of every stream seen so far: the only state that grows with the log."""

    def __init__(self) -> None:
        self._heads: dict[str, tuple[int, str]] = {}

    def follow(self, dossier_id: str, seen: Examined, stored_type: str | None = None) -> Broken | None:
        last_seq, prev = self._heads.get(dossier_id, (0, GENESIS_HASH))
        fault = link_fault(dossier_id, last_seq + 1, prev, seen, stored_type)
        if fault is None:
            self._heads[dossier_id] = (last_seq + 1, seen.digest)
        return fault


def verify_chains(store: EventStore, dossier_id: str | None = None, batch: int = 1000) -> Verification:
    """Recompute the hash chain of one stream, or of every stream in append order."""
    result = Verification()
    heads = ChainHeads()
    try:
        if dossier_id is not None:
            stream = str(uuid.UUID(dossier_id))
            for record in store.recorder.select_events(uuid.UUID(dossier_id)):
                fault = heads.follow(stream, examine(bytes(record.state)), record.topic)
                if fault:
                    raise fault
                result.checked_events += 1
            return result
        position = 0
        while batch_rows := store.recorder.select_notifications(position, batch, inclusive_of_start=False):
            for note in batch_rows:
                fault = heads.follow(str(note.originator_id), examine(bytes(note.state)), note.topic)
                if fault:
                    raise fault
                result.checked_events += 1
            position = batch_rows[-1].id
    except Broken as exc:
        result.first_bad = exc.fault
    return result
