"""Audit: verification of chains and signed checkpoints, the checkpoints, the key, inclusion proofs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gateways.audit import (
    AuditRecordsDamaged,
    Checkpointer,
    Kept,
    NotCheckpointed,
    UnknownCheckpoint,
    UnknownEvent,
)
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep, require_role
from gateways.http.problems import Problem
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1", tags=["audit"])

AUDITORS = ("inspector", "admin", "supervisor")


def get_checkpoints(container: ContainerDep) -> Checkpointer:
    checkpoints: Checkpointer = container.checkpoints
    return checkpoints


CheckpointsDep = Annotated[Checkpointer, Depends(get_checkpoints)]


def _dossier_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise Problem(
            422, "Invalid dossier id", f"'{text}' is not a dossier id (a UUID)", "invalid-value"
        ) from exc


@router.get("/audit/verify", **answers(schemas.Verification))
def audit_verify(
    principal: PrincipalDep,
    checkpoints: CheckpointsDep,
    dossier_id: str | None = None,
    kept_checkpoint: int | None = Query(
        default=None, ge=1, le=2**62, description="the `n` of a checkpoint kept outside the system"
    ),
    kept_root: str | None = Query(
        default=None,
        min_length=64,
        max_length=64,
        pattern="^[0-9a-fA-F]{64}$",
        description="its signed root, as kept: the store must still hold that checkpoint with this root",
    ),
) -> dict[str, Any]:
    """Recompute every hash chain and every signed checkpoint; name the first fault found.
    With `kept_checkpoint` and `kept_root` (a checkpoint kept outside the system), also a store
    whose newest checkpoints were deleted, or replaced and signed again."""
    require_role(principal, *AUDITORS)
    wanted = _dossier_id(dossier_id) if dossier_id is not None else None
    if (kept_checkpoint is None) != (kept_root is None):
        raise Problem(
            422,
            "Incomplete kept checkpoint",
            "give both kept_checkpoint (its n) and kept_root (its signed root), or neither",
            "invalid-value",
        )
    kept = [Kept(kept_checkpoint, kept_root)] if kept_checkpoint is not None and kept_root else []
    result = checkpoints.verify(wanted, kept)
    if wanted is not None and result.ok and result.checked_events == 0:
        raise Problem(404, "Unknown dossier", f"no dossier {wanted}", "unknown-dossier")
    return result.as_json()


@router.get("/audit/checkpoints", **answers(schemas.CheckpointPage))
def list_checkpoints(
    principal: PrincipalDep,
    checkpoints: CheckpointsDep,
    cursor: int | None = Query(
        default=None, ge=1, description="the `n` of the last item of the previous page"
    ),
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """Signed checkpoints, newest first."""
    items = checkpoints.page(cursor, limit)
    more = len(items) == limit and items[-1].n > 1
    return {"items": [cp.as_json() for cp in items], "next_cursor": str(items[-1].n) if more else None}


@router.get("/audit/checkpoints/{n}", **answers(schemas.Checkpoint))
def get_checkpoint(n: int, principal: PrincipalDep, checkpoints: CheckpointsDep) -> dict[str, Any]:
    cp = checkpoints.get(n)
    if cp is None:
        latest = checkpoints.latest()
        known = f"checkpoints are 1..{latest.n}" if latest else "no checkpoint has been signed yet"
        raise Problem(404, "Unknown checkpoint", f"no checkpoint {n}; {known}", "unknown-checkpoint")
    return cp.as_json()


@router.get("/audit/public-key", **answers(schemas.PublicKey))
def public_key(checkpoints: CheckpointsDep) -> dict[str, Any]:
    """The key that signs checkpoints. Public on purpose: anyone may check a checkpoint or a proof."""
    return checkpoints.public_key_json()


@router.get("/dossiers/{dossier_id}/events/{seq}/proof", **answers(schemas.InclusionProof))
def event_proof(
    dossier_id: str,
    seq: int,
    principal: PrincipalDep,
    checkpoints: CheckpointsDep,
    checkpoint: int | None = Query(default=None, ge=1, description="prove against this checkpoint"),
) -> dict[str, Any]:
    """The Merkle inclusion proof of one event against a signed checkpoint (default: the latest)."""
    require_role(principal, *AUDITORS, "integration")
    try:
        return checkpoints.proof(_dossier_id(dossier_id), seq, checkpoint).as_json()
    except UnknownEvent as exc:
        raise Problem(404, "Unknown event", str(exc), "unknown-event") from exc
    except UnknownCheckpoint as exc:
        raise Problem(404, "Unknown checkpoint", str(exc), "unknown-checkpoint") from exc
    except NotCheckpointed as exc:
        raise Problem(404, "Not yet in a checkpoint", str(exc), "not-checkpointed") from exc
    except AuditRecordsDamaged as exc:
        raise Problem(
            500, "Audit records are damaged", f"{exc}; run the audit verification", "damaged-history"
        ) from exc
