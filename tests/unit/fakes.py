"""In-memory fakes of the application's ports: no database, no HTTP, no Kafka."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.agencies import Agency, Hierarchy
from domain.procedures import Procedure, version_on
from gateways.application.errors import ConcurrencyConflict
from gateways.application.idempotency import IdempotencyScope, StoredResponse
from gateways.eventstore.store import Encoded, RecordedEvent
from gateways.pii import NewKey, PiiVault


@dataclass(frozen=True)
class FakeRow:
    """A row for a table of the fake database: unique by key unless `replace`."""

    table: dict[str, Any]
    key: str
    value: Any
    replace: bool = False


class InMemoryEventLog:
    """Streams in dicts; a commit checks every stream's version and every row's key first,
    then applies all of it (all or nothing, like one transaction)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[RecordedEvent]] = {}
        self.notifications = 0
        self.commits = 0
        self.loads = 0

    def load(self, dossier_id: str, *, upto_seq: int | None = None) -> list[RecordedEvent]:
        self.loads += 1
        records = list(self.streams.get(dossier_id, []))
        return records if upto_seq is None else records[:upto_seq]

    def load_after(self, dossier_id: str, version: int) -> list[RecordedEvent]:
        return list(self.streams.get(dossier_id, []))[version:]

    def version(self, dossier_id: str) -> int:
        return len(self.streams.get(dossier_id, []))

    def existing(self, dossier_ids: Sequence[str]) -> set[str]:
        return {d for d in dossier_ids if d in self.streams}

    def commit_encoded(
        self, batch: Sequence[Encoded], rows: Sequence[Any] = (), *, numbered: bool = True
    ) -> list[list[RecordedEvent]]:
        versions: dict[str, int] = {}
        for encoded in batch:
            dossier_id = encoded.append.dossier_id
            if versions.get(dossier_id, self.version(dossier_id)) != encoded.append.expected_version:
                raise ConcurrencyConflict(f"dossier {dossier_id} changed")
            versions[dossier_id] = encoded.version
        for row in rows:
            if not row.replace and row.key in row.table:
                raise ConcurrencyConflict(f"duplicate key {row.key}")
        out = []
        for encoded in batch:
            stream = self.streams.setdefault(encoded.append.dossier_id, [])
            recorded = []
            for record in encoded.records:
                self.notifications += 1
                recorded.append(RecordedEvent(record.envelope, record.raw, self.notifications))
            stream.extend(recorded)
            out.append(recorded)
        for row in rows:
            row.table[row.key] = row.value
        self.commits += 1
        return out if numbered else []


class FakeIdempotency:
    def __init__(self) -> None:
        self.records: dict[str, StoredResponse] = {}

    def find(self, scope_keys: Iterable[str], now: datetime) -> dict[str, StoredResponse]:
        return {k: self.records[k] for k in scope_keys if k in self.records}

    def rows(
        self,
        scope: IdempotencyScope,
        request_hash: str,
        status: int,
        body: bytes,
        sealed_secret: dict[str, Any] | None,
        dossier_id: str | None,
        now: datetime,
    ) -> list[FakeRow]:
        stored = StoredResponse(request_hash, status, body, sealed_secret, dossier_id)
        return [FakeRow(self.records, scope.scope_key, stored)]

    def purge(self, now: datetime) -> int:
        return 0


class FakeVault:
    """Per-dossier keys in a dict (sealing itself is the real AES-GCM)."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def new_key(self, dossier_id: str, id_number: str | None = None, phone: str | None = None) -> NewKey:
        key = os.urandom(32)
        row = FakeRow(self.keys, dossier_id, key, replace=True)
        return NewKey(key, row, (row,))  # type: ignore[arg-type]

    seal_with = staticmethod(PiiVault.seal_with)

    def open_sealed(self, dossier_id: str, sealed: dict[str, Any]) -> dict[str, Any] | None:
        import base64

        import orjson
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self.keys.get(dossier_id)
        if key is None:
            return None
        plain = AESGCM(key).decrypt(
            base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]), dossier_id.encode()
        )
        result: dict[str, Any] = orjson.loads(plain)
        return result

    def shred(self, dossier_id: str) -> None:
        self.keys.pop(dossier_id, None)


class FakeCatalogue:
    def __init__(self) -> None:
        self._agencies: list[Agency] = []
        self._procedures: dict[tuple[str, date | None], Procedure] = {}
        self._hierarchy = Hierarchy()
        self._legacy: set[str] = set()

    @property
    def hierarchy(self) -> Hierarchy:
        return self._hierarchy

    def is_legacy(self, code: str) -> bool:
        return code in self._legacy

    def put_agency(self, agency: Agency, *, legacy: bool = False) -> bool:
        if legacy:
            self._legacy.add(agency.code)
        self._agencies = [
            a for a in self._agencies if (a.code, a.valid_from) != (agency.code, agency.valid_from)
        ]
        self._agencies.append(agency)
        self._hierarchy = Hierarchy(self._agencies)
        return True

    def put_procedure(self, procedure: Procedure) -> bool:
        self._procedures[(procedure.code, procedure.valid_from)] = procedure
        return True

    def procedure(self, code: str, on: date | None = None) -> Procedure | None:
        versions = [p for (c, _), p in self._procedures.items() if c == code]
        if not versions:
            return None
        return version_on(versions, on or date.max)

    def procedures(self) -> list[Procedure]:
        codes = sorted({c for c, _ in self._procedures})
        return [p for p in (self.procedure(c) for c in codes) if p is not None]

    def is_empty(self) -> bool:
        return not self._agencies
