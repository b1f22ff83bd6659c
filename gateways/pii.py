"""Applicant PII: sealed with AES-256-GCM under a per-dossier key kept apart from events.

The event carries only ciphertext; each dossier's data key is wrapped by the
master key and stored in `dossier_keys`. Deleting that row shreds the PII of
one dossier without touching its (hash-chained) history. Every clear read is
logged in `pii_access_log`.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NewKey:
    key: bytes
    row: tuple[str, tuple[str, str]]


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

    def new_key(self, dossier_id: str) -> NewKey:
        """A data key for a new dossier, and the row that stores it, written by the caller in
        the transaction that creates the dossier (so no key is stored without its dossier)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._master.encrypt(nonce, key, dossier_id.encode())
        # A new stream's transaction fails as a whole if the dossier exists, so replacing a
        # key here can only replace an orphan left by an older release.
        row = (
            "INSERT INTO dossier_keys (dossier_id, wrapped_key) VALUES (?, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET wrapped_key = excluded.wrapped_key",
            (dossier_id, _b64(wrapped)),
        )
        return NewKey(key, row)

    @staticmethod
    def seal_with(key: bytes, dossier_id: str, data: dict[str, Any]) -> dict[str, str]:
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, orjson.dumps(data), dossier_id.encode())
        return {"alg": "AES-256-GCM", "kid": dossier_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def open_sealed(self, dossier_id: str, sealed: dict[str, Any]) -> dict[str, Any] | None:
        """Decrypt something the service itself sealed (not applicant data: not logged);
        None when the dossier's key was shredded."""
        key = self._data_key(dossier_id, create=False)
        if key is None:
            return None
        plain = AESGCM(key).decrypt(
            base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]), dossier_id.encode()
        )
        result: dict[str, Any] = orjson.loads(plain)
        return result

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
