"""What the use cases need from the world, as protocols: the real adapters (eventsourcing
recorders, the project's SQL tables, the PII vault, the catalogue) satisfy them, and unit
tests pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from domain.agencies import Hierarchy
from domain.procedures import Procedure
from gateways.eventstore.store import Encoded, RecordedEvent


class EventLog(Protocol):
    """The event store as the writer and the service use it."""

    def load(self, dossier_id: str, *, upto_seq: int | None = None) -> list[RecordedEvent]: ...

    def load_after(self, dossier_id: str, version: int) -> list[RecordedEvent]: ...

    def version(self, dossier_id: str) -> int: ...

    def existing(self, dossier_ids: Sequence[str]) -> set[str]: ...

    def commit_encoded(
        self, batch: Sequence[Encoded], rows: Sequence[Any] = (), *, numbered: bool = True
    ) -> list[list[RecordedEvent]]:
        """All of `batch` and `rows` in one transaction, or ConcurrencyConflict and nothing;
        the committed records, or [] with `numbered=False` (the caller does not read them)."""
        ...


class Keys(Protocol):
    """The PII vault as commands use it."""

    def new_key(self, dossier_id: str, id_number: str | None = None, phone: str | None = None) -> Any:
        """A data key, and the rows (key, blind index) that go into the creating transaction."""
        ...

    def seal_with(self, key: bytes, dossier_id: str, data: dict[str, Any]) -> dict[str, str]: ...

    def open_sealed(self, dossier_id: str, sealed: dict[str, Any]) -> dict[str, Any] | None: ...

    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> dict[str, str]:
        """Seal with the dossier's own key (files' names)."""
        ...

    def has_key(self, dossier_id: str) -> bool:
        """False once the dossier's personal data was erased."""
        ...


class CatalogueReader(Protocol):
    @property
    def hierarchy(self) -> Hierarchy: ...

    def procedure(self, code: str, on: date | None = None) -> Procedure | None: ...


class IdempotencyRecords(Protocol):
    def find(self, scope_keys: Iterable[str], now: datetime) -> dict[str, Any]: ...

    def rows(
        self,
        scope: Any,
        request_hash: str,
        status: int,
        body: bytes,
        sealed_secret: dict[str, Any] | None,
        dossier_id: str | None,
        now: datetime,
    ) -> list[Any]: ...

    def purge(self, now: datetime) -> int: ...
