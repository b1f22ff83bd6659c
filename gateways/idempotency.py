"""Idempotency keys: a replayed key returns the first response byte for byte."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateways.sql import Database

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS idempotency_keys (subject TEXT NOT NULL, endpoint TEXT NOT NULL, "
    "idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, "
    "created_at TEXT NOT NULL, PRIMARY KEY (subject, endpoint, idem_key))",
]


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int
    body: bytes


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self._db = db
        self._ttl = timedelta(seconds=ttl_seconds)
        db.executescript(SCHEMA)

    def get(self, subject: str, endpoint: str, key: str, now: datetime) -> StoredResponse | None:
        rows = self._db.query(
            "SELECT request_hash, status, body, created_at FROM idempotency_keys "
            "WHERE subject = ? AND endpoint = ? AND idem_key = ?",
            (subject, endpoint, key),
        )
        if not rows or datetime.fromisoformat(rows[0]["created_at"]) + self._ttl < now:
            return None
        row = rows[0]
        return StoredResponse(row["request_hash"], int(row["status"]), row["body"].encode("utf-8"))

    def put(
        self, subject: str, endpoint: str, key: str, req_hash: str, status: int, body: bytes, now: datetime
    ) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM idempotency_keys WHERE subject = ? AND endpoint = ? AND idem_key = ?",
                (subject, endpoint, key),
            )
            tx.execute(
                "INSERT INTO idempotency_keys (subject, endpoint, idem_key, request_hash, status, body, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (subject, endpoint, key, req_hash, status, body.decode("utf-8"), now.isoformat()),
            )
