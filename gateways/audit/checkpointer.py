"""Signed checkpoints over the whole event log, and inclusion proofs against them.

A checkpoint n covers the first `size` events in append order (notification ids up
to `last_notification_id`): it records one leaf per new event, resumes the Merkle
tree from the previous checkpoint's frontier, and signs the new root with the
server's Ed25519 key. `maybe_checkpoint` is cheap to call often; it signs when
`every_events` events are waiting or `every_seconds` have passed since the last one, and in
any case once an event has waited `max_delay_seconds`.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateways.audit.chains import Verification, examine
from gateways.audit.ledger import Checkpoint, Leaf, Ledger, frontier_text
from gateways.audit.signing import (
    LEAF_FORMAT,
    MESSAGE_FORMAT,
    checkpoint_message,
    event_leaf,
    key_id,
    public_key_pem,
    raw_public_key,
    sign,
    signature_valid,
    trusted_keys,
)
from gateways.audit.verify import Kept, verify_all
from gateways.eventstore.store import EventStore
from gateways.sql import Database
from projections.merkle import MerkleFrontier, inclusion_proof, verify_inclusion

log = logging.getLogger("lienthong.audit")

# Serialises checkpoint writers across processes on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
_PG_LOCK_KEY = 0x6C74_6175_6469_74  # "ltaudit"


class AuditRecordsDamaged(Exception):
    """The audit tables no longer agree with a signed checkpoint; `lienthong audit verify` says where."""


class UnknownEvent(Exception):
    """No such event in the store."""


class UnknownCheckpoint(Exception):
    """No checkpoint with that number."""


class NotCheckpointed(Exception):
    """The event exists but no (requested) checkpoint covers it yet."""


def _resume(last: Checkpoint | None) -> MerkleFrontier:
    """The tree as the last checkpoint left it, checked against its signed root."""
    if last is None:
        return MerkleFrontier()
    try:
        tree = MerkleFrontier(last.size, [bytes.fromhex(node) for node in last.frontier.split()])
    except ValueError as exc:
        raise AuditRecordsDamaged(f"the stored frontier of checkpoint {last.n} is unreadable: {exc}") from exc
    if tree.root().hex() != last.root:
        raise AuditRecordsDamaged(
            f"the stored frontier of checkpoint {last.n} does not hash to its signed root"
        )
    return tree


@dataclass(frozen=True)
class InclusionProof:
    dossier_id: str
    seq: int
    event_hash: str
    leaf_hash: bytes
    leaf_index: int
    path: list[bytes]
    checkpoint: Checkpoint

    def as_json(self) -> dict[str, Any]:
        return {
            "dossier_id": self.dossier_id,
            "seq": self.seq,
            "event_hash": self.event_hash,
            "leaf_hash": self.leaf_hash.hex(),
            "leaf_encoding": LEAF_FORMAT,
            "leaf_index": self.leaf_index,
            "tree_size": self.checkpoint.size,
            "path": [node.hex() for node in self.path],
            "checkpoint_n": self.checkpoint.n,
            "checkpoint": self.checkpoint.as_json(),
        }


class Checkpointer:
    def __init__(
        self,
        db: Database,
        store: EventStore,
        signing_key: Ed25519PrivateKey,
        every_events: int = 1000,
        every_seconds: float = 300,
        batch: int = 1000,
        most_events: int = 50_000,
        max_delay_seconds: float | None = None,
        retired_keys: Sequence[Ed25519PublicKey] = (),
    ) -> None:
        self.ledger = Ledger(db, batch)
        self._db = db
        self._store = store
        self._key = signing_key
        self.public_key: Ed25519PublicKey = signing_key.public_key()
        self.key_id = key_id(self.public_key)
        # Public keys of rotated signing keys: checkpoints they signed still verify.
        self.retired_keys = list(retired_keys)
        self.every_events = every_events
        self.every_seconds = every_seconds
        # Events wait at most this long for a signature (the window in which only their
        # chains and Kafka witness them); None: `every_seconds`.
        self.max_delay_seconds = every_seconds if max_delay_seconds is None else max_delay_seconds
        self._batch = batch
        # One checkpoint holds the write lock while it reads; a large backlog is signed in several.
        self._most = most_events
        self._lock = threading.Lock()
        self._latest: Checkpoint | None = None
        self._known = False
        self._last_failure = ""

    # -- signing
    def checkpoint(self, now: datetime) -> Checkpoint | None:
        """Sign a checkpoint over the events recorded since the last one (at most `most_events` of
        them; call again for the rest); None when nothing is new."""
        if now.tzinfo is None:
            raise ValueError("a checkpoint's time needs an offset")
        created_at = now.astimezone(UTC).isoformat()
        with self._lock, self._db.transaction() as tx:
            if self._db.is_postgres:
                tx.query("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
            last = self.ledger.latest(tx)
            tree = _resume(last)
            after = last.last_notification_id if last else 0
            start = tree.size
            while (room := self._most - (tree.size - start)) > 0 and (
                notes := self._store.recorder.select_notifications(
                    after, min(self._batch, room), inclusive_of_start=False
                )
            ):
                leaves = []
                for note in notes:
                    dossier_id, seq = str(note.originator_id), int(note.originator_version)
                    digest = examine(bytes(note.state)).digest
                    leaves.append(Leaf(tree.size, note.id, dossier_id, seq, digest))
                    tree.append(event_leaf(dossier_id, seq, digest))
                self.ledger.add_leaves(tx, leaves)
                after = notes[-1].id
            if tree.size == start:
                self._remember(last)
                return None
            n, root = (last.n + 1 if last else 1), tree.root().hex()
            signature = sign(self._key, checkpoint_message(n, tree.size, root, after, created_at))
            made = Checkpoint(
                n, tree.size, after, root, created_at, signature, self.key_id, frontier_text(tree)
            )
            self.ledger.add_checkpoint(tx, made)
        self._remember(made)
        log.info("audit checkpoint %d signed over %d events", made.n, made.size)
        return made

    def _remember(self, cp: Checkpoint | None) -> None:
        self._latest, self._known = cp, True

    def latest(self) -> Checkpoint | None:
        return self.ledger.latest()

    def waiting(self, cp: Checkpoint | None) -> int:
        """Events recorded after `cp`, counted by notification id (an upper bound where ids skip)."""
        return self._store.max_notification_id() - (cp.last_notification_id if cp else 0)

    def due(self, cp: Checkpoint | None, now: datetime) -> bool:
        waiting = self.waiting(cp)
        if waiting <= 0:
            return False
        if cp is None or waiting >= self.every_events:
            return True
        since = (now - datetime.fromisoformat(cp.created_at)).total_seconds()
        # Every waiting event came after `cp`, so none has waited longer than `since`.
        return since >= min(self.every_seconds, self.max_delay_seconds)

    def maybe_checkpoint(self, now: datetime) -> Checkpoint | None:
        """Sign when due; never raises for damaged audit records (it logs, and verify names them)."""
        if not self._known:
            self._remember(self.ledger.latest())
        # The cached checkpoint may be stale when another process signs too: re-read before signing.
        if not self.due(self._latest, now):
            return None
        self._remember(self.ledger.latest())
        if not self.due(self._latest, now):
            return None
        try:
            return self.checkpoint(now)
        except AuditRecordsDamaged as exc:
            if str(exc) != self._last_failure:
                log.error("audit checkpoints stopped: %s; run `lienthong audit verify`", exc)
                self._last_failure = str(exc)
            return None

    # -- reading
    def page(self, before: int | None, limit: int) -> list[Checkpoint]:
        return self.ledger.newest_first(before, limit)

    def get(self, n: int) -> Checkpoint | None:
        return self.ledger.checkpoint(n)

    def public_key_json(self) -> dict[str, Any]:
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key_pem": public_key_pem(self.public_key),
            "public_key_base64": base64.b64encode(raw_public_key(self.public_key)).decode("ascii"),
            "retired_keys": [
                {
                    "key_id": key_id(k),
                    "public_key_base64": base64.b64encode(raw_public_key(k)).decode("ascii"),
                }
                for k in self.retired_keys
            ],
            "signed_message_format": MESSAGE_FORMAT,
            "leaf_encoding": LEAF_FORMAT,
            "tree": "RFC 6962 Merkle tree over SHA-256 (leaf prefix 0x00, node prefix 0x01)",
        }

    def proof(self, dossier_id: str, seq: int, checkpoint_n: int | None = None) -> InclusionProof:
        """The inclusion proof of one event against checkpoint `checkpoint_n` (default: the latest)."""
        try:
            stream = str(uuid.UUID(dossier_id))
        except ValueError as exc:
            raise UnknownEvent(f"'{dossier_id}' is not a dossier id") from exc
        cp = self.ledger.checkpoint(checkpoint_n) if checkpoint_n is not None else self.ledger.latest()
        if checkpoint_n is not None and cp is None:
            raise UnknownCheckpoint(f"no checkpoint {checkpoint_n}")
        leaf = self.ledger.leaf_of(stream, seq)
        if leaf is None or cp is None or leaf.index >= cp.size:
            if not self._store.recorder.select_events(uuid.UUID(stream), gt=seq - 1, lte=seq):
                raise UnknownEvent(f"dossier {stream} has no event {seq}")
            raise NotCheckpointed(self._not_yet(stream, seq, cp, leaf, checkpoint_n))
        path = inclusion_proof((x.hash for x in self.ledger.leaves(0, cp.size)), leaf.index, cp.size)
        if not verify_inclusion(leaf.hash, leaf.index, cp.size, path, bytes.fromhex(cp.root)):
            raise AuditRecordsDamaged(
                f"the leaf records under checkpoint {cp.n} do not hash to its signed root"
            )
        return InclusionProof(stream, seq, leaf.event_hash, leaf.hash, leaf.index, path, cp)

    def _not_yet(
        self, stream: str, seq: int, cp: Checkpoint | None, leaf: Leaf | None, asked: int | None
    ) -> str:
        event = f"event {seq} of dossier {stream}"
        if asked is not None and cp is not None and leaf is not None:
            return f"{event} was signed after checkpoint {cp.n}; ask for a later checkpoint"
        since = f"after checkpoint {cp.n} ({cp.size} events)" if cp else "while no checkpoint was signed yet"
        return (
            f"{event} was recorded {since}; the next checkpoint is signed once {self.every_events} events "
            f"are waiting or {self.every_seconds:g} s have passed. Until then only its hash chain protects it"
        )

    # -- verifying
    def verify(self, dossier_id: str | None = None, kept: Sequence[Kept] = ()) -> Verification:
        """Every chain and checkpoint (of one dossier); `kept`: checkpoints kept outside the
        system, each of which must still be stored with the root kept."""
        return verify_all(
            self.ledger, self._store, self.public_key, dossier_id, self._batch, self.retired_keys, kept
        )

    def signed_here(self, cp: Checkpoint) -> bool:
        """`cp`'s signature verifies with this server's key or a retired one (the key it names)."""
        signer = trusted_keys(self.public_key, self.retired_keys).get(cp.key_id)
        return signer is not None and signature_valid(signer, cp.message(), cp.signature)
