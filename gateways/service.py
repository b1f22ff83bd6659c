"""The application service: load a dossier, decide, append, feed the views.

HTTP and Kafka inbound commands both go through `DossierService.execute`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import commands as cmd
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve, fold
from domain.errors import InvalidValue, UnknownDossier
from domain.events import Actor, Channel
from domain.procedures import Procedure
from gateways.catalogue import Catalogue
from gateways.eventstore.store import GENESIS_HASH, ConcurrencyConflict, EventStore, RecordedEvent
from gateways.pii import PiiVault

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Loaded:
    state: Dossier | None
    records: list[RecordedEvent]

    @property
    def version(self) -> int:
        return self.state.version if self.state else 0

    @property
    def last_hash(self) -> str:
        return self.records[-1].hash if self.records else GENESIS_HASH

    def as_of(self, at: datetime) -> Loaded:
        """The history up to `at` (event time), and the state it gives."""
        events = [r.to_domain() for r in self.records]
        kept = [r for r, e in zip(self.records, events, strict=True) if e.occurred_at <= at]
        return Loaded(fold(events, as_of=at), kept)


@dataclass(frozen=True)
class Created:
    state: Dossier
    lookup_secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(b"lienthong-lookup:" + secret.encode()).hexdigest()


def receipt_code_for(agency_code: str, at: datetime, dossier_id: str) -> str:
    """Mã hồ sơ: desk code, local date, and a suffix unique per dossier."""
    return f"{agency_code}-{at:%y%m%d}-{uuid.UUID(dossier_id).hex[:6].upper()}"


class DossierService:
    def __init__(
        self,
        store: EventStore,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        vault: PiiVault,
        clock: Clock,
        on_appended: Callable[[list[RecordedEvent]], None] = lambda _records: None,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.calendar = calendar
        self.vault = vault
        self.clock = clock
        self._on_appended = on_appended

    def now(self) -> datetime:
        return self.clock().astimezone(self.calendar.tz)

    def load(self, dossier_id: str) -> Loaded:
        try:
            uuid.UUID(dossier_id)
        except ValueError as exc:
            raise UnknownDossier(f"'{dossier_id}' is not a dossier id (a UUID)") from exc
        records = self.store.load(dossier_id)
        state = fold(r.to_domain() for r in records)
        return Loaded(state, records)

    def _append(
        self, dossier_id: str, loaded: Loaded, command: cmd.Command, metadata: dict[str, str] | None = None
    ) -> tuple[Dossier, list[RecordedEvent]]:
        events = decide(loaded.state, command, self.calendar)
        recorded = self.store.append(
            dossier_id, loaded.version, loaded.last_hash, events, self.now(), metadata
        )
        state = loaded.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        self._on_appended(recorded)
        return state, recorded

    def execute(
        self,
        dossier_id: str,
        build: Callable[[Dossier], cmd.Command],
        expected_version: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Dossier:
        loaded = self.load(dossier_id)
        if loaded.state is None:
            raise UnknownDossier(f"no dossier {dossier_id}")
        if expected_version is not None and expected_version != loaded.version:
            raise ConcurrencyConflict(
                f"dossier is at version {loaded.version}, not {expected_version} (If-Match)"
            )
        state, _ = self._append(dossier_id, loaded, build(loaded.state), metadata)
        return state

    def procedure(self, code: str) -> Procedure:
        procedure = self.catalogue.procedure(code)
        if procedure is None:
            raise InvalidValue(f"unknown procedure '{code}'")
        return procedure

    def require_agency(self, *codes: str, at: datetime) -> None:
        """Each agency is catalogued and in force on the local day of `at`."""
        hierarchy = self.catalogue.hierarchy
        day = at.astimezone(self.calendar.tz).date()
        for code in codes:
            if code not in hierarchy:
                raise InvalidValue(f"unknown agency '{code}'")
            if hierarchy.on(code, day) is None:
                raise InvalidValue(f"agency '{code}' did not exist on {day.isoformat()}")

    def create(
        self,
        *,
        dossier_id: str,
        procedure_code: str,
        channel: Channel,
        applicant: dict[str, object],
        receiving_agency_code: str | None,
        actor: Actor,
        occurred_at: datetime,
        submitted_only: bool = False,
        imported: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> Created:
        procedure = self.procedure(procedure_code)
        desk = receiving_agency_code or procedure.receiving_agency_code
        self.require_agency(desk, *(step.agency_code for step in procedure.route), at=occurred_at)
        secret = secrets.token_urlsafe(12)
        common: dict[str, Any] = {
            "actor": actor,
            "occurred_at": occurred_at,
            "dossier_id": dossier_id,
            "receipt_code": receipt_code_for(desk, occurred_at.astimezone(self.calendar.tz), dossier_id),
            "procedure": procedure,
            "receiving_agency_code": desk,
            "applicant": self.vault.seal(dossier_id, applicant),
            "lookup_secret_hash": secret_hash(secret),
        }
        command: cmd.Command
        if submitted_only:
            command = cmd.SubmitOnline(**common)
        else:
            command = cmd.ReceiveDossier(channel=channel, imported=imported, **common)
        loaded = Loaded(None, [])
        try:
            state, _ = self._append(dossier_id, loaded, command, metadata)
        except ConcurrencyConflict as exc:
            raise ConcurrencyConflict(f"dossier {dossier_id} already exists") from exc
        return Created(state, secret)
