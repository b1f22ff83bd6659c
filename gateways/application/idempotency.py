"""Idempotency records: a repeated key returns the first response and appends nothing.

A record is keyed by who asked — (principal subject, role, agency) — and the key, and is
written in the SAME transaction as the events the command appended (see the writer): after
any crash either both exist or neither does, so a retry either replays the first response
or runs the command for the first time. The request's fingerprint (command, dossier,
canonical body) tells a retry from a reuse of the key for something else (422).

The lookup secret of a new dossier is returned once. The stored response keeps it only
sealed with the dossier's PII data key (docs/decisions.md): a replay unseals it, and once
the dossier's key is shredded the replay answers without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from gateways.eventstore.recorders import Row
from gateways.sql import Database

TABLE = "idempotency_records"
SCHEMA = [
    # The previous table kept whole responses, lookup secrets in clear: never keep it.
    "DROP TABLE IF EXISTS idempotency_keys",
    f"CREATE TABLE IF NOT EXISTS {TABLE} (scope_key TEXT PRIMARY KEY, subject TEXT NOT NULL, "
    "role TEXT NOT NULL, agency TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, "
    "status INTEGER NOT NULL, body TEXT NOT NULL, sealed_secret TEXT, dossier_id TEXT, "
    "created_at TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_created ON {TABLE} (created_at)",
]


@dataclass(frozen=True)
class IdempotencyScope:
    """Who used the key, and the key."""

    subject: str
    role: str
    agency: str
    key: str

    @cached_property
    def scope_key(self) -> str:
        text = "\x1f".join((self.subject, self.role, self.agency, self.key))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int
    body: bytes  # without the lookup secret
    sealed_secret: dict[str, Any] | None
    dossier_id: str | None


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def fingerprint(command: str, dossier_id: str | None, body: dict[str, Any]) -> str:
    """What a retry repeats exactly: the command, its dossier and its body (canonical JSON)."""
    canonical = orjson.dumps(
        {"command": command, "dossier_id": dossier_id, "body": body}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self._db = db
        self.ttl = timedelta(seconds=ttl_seconds)
        db.executescript(SCHEMA)

    def find(self, scope_keys: Iterable[str], now: datetime) -> dict[str, StoredResponse]:
        """The unexpired records of these scope keys (one query)."""
        keys = sorted(set(scope_keys))
        if not keys:
            return {}
        found: dict[str, StoredResponse] = {}
        oldest = now - self.ttl
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self._db.query(
                "SELECT scope_key, request_hash, status, body, sealed_secret, dossier_id, created_at "
                f"FROM {TABLE} WHERE scope_key IN ({','.join('?' * len(part))})",
                part,
            )
            for row in rows:
                if datetime.fromisoformat(row["created_at"]) < oldest:
                    continue
                found[row["scope_key"]] = StoredResponse(
                    request_hash=row["request_hash"],
                    status=int(row["status"]),
                    body=row["body"].encode("utf-8"),
                    sealed_secret=orjson.loads(row["sealed_secret"]) if row["sealed_secret"] else None,
                    dossier_id=row["dossier_id"],
                )
        return found

    def rows(
        self,
        scope: IdempotencyScope,
        request_hash: str,
        status: int,
        body: bytes,
        sealed_secret: dict[str, Any] | None,
        dossier_id: str | None,
        now: datetime,
    ) -> list[Row]:
        """The statements that record a response, for the writer's transaction. An expired
        record of the same scope is replaced; a live one makes the insert fail (a race
        with another process, which the writer resolves by replaying)."""
        cutoff = _utc(now - self.ttl)
        delete: Row = (
            f"DELETE FROM {TABLE} WHERE scope_key = ? AND created_at < ?",
            (scope.scope_key, cutoff),
        )
        insert: Row = (
            f"INSERT INTO {TABLE} (scope_key, subject, role, agency, idem_key, request_hash, status, body, "
            "sealed_secret, dossier_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scope.scope_key,
                scope.subject,
                scope.role,
                scope.agency,
                scope.key,
                request_hash,
                status,
                body.decode("utf-8"),
                orjson.dumps(sealed_secret).decode() if sealed_secret else None,
                dossier_id,
                _utc(now),
            ),
        )
        return [delete, insert]

    def purge(self, now: datetime) -> int:
        """Delete expired records; returns how many."""
        cutoff = _utc(now - self.ttl)
        with self._db.transaction() as tx:
            rows = tx.query(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE created_at < ?", (cutoff,))
            tx.execute(f"DELETE FROM {TABLE} WHERE created_at < ?", (cutoff,))
        return int(rows[0]["n"]) if rows else 0
