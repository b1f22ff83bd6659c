"""Erasure of a person's data (crypto-shredding): the use case behind
`POST /api/v1/privacy/forget` and `lienthong privacy forget`.

The person's dossiers are found by dossier id or through the vault's blind index of ID
numbers; their data keys and index entries are destroyed, so the sealed applicant data —
in the event store, in views, in exports and on Kafka, where only ciphertext ever went —
can no longer be opened. Events, hash chains, checkpoints and statistics are untouched.
Each erasure is recorded without personal data (dossier id, basis, who, when).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.errors import ActorNotAllowed, InvalidValue, UnknownDossier
from gateways.application.service import check_dossier_id

ERASERS = ("admin",)


class Vault(Protocol):
    def dossiers_of(self, id_number: str) -> list[str]: ...

    def has_key(self, dossier_id: str) -> bool: ...

    def forget(self, dossier_ids: Sequence[str], *, basis: str, requested_by: str, at: datetime) -> Any: ...


class Streams(Protocol):
    def version(self, dossier_id: str) -> int: ...


class IndexedVault(Protocol):
    def unindexed(self, after: str = "", limit: int = 500) -> list[str]: ...

    def open_sealed(self, dossier_id: str, sealed: dict[str, Any]) -> dict[str, Any] | None: ...

    def index(self, dossier_id: str, id_number: str | None, phone: str | None = None) -> None: ...


class Files(Protocol):
    def forget(self, dossier_ids: Sequence[str], at: datetime) -> int: ...


class History(Protocol):
    def load(self, dossier_id: str, *, upto_seq: int | None = None) -> list[Any]: ...


@dataclass(frozen=True)
class Forgotten:
    erased: list[str]  # dossiers whose keys were destroyed now
    already: list[str]  # named, but erased before
    files_erased: int = 0  # stored files (scans, results) deleted with them

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "erased": self.erased,
            "already_erased": self.already,
            "count": len(self.erased),
        }
        if self.files_erased:
            body["files_erased"] = self.files_erased
        return body


def forget(
    vault: Vault,
    streams: Streams,
    *,
    role: str,
    subject: str,
    at: datetime,
    id_number: str | None = None,
    dossier_id: str | None = None,
    files: Files | None = None,
) -> Forgotten:
    """Erase the applicant data of one dossier, or of every dossier of one ID number, and
    the files attached to those dossiers (they are the person's papers)."""
    if role not in ERASERS:
        raise ActorNotAllowed(f"role '{role}' may not erase personal data (needs admin)")
    if (id_number is None) == (dossier_id is None):
        raise InvalidValue("name exactly one of id_number or dossier_id")
    if dossier_id is not None:
        check_dossier_id(dossier_id)
        if streams.version(dossier_id) == 0:
            raise UnknownDossier(f"no dossier {dossier_id}")
        ids, basis = [dossier_id], "dossier"
    else:
        assert id_number is not None
        if not id_number.strip():
            raise InvalidValue("id_number is empty")
        # The number itself is never recorded: the erasure names its dossiers only.
        ids, basis = vault.dossiers_of(id_number), "id_number"
    result = vault.forget(ids, basis=basis, requested_by=subject, at=at)
    erased, already = list(result.dossier_ids), list(result.already)
    # Files of dossiers erased before are looked at again: a deletion cut short is finished.
    deleted = files.forget([*erased, *already], at) if files is not None else 0
    return Forgotten(erased, already, deleted)


def reindex(vault: IndexedVault, history: History) -> int:
    """Add the blind-index entries of dossiers received before the index existed (their
    applicant data is opened once, in memory, and never logged); returns how many."""
    added, after = 0, ""
    while batch := vault.unindexed(after):
        for dossier_id in batch:
            records = history.load(dossier_id, upto_seq=1)
            sealed = records[0].envelope.get("payload", {}).get("applicant") if records else None
            opened = vault.open_sealed(dossier_id, dict(sealed)) if isinstance(sealed, dict) else None
            number = opened.get("id_number") if opened else None
            phone = opened.get("phone") if opened else None
            if number or phone:
                vault.index(dossier_id, str(number) if number else None, str(phone) if phone else None)
                added += 1
        after = batch[-1]
    return added
