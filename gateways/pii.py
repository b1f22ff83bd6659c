"""Applicant PII: sealed with AES-256-GCM under a per-dossier key kept apart from events.

The event carries only ciphertext; each dossier's data key is wrapped by the
master key and stored in `dossier_keys`. Deleting that row shreds the PII of
one dossier without touching its (hash-chained) history. Every clear read is
logged in `pii_access_log`.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateways.sql import Database

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS dossier_keys (dossier_id TEXT PRIMARY KEY, wrapped_key TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pii_access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "dossier_id TEXT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, purpose TEXT NOT NULL, "
    "accessed_at TEXT NOT NULL)",
]
PG_SCHEMA = [s.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY") for s in SCHEMA]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class PiiVault:
    def __init__(self, db: Database, master_key: bytes) -> None:
        self._db = db
        self._master = AESGCM(master_key)
        db.executescript(PG_SCHEMA if db.is_postgres else SCHEMA)

    def _data_key(self, dossier_id: str, create: bool) -> bytes | None:
        rows = self._db.query("SELECT wrapped_key FROM dossier_keys WHERE dossier_id = ?", (dossier_id,))
        if rows:
            blob = base64.b64decode(rows[0]["wrapped_key"])
            return self._master.decrypt(blob[:12], blob[12:], dossier_id.encode())
        if not create:
            return None
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._master.encrypt(nonce, key, dossier_id.encode())
        conflict = "ON CONFLICT (dossier_id) DO NOTHING"
        self._db.execute(
            f"INSERT INTO dossier_keys (dossier_id, wrapped_key) VALUES (?, ?) {conflict}",
            (dossier_id, _b64(wrapped)),
        )
        # Another process may have won the race: use whichever key is stored.
        return self._data_key(dossier_id, create=False)

    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> dict[str, str]:
        key = self._data_key(dossier_id, create=True)
        assert key is not None
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, orjson.dumps(applicant), dossier_id.encode())
        return {"alg": "AES-256-GCM", "kid": dossier_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def open(
        self, dossier_id: str, sealed: dict[str, Any], *, subject: str, role: str, purpose: str, at: datetime
    ) -> dict[str, Any] | None:
        """Decrypt and log the access; None when the key was shredded."""
        key = self._data_key(dossier_id, create=False)
        if key is None:
            return None
        self._db.execute(
            "INSERT INTO pii_access_log (dossier_id, subject, role, purpose, accessed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (dossier_id, subject, role, purpose, at.isoformat()),
        )
        plain = AESGCM(key).decrypt(
            base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]), dossier_id.encode()
        )
        result: dict[str, Any] = orjson.loads(plain)
        return result
