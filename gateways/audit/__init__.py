"""Tamper evidence: per-dossier hash chains, signed Merkle checkpoints over the whole log, proofs."""

from gateways.audit.chains import Verification, verify_chains
from gateways.audit.checkpointer import (
    AuditRecordsDamaged,
    Checkpointer,
    InclusionProof,
    NotCheckpointed,
    UnknownCheckpoint,
    UnknownEvent,
)
from gateways.audit.ledger import Checkpoint
from gateways.audit.timer import CheckpointTimer
from gateways.audit.verify import Kept, verify_all

__all__ = [
    "AuditRecordsDamaged",
    "Checkpoint",
    "CheckpointTimer",
    "Checkpointer",
    "InclusionProof",
    "Kept",
    "NotCheckpointed",
    "UnknownCheckpoint",
    "UnknownEvent",
    "Verification",
    "verify_all",
    "verify_chains",
]
