"""Full verification: every hash chain and every signed checkpoint, streamed.

Two passes, neither holding more than a batch of rows, an O(log n) Merkle frontier
and the per-stream chain heads:

1. The leaf records are replayed into a Merkle tree and each checkpoint's root and
   signature are checked, so the leaf records are trusted from here on (or the audit
   tables themselves are named as altered).
2. The events are read in append order beside the trusted leaf records: a leaf with
   no event left is a deleted event (also the last one of a stream, which no chain
   can see), a leaf whose event now differs is altered or rewritten, an event in
   another's place is reordered. Every chain is followed too, and the events as
   stored now are hashed again up to each checkpoint's size and compared with its root.
   Events after the last checkpoint are covered by their chains only: `uncovered_events`.

Everything above lives in one database: someone who deletes the newest checkpoints with their
leaf records, or who holds the signing key and signs a rewritten history again, leaves a log
that verifies. Checkpoints an inspector kept outside the system (`Kept`: a number and its
signed root) close that: each must still be stored, with the same root.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateways.audit.chains import Broken, ChainHeads, Verification, examine
from gateways.audit.ledger import Checkpoint, Leaf, Ledger, frontier_text
from gateways.audit.signing import event_leaf, key_id, signature_valid, trusted_keys
from gateways.eventstore.store import EventStore
from projections.merkle import MerkleFrontier


@dataclass(frozen=True)
class Kept:
    """A signed checkpoint an inspector kept outside the system: its number and root (hex)."""

    n: int
    root: str


def verify_all(
    ledger: Ledger,
    store: EventStore,
    public_key: Ed25519PublicKey,
    dossier_id: str | None = None,
    batch: int = 1000,
    retired: Sequence[Ed25519PublicKey] = (),
    kept: Sequence[Kept] = (),
) -> Verification:
    """`retired`: public keys of rotated signing keys; what they signed still verifies.
    `kept`: checkpoints kept outside the system, each of which must still be stored as kept."""
    result = Verification()
    try:
        last = _check_checkpoints(ledger, public_key, result, retired)
        _check_kept(ledger, kept, last, result)
        if dossier_id is None:
            _check_log(ledger, store, last, result, batch)
        else:
            _check_dossier(ledger, store, str(uuid.UUID(dossier_id)), last, result)
    except Broken as exc:
        result.first_bad = exc.fault
    return result


def _check_checkpoints(
    ledger: Ledger,
    public_key: Ed25519PublicKey,
    result: Verification,
    retired: Sequence[Ed25519PublicKey] = (),
) -> Checkpoint | None:
    """Pass 1: signatures, numbering, and the leaf records' root under each checkpoint."""
    current = key_id(public_key)
    trusted = trusted_keys(public_key, retired)
    tree = MerkleFrontier()
    leaves = ledger.leaves()
    last: Checkpoint | None = None
    for cp in ledger.checkpoints():
        expected = last.n + 1 if last else 1
        if cp.n != expected:
            raise _fault_at(
                cp.n,
                "checkpoint_missing",
                f"checkpoint {expected} is missing (the next one is {cp.n})",
                expected=expected,
            )
        signer = trusted.get(cp.key_id)
        if signer is None:
            raise _fault_at(
                cp.n,
                "unknown_key",
                f"checkpoint {cp.n} names key {cp.key_id}, not this server's key {current} nor a retired one",
                key_id=cp.key_id,
                current_key_id=current,
            )
        if not signature_valid(signer, cp.message(), cp.signature):
            raise _fault_at(
                cp.n, "signature", f"checkpoint {cp.n}: the signature does not match its fields (altered)"
            )
        if last and (cp.size <= last.size or cp.last_notification_id <= last.last_notification_id):
            raise _fault_at(
                cp.n,
                "not_extending",
                f"checkpoint {cp.n} does not extend checkpoint {last.n}",
                previous=last.n,
            )
        while tree.size < cp.size:
            leaf = next(leaves, None)
            if leaf is None or leaf.index != tree.size:
                raise _fault_at(
                    cp.n,
                    "leaf_missing",
                    f"the leaf record {tree.size} of checkpoint {cp.n} is missing (audit tables altered)",
                    leaf=tree.size,
                )
            tree.append(leaf.hash)
        if tree.root().hex() != cp.root:
            raise _fault_at(
                cp.n,
                "leaves_altered",
                f"the leaf records under checkpoint {cp.n} do not hash to its signed root "
                "(audit tables altered)",
            )
        if frontier_text(tree) != cp.frontier:
            # Not needed to check old events, but the next checkpoint resumes from it.
            raise _fault_at(
                cp.n, "frontier_altered", f"checkpoint {cp.n}: the stored Merkle frontier is altered"
            )
        result.checkpoints_checked += 1
        last = cp
    result.last_checkpoint = last.n if last else None
    return last


def _check_kept(ledger: Ledger, kept: Sequence[Kept], last: Checkpoint | None, result: Verification) -> None:
    """Each kept checkpoint is stored, with the root that was kept (the stored ones are
    already checked: signed, numbered, over their leaf records)."""
    for k in sorted(kept, key=lambda k: k.n):
        stored = ledger.checkpoint(k.n) if last and k.n <= last.n else None
        if stored is None:
            newest = f"the newest stored is checkpoint {last.n}" if last else "none is stored"
            raise _fault_at(
                k.n,
                "kept_missing",
                f"checkpoint {k.n}, kept outside the system, is no longer stored ({newest}): signed "
                "checkpoints were deleted, and the events they covered now count as unsigned",
                newest=last.n if last else None,
            )
        if stored.root != k.root.lower():
            raise _fault_at(
                k.n,
                "kept_replaced",
                f"checkpoint {k.n} is stored with root {stored.root}, not the root {k.root.lower()} "
                "kept outside the system: the signed history was replaced and signed again",
                stored_root=stored.root,
                kept_root=k.root.lower(),
            )
        result.kept_checked += 1


def _fault_at(n: int, kind: str, reason: str, **extra: Any) -> Broken:
    """A fault of a checkpoint or of the audit tables, where no single event can be named."""
    return Broken(None, None, kind, reason, checkpoint=n, **extra)


def _deleted(leaf: Leaf, cp: Checkpoint | None) -> Broken:
    where = f"checkpoint {cp.n}" if cp else "a checkpoint"
    return Broken(
        leaf.dossier_id,
        leaf.seq,
        "deleted",
        f"deleted: signed in {where} as leaf {leaf.index}, no longer stored",
        checkpoint=cp.n if cp else None,
        leaf=leaf.index,
    )


def _check_log(
    ledger: Ledger, store: EventStore, last: Checkpoint | None, result: Verification, batch: int
) -> None:
    """Pass 2 over the whole log, in append order."""
    covered_size = last.size if last else 0
    covered_upto = last.last_notification_id if last else 0
    leaves: Iterator[Leaf] = ledger.leaves(0, covered_size)
    checkpoints: Iterator[Checkpoint] = ledger.checkpoints(upto=last.n if last else 0)
    pending, boundary = next(leaves, None), next(checkpoints, None)
    heads, tree = ChainHeads(), MerkleFrontier()
    position = 0
    while notes := store.recorder.select_notifications(position, batch, inclusive_of_start=False):
        for note in notes:
            if pending and pending.notification_id < note.id:
                raise _deleted(pending, boundary)
            dossier_id, seq = str(note.originator_id), int(note.originator_version)
            seen = examine(bytes(note.state))
            chain_fault = heads.follow(dossier_id, seen, note.topic)
            if pending and pending.notification_id == note.id:
                if (pending.dossier_id, pending.seq) != (dossier_id, seq):
                    raise Broken(
                        pending.dossier_id,
                        pending.seq,
                        "reordered",
                        f"reordered: leaf {pending.index} of the signed log is this event, "
                        f"but event {seq} of dossier {dossier_id} now stands in its place",
                        leaf=pending.index,
                        found_dossier_id=dossier_id,
                        found_seq=seq,
                    )
                if chain_fault:
                    raise chain_fault
                if seen.digest != pending.event_hash:
                    raise Broken(
                        dossier_id,
                        seq,
                        "rewritten",
                        "rewritten: the stored event differs from the one signed in checkpoint "
                        f"{boundary.n if boundary else '?'} (its hash chain was recomputed)",
                        checkpoint=boundary.n if boundary else None,
                    )
                result.covered_events += 1
                pending = next(leaves, None)
            elif note.id <= covered_upto:
                raise Broken(
                    dossier_id, seq, "inserted", "inserted: not among the events signed in the checkpoints"
                )
            else:
                result.uncovered_events += 1
            if chain_fault:
                raise chain_fault
            result.checked_events += 1
            tree.append(event_leaf(dossier_id, seq, seen.digest))
            while boundary and tree.size >= boundary.size:
                # Backstop: with every leaf matched this always holds; it is the root itself that is signed.
                if tree.root().hex() != boundary.root:
                    raise Broken(
                        dossier_id,
                        seq,
                        "root_mismatch",
                        f"the first {boundary.size} stored events do not hash to "
                        f"checkpoint {boundary.n}'s signed root",
                        checkpoint=boundary.n,
                        size=boundary.size,
                    )
                boundary = next(checkpoints, None)
        position = notes[-1].id
    if pending:
        raise _deleted(pending, boundary)
    if boundary:
        raise _fault_at(
            boundary.n,
            "log_short",
            f"the log holds {tree.size} events, fewer than the {boundary.size} "
            f"signed in checkpoint {boundary.n}",
            events=tree.size,
            size=boundary.size,
        )


def _check_dossier(
    ledger: Ledger, store: EventStore, dossier_id: str, last: Checkpoint | None, result: Verification
) -> None:
    """Pass 2 for one dossier: its chain against its (already trusted) leaf records."""
    signed = {leaf.seq: leaf for leaf in ledger.leaves_of(dossier_id)}
    heads = ChainHeads()
    expected = 1
    for record in store.recorder.select_events(uuid.UUID(dossier_id)):
        seq = int(record.originator_version)
        if seq != expected and expected in signed:
            raise _deleted(signed[expected], _covering(ledger, signed[expected], last))
        seen = examine(bytes(record.state))
        fault = heads.follow(dossier_id, seen, record.topic)
        if fault:
            raise fault
        leaf = signed.pop(seq, None)
        if leaf is not None and seen.digest != leaf.event_hash:
            raise Broken(
                dossier_id,
                seq,
                "rewritten",
                "rewritten: the stored event differs from the signed one (its hash chain was recomputed)",
                checkpoint=None,
            )
        if leaf is None:
            result.uncovered_events += 1
        else:
            result.covered_events += 1
        result.checked_events += 1
        expected = seq + 1
    if signed:
        first = signed[min(signed)]
        raise _deleted(first, _covering(ledger, first, last))


def _covering(ledger: Ledger, leaf: Leaf, last: Checkpoint | None) -> Checkpoint | None:
    """The first checkpoint whose tree holds `leaf`."""
    for cp in ledger.checkpoints(upto=last.n if last else 0):
        if cp.size > leaf.index:
            return cp
    return None
