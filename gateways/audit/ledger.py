"""The audit tables: signed checkpoints and one leaf record per covered event.

A leaf record keeps the event's identity (dossier, seq, notification id) beside the
hash its leaf commits to, so a verifier can name an event that has since been
deleted, and a proof can be built without rereading the events. The records are
only trusted after their roots match the signed ones (gateways/audit/verify.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateways.audit.signing import checkpoint_message, event_leaf
from gateways.sql import Database, Tx
from projections.merkle import MerkleFrontier

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS audit_checkpoints (n BIGINT PRIMARY KEY, tree_size BIGINT NOT NULL, "
    "last_notification_id BIGINT NOT NULL, root TEXT NOT NULL, created_at TEXT NOT NULL, "
    "signature TEXT NOT NULL, key_id TEXT NOT NULL, frontier TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_leaves (leaf_index BIGINT PRIMARY KEY, "
    "notification_id BIGINT NOT NULL, dossier_id TEXT NOT NULL, seq BIGINT NOT NULL, "
    "event_hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_leaves_by_event ON audit_leaves (dossier_id, seq)",
]
_CHECKPOINT_COLUMNS = "n, tree_size, last_notification_id, root, created_at, signature, key_id, frontier"
_LEAF_COLUMNS = "leaf_index, notification_id, dossier_id, seq, event_hash"
_ROWS_PER_INSERT = 100  # 5 values a row: far below every driver's limit on placeholders


def frontier_text(tree: MerkleFrontier) -> str:
    return " ".join(node.hex() for node in tree.frontier)


@dataclass(frozen=True)
class Checkpoint:
    n: int
    size: int
    last_notification_id: int
    root: str
    created_at: str
    signature: str
    key_id: str
    # The roots of the perfect subtrees under `root` (hex, space-separated): where the next one resumes.
    frontier: str = field(default="", repr=False)

    def message(self) -> bytes:
        return checkpoint_message(self.n, self.size, self.root, self.last_notification_id, self.created_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "size": self.size,
            "last_notification_id": self.last_notification_id,
            "root": self.root,
            "created_at": self.created_at,
            "signature": self.signature,
            "signature_algorithm": "Ed25519",
            "key_id": self.key_id,
            "signed_message": self.message().decode("ascii"),
        }

    @classmethod
    def from_json(cls, body: Any) -> Checkpoint:
        """A checkpoint as `as_json` gives it (`GET /audit/checkpoints/{n}`); ValueError naming
        what is missing or of the wrong type."""
        if not isinstance(body, dict):
            raise ValueError("a checkpoint is a JSON object (as GET /api/v1/audit/checkpoints/{n} gives)")
        fields: dict[str, Any] = {}
        for name, kind in _JSON_FIELDS.items():
            value = body.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"field '{name}' is missing or not a {kind.__name__}")
            fields[name] = value
        if fields["n"] < 1 or not _is_hex_digest(fields["root"]):
            raise ValueError("'n' must be at least 1 and 'root' 64 hex digits")
        return cls(**fields)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Checkpoint:
        return cls(
            n=int(row["n"]),
            size=int(row["tree_size"]),
            last_notification_id=int(row["last_notification_id"]),
            root=str(row["root"]),
            created_at=str(row["created_at"]),
            signature=str(row["signature"]),
            key_id=str(row["key_id"]),
            frontier=str(row["frontier"]),
        )


_JSON_FIELDS: dict[str, type] = {
    "n": int,
    "size": int,
    "last_notification_id": int,
    "root": str,
    "created_at": str,
    "signature": str,
    "key_id": str,
}


def _is_hex_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower())


def checkpoints_in(body: Any) -> list[Checkpoint]:
    """The checkpoints of a kept JSON document: one checkpoint, a list of them, or a page of
    `GET /api/v1/audit/checkpoints` (`{"items": [...]}`). ValueError saying what is wrong."""
    items = body.get("items") if isinstance(body, dict) and "items" in body else body
    items = items if isinstance(items, list) else [items]
    if not items:
        raise ValueError("it holds no checkpoint")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Checkpoint.from_json(item))
        except ValueError as exc:
            raise ValueError(f"checkpoint {i + 1}: {exc}" if len(items) > 1 else str(exc)) from exc
    return out


@dataclass(frozen=True)
class Leaf:
    index: int
    notification_id: int
    dossier_id: str
    seq: int
    event_hash: str

    @property
    def hash(self) -> bytes:
        return event_leaf(self.dossier_id, self.seq, self.event_hash)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Leaf:
        return cls(
            index=int(row["leaf_index"]),
            notification_id=int(row["notification_id"]),
            dossier_id=str(row["dossier_id"]),
            seq=int(row["seq"]),
            event_hash=str(row["event_hash"]),
        )


class Ledger:
    def __init__(self, db: Database, batch: int = 1000) -> None:
        self.db = db
        self._batch = batch
        db.executescript(SCHEMA)

    # -- checkpoints
    def latest(self, tx: Tx | None = None) -> Checkpoint | None:
        sql = f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY n DESC LIMIT 1"
        rows = tx.query(sql) if tx else self.db.query(sql)
        return Checkpoint.from_row(rows[0]) if rows else None

    def checkpoint(self, n: int) -> Checkpoint | None:
        rows = self.db.query(f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n = ?", (n,))
        return Checkpoint.from_row(rows[0]) if rows else None

    def newest_first(self, before: int | None, limit: int) -> list[Checkpoint]:
        rows = self.db.query(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n < ? ORDER BY n DESC LIMIT ?",
            (before if before is not None else 2**62, limit),
        )
        return [Checkpoint.from_row(r) for r in rows]

    def checkpoints(self, upto: int | None = None) -> Iterator[Checkpoint]:
        """Every checkpoint in order (up to n = `upto`), read in batches."""
        after = 0
        while True:
            rows = self.db.query(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n > ? AND n <= ? "
                "ORDER BY n LIMIT ?",
                (after, upto if upto is not None else 2**62, self._batch),
            )
            for row in rows:
                yield Checkpoint.from_row(row)
            if len(rows) < self._batch:
                return
            after = int(rows[-1]["n"])

    def add_checkpoint(self, tx: Tx, cp: Checkpoint) -> None:
        tx.execute(
            f"INSERT INTO audit_checkpoints ({_CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cp.n,
                cp.size,
                cp.last_notification_id,
                cp.root,
                cp.created_at,
                cp.signature,
                cp.key_id,
                cp.frontier,
            ),
        )

    # -- leaves
    def add_leaves(self, tx: Tx, leaves: Sequence[Leaf]) -> None:
        for start in range(0, len(leaves), _ROWS_PER_INSERT):
            part = leaves[start : start + _ROWS_PER_INSERT]
            marks = ", ".join(["(?, ?, ?, ?, ?)"] * len(part))
            values = [
                v for x in part for v in (x.index, x.notification_id, x.dossier_id, x.seq, x.event_hash)
            ]
            tx.execute(f"INSERT INTO audit_leaves ({_LEAF_COLUMNS}) VALUES {marks}", values)

    def leaves(self, start: int = 0, stop: int | None = None) -> Iterator[Leaf]:
        """Leaf records with start <= index < stop, in index order, read in batches."""
        after = start - 1
        while True:
            rows = self.db.query(
                f"SELECT {_LEAF_COLUMNS} FROM audit_leaves WHERE leaf_index > ? AND leaf_index < ? "
                "ORDER BY leaf_index LIMIT ?",
                (after, stop if stop is not None else 2**62, self._batch),
            )
            for row in rows:
                yield Leaf.from_row(row)
            if len(rows) < self._batch:
                return
            after = int(rows[-1]["leaf_index"])

    def leaves_of(self, dossier_id: str) -> list[Leaf]:
        rows = self.db.query(
            f"SELECT {_LEAF_COLUMNS} FROM audit_leaves WHERE dossier_id = ? ORDER BY seq, leaf_index",
            (dossier_id,),
        )
        return [Leaf.from_row(r) for r in rows]

    def leaf_of(self, dossier_id: str, seq: int) -> Leaf | None:
        rows = self.db.query(
            f"SELECT {_LEAF_COLUMNS} FROM audit_leaves WHERE dossier_id = ? AND seq = ? "
            "ORDER BY leaf_index LIMIT 1",
            (dossier_id, seq),
        )
        return Leaf.from_row(rows[0]) if rows else None
