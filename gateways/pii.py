"""Applicant PII: sealed with AES-256-GCM under a per-dossier key kept apart from events.

The event carries only ciphertext; each dossier's data key is wrapped by the
master key and stored in `dossier_keys`. Deleting that row shreds the PII of
one dossier without touching its (hash-chained) history. Every clear read is
logged in `pii_access_log`.

Finding a person's dossiers goes through a keyed blind index: HMAC-SHA-256 of the
normalised ID number under the vault's index key (`pii_blind_index`), written with the
dossier's data key. Erasure (`forget`) deletes both and records itself in `pii_erasures`
(dossier id, basis, who, when: no personal data).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateways.entropy import random_bytes
from gateways.sql import Database

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS dossier_keys (dossier_id TEXT PRIMARY KEY, wrapped_key TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pii_access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "dossier_id TEXT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL, purpose TEXT NOT NULL, "
    "accessed_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pii_blind_index (digest TEXT NOT NULL, dossier_id TEXT NOT NULL, "
    "PRIMARY KEY (digest, dossier_id))",
    "CREATE INDEX IF NOT EXISTS pii_blind_index_dossier ON pii_blind_index (dossier_id)",
    "CREATE TABLE IF NOT EXISTS pii_erasures (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "dossier_id TEXT NOT NULL, basis TEXT NOT NULL, requested_by TEXT NOT NULL, "
    "erased_at TEXT NOT NULL)",
]
PG_SCHEMA = [s.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY") for s in SCHEMA]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def master_key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def normalise_id_number(id_number: str) -> str:
    """CCCD/CMND as typed at desks: spaces, dots and dashes dropped, letters upper-cased."""
    return re.sub(r"[\s.\-]", "", id_number).upper()


def normalise_phone(phone: str) -> str:
    """A Vietnamese phone number as typed: digits only, the country code +84/84 as a leading 0."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


@dataclass(frozen=True)
class NewKey:
    key: bytes
    row: tuple[str, tuple[str, str]]
    # The key row, then the blind-index row when the applicant gave an ID number.
    rows: tuple[tuple[str, tuple[str, str]], ...] = ()


@dataclass(frozen=True)
class Erased:
    dossier_ids: list[str]
    already: list[str]  # found, but their keys were shredded before


class PiiVault:
    def __init__(
        self,
        db: Database,
        master_key: bytes,
        index_key: bytes | None = None,
        retired: dict[str, bytes] | None = None,
        reload: Callable[[], dict[str, bytes]] | None = None,
    ) -> None:
        self._db = db
        self._master = AESGCM(master_key)
        self.key_id = master_key_id(master_key)
        # Master keys by id: the current one and retired ones still named by stored rows.
        self._masters = {kid: AESGCM(key) for kid, key in (retired or {}).items()}
        self._masters[self.key_id] = self._master
        # After `keys rotate` in another process: the master keys on disk now.
        self._reload = reload
        # Without a key of its own (tools that never search), the index key derives from the master key.
        self._index_key = index_key or hashlib.sha256(b"lienthong-blind-index:" + master_key).digest()
        db.executescript(PG_SCHEMA if db.is_postgres else SCHEMA)

    # -- wrapping data keys under a master key ------------------------------------------------
    def _wrap(self, dossier_id: str, key: bytes, master: AESGCM | None = None, kid: str | None = None) -> str:
        """`<master key id>:<base64 of nonce + ciphertext>`, bound to the dossier id."""
        nonce = random_bytes(12)
        sealed = nonce + (master or self._master).encrypt(nonce, key, dossier_id.encode())
        return f"{kid or self.key_id}:{_b64(sealed)}"

    def _unwrap(self, dossier_id: str, wrapped: str) -> bytes:
        kid, _, text = wrapped.rpartition(":")
        blob = base64.b64decode(text)
        if kid and kid not in self._masters and self._reload is not None:
            for found, key in self._reload().items():
                self._masters.setdefault(found, AESGCM(key))
        # Rows of older releases name no key: they were wrapped by the key current then.
        candidates = [self._masters[kid]] if kid in self._masters else list(self._masters.values())
        for master in candidates:
            try:
                return master.decrypt(blob[:12], blob[12:], dossier_id.encode())
            except InvalidTag:
                continue
        raise KeyError(f"no master key opens the data key of dossier {dossier_id} (key id '{kid}')")

    def rewrap(self, new_master: bytes, batch: int = 1000) -> int:
        """Re-wrap every stored data key under `new_master`, in one transaction; returns how many."""
        fresh, kid = AESGCM(new_master), master_key_id(new_master)
        done = 0
        with self._db.transaction() as tx:
            after = ""
            while rows := tx.query(
                "SELECT dossier_id, wrapped_key FROM dossier_keys WHERE dossier_id > ? "
                "ORDER BY dossier_id LIMIT ?",
                (after, batch),
            ):
                for row in rows:
                    dossier_id = str(row["dossier_id"])
                    key = self._unwrap(dossier_id, row["wrapped_key"])
                    tx.execute(
                        "UPDATE dossier_keys SET wrapped_key = ? WHERE dossier_id = ?",
                        (self._wrap(dossier_id, key, fresh, kid), dossier_id),
                    )
                done += len(rows)
                after = str(rows[-1]["dossier_id"])
        return done

    # -- blind index -----------------------------------------------------------------------
    def blind_index(self, id_number: str) -> str:
        normalised = normalise_id_number(id_number)
        return hmac.new(self._index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()

    def phone_index(self, phone: str) -> str:
        """The blind index of a phone number (its own namespace: never equal to an ID's)."""
        normalised = "phone:" + normalise_phone(phone)
        return hmac.new(self._index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()

    def dossiers_of_phone(self, phone: str) -> list[str]:
        """The dossiers whose applicant gave this phone number (and whose keys still exist)."""
        rows = self._db.query(
            "SELECT dossier_id FROM pii_blind_index WHERE digest = ? ORDER BY dossier_id",
            (self.phone_index(phone),),
        )
        return [str(r["dossier_id"]) for r in rows]

    def dossiers_of(self, id_number: str) -> list[str]:
        """The dossiers whose applicant gave this ID number (and whose keys still exist)."""
        rows = self._db.query(
            "SELECT dossier_id FROM pii_blind_index WHERE digest = ? ORDER BY dossier_id",
            (self.blind_index(id_number),),
        )
        return [str(r["dossier_id"]) for r in rows]

    def unindexed(self, after: str = "", limit: int = 500) -> list[str]:
        """Dossiers with a data key but no blind-index entry (received before the index existed)."""
        rows = self._db.query(
            "SELECT k.dossier_id FROM dossier_keys k WHERE k.dossier_id > ? AND NOT EXISTS "
            "(SELECT 1 FROM pii_blind_index b WHERE b.dossier_id = k.dossier_id) "
            "ORDER BY k.dossier_id LIMIT ?",
            (after, limit),
        )
        return [str(r["dossier_id"]) for r in rows]

    def index(self, dossier_id: str, id_number: str | None, phone: str | None = None) -> None:
        digests = [self.blind_index(id_number)] if id_number else []
        if phone and normalise_phone(phone):
            digests.append(self.phone_index(phone))
        with self._db.transaction() as tx:
            tx.executemany(
                "INSERT INTO pii_blind_index (digest, dossier_id) VALUES (?, ?) "
                "ON CONFLICT (digest, dossier_id) DO NOTHING",
                [(digest, dossier_id) for digest in digests],
            )

    def has_key(self, dossier_id: str) -> bool:
        return bool(self._db.query("SELECT 1 AS x FROM dossier_keys WHERE dossier_id = ?", (dossier_id,)))

    # -- erasure (crypto-shredding) ------------------------------------------------------------
    def forget(self, dossier_ids: Sequence[str], *, basis: str, requested_by: str, at: datetime) -> Erased:
        """Shred the data keys and blind-index entries of these dossiers, and record each
        erasure. Their sealed applicant data, wherever a copy went, can no longer be opened."""
        erased: list[str] = []
        already: list[str] = []
        with self._db.transaction() as tx:
            if not self._db.is_postgres:
                # Deleted rows must not linger readable in free pages of the file.
                tx.execute("PRAGMA secure_delete = ON")
            for dossier_id in dict.fromkeys(dossier_ids):
                had = tx.query("SELECT 1 AS x FROM dossier_keys WHERE dossier_id = ?", (dossier_id,))
                tx.execute("DELETE FROM dossier_keys WHERE dossier_id = ?", (dossier_id,))
                tx.execute("DELETE FROM pii_blind_index WHERE dossier_id = ?", (dossier_id,))
                if not had:
                    already.append(dossier_id)
                    continue
                tx.execute(
                    "INSERT INTO pii_erasures (dossier_id, basis, requested_by, erased_at) "
                    "VALUES (?, ?, ?, ?)",
                    (dossier_id, basis, requested_by, at.isoformat()),
                )
                erased.append(dossier_id)
        if not self._db.is_postgres:
            # ...nor in the write-ahead log.
            self._db.query("PRAGMA wal_checkpoint(TRUNCATE)")
        return Erased(erased, already)

    def erasures(self, dossier_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE dossier_id = ?", (dossier_id,)) if dossier_id else ("", ())
        rows = self._db.query(
            f"SELECT id, dossier_id, basis, requested_by, erased_at FROM pii_erasures {where} ORDER BY id",
            params,
        )
        return [dict(r) for r in rows]

    def _data_key(self, dossier_id: str, create: bool) -> bytes | None:
        rows = self._db.query("SELECT wrapped_key FROM dossier_keys WHERE dossier_id = ?", (dossier_id,))
        if rows:
            return self._unwrap(dossier_id, rows[0]["wrapped_key"])
        if not create:
            return None
        key = random_bytes(32)
        wrapped = self._wrap(dossier_id, key)
        conflict = "ON CONFLICT (dossier_id) DO NOTHING"
        self._db.execute(
            f"INSERT INTO dossier_keys (dossier_id, wrapped_key) VALUES (?, ?) {conflict}",
            (dossier_id, wrapped),
        )
        # Another process may have won the race: use whichever key is stored.
        return self._data_key(dossier_id, create=False)

    def new_key(self, dossier_id: str, id_number: str | None = None, phone: str | None = None) -> NewKey:
        """A data key for a new dossier, and the rows that store it and the applicant's blind
        index, written by the caller in the transaction that creates the dossier (so no key
        is stored without its dossier)."""
        key = random_bytes(32)
        wrapped = self._wrap(dossier_id, key)
        # A new stream's transaction fails as a whole if the dossier exists, so replacing a
        # key here can only replace an orphan left by an older release.
        row = (
            "INSERT INTO dossier_keys (dossier_id, wrapped_key) VALUES (?, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET wrapped_key = excluded.wrapped_key",
            (dossier_id, wrapped),
        )
        rows = [row]
        digests = [self.blind_index(id_number)] if id_number else []
        if phone and normalise_phone(phone):
            digests.append(self.phone_index(phone))
        for digest in digests:
            rows.append(
                (
                    "INSERT INTO pii_blind_index (digest, dossier_id) VALUES (?, ?) "
                    "ON CONFLICT (digest, dossier_id) DO NOTHING",
                    (digest, dossier_id),
                )
            )
        return NewKey(key, row, tuple(rows))

    @staticmethod
    def seal_with(key: bytes, dossier_id: str, data: dict[str, Any]) -> dict[str, str]:
        nonce = random_bytes(12)
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
        nonce = random_bytes(12)
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
