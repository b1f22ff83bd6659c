"""The dossier service: read a dossier's history, look the catalogue up, and record commands
through the process's writer (for callers that decide themselves: seed, import).

Gateways run commands through `CommandHandler` (gateways/application/handler.py), which
adds authorization, idempotency and the answer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from domain import commands as cmd
from domain.agencies import Hierarchy
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, fold
from domain.errors import InvalidValue, UnknownDossier
from domain.events import Actor, Channel
from domain.procedures import Procedure, RouteStep
from gateways.application.ports import EventLog, Keys
from gateways.application.writer import Answer, GroupCommitWriter, Job
from gateways.catalogue import Catalogue
from gateways.entropy import token_urlsafe
from gateways.eventstore.store import GENESIS_HASH, RecordedEvent

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


def check_dossier_id(dossier_id: str) -> None:
    try:
        uuid.UUID(dossier_id)
    except ValueError as exc:
        raise UnknownDossier(f"'{dossier_id[:80]}' is not a dossier id (a UUID)") from exc


class DossierService:
    def __init__(
        self,
        store: EventLog,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        vault: Keys,
        clock: Clock,
        writer: GroupCommitWriter,
        supplement_window_working_hours: float | None = None,
    ) -> None:
        self.supplement_window_working_hours = supplement_window_working_hours
        self.store = store
        self.catalogue = catalogue
        self.calendar = calendar
        self.vault = vault
        self.clock = clock
        self.writer = writer

    def now(self) -> datetime:
        return self.clock().astimezone(self.calendar.tz)

    # -- reads -----------------------------------------------------------------------------
    def load(self, dossier_id: str) -> Loaded:
        """The whole history from the store (read-your-writes)."""
        check_dossier_id(dossier_id)
        records = self.store.load(dossier_id)
        state = fold(r.to_domain() for r in records)
        return Loaded(state, records)

    def exists(self, dossier_id: str) -> bool:
        return self.store.version(dossier_id) > 0

    # -- the catalogue, as commands see it ---------------------------------------------------
    @property
    def hierarchy(self) -> Hierarchy:
        return self.catalogue.hierarchy

    def _day(self, at: datetime) -> date:
        return at.astimezone(self.calendar.tz).date()

    def procedure(self, code: str, at: datetime | None = None) -> Procedure:
        """The procedure's latest version, or the version in force on the local day of `at`."""
        procedure = self.catalogue.procedure(code, self._day(at) if at is not None else None)
        if procedure is None:
            if at is not None and self.catalogue.procedure(code) is not None:
                raise InvalidValue(
                    f"procedure '{code[:100]}' was not in force on {self._day(at).isoformat()}"
                )
            raise InvalidValue(f"unknown procedure '{code[:100]}'")
        return procedure

    def procedure_for_receipt(self, code: str, at: datetime, desk: str | None) -> tuple[Procedure, str]:
        """The version in force on the day of receipt, its route steps addressed to ended
        agencies resolved to their successors that day, and the desk (default: the first
        step's agency, or its successor)."""
        procedure = self.procedure(code, at)
        hierarchy = self.catalogue.hierarchy
        day = self._day(at)
        desk = desk or hierarchy.successor_on(procedure.receiving_agency_code, day)
        resolved = [
            replace(step, agency_code=hierarchy.heir_on(step.agency_code, day, prefer=[desk]))
            for step in procedure.route
        ]
        # Two steps that now fall to one agency are one step (the ward took over the district
        # office's work): their budgets add up, the deadline stays.
        route: list[RouteStep] = []
        for step in resolved:
            if route and route[-1].agency_code == step.agency_code:
                merged = route.pop().budget_working_hours + step.budget_working_hours
                route.append(replace(step, budget_working_hours=merged))
            else:
                route.append(step)
        if tuple(route) != procedure.route:
            procedure = replace(procedure, route=tuple(route))
        return procedure, desk

    def addressee(self, code: str, at: datetime, state: Dossier) -> tuple[str, tuple[str, ...]]:
        """The agency a handoff (or consultation) addressed to `code` goes to on the day of
        `at` — `code`, or its successor if it has ended (the successor of the dossier's own
        desk preferred) — and the ended agencies that one stands for."""
        hierarchy = self.catalogue.hierarchy
        day = self._day(at)
        if code in hierarchy and hierarchy.on(code, day) is None:
            code = hierarchy.heir_on(
                code, day, prefer=[state.receiving_agency_code, state.holder_agency_code]
            )
        self.require_agency(code, at=at)
        if not state.imported:
            self.require_live(code)
        ended = sorted(p for p in hierarchy.predecessors_ever(code) if hierarchy.on(p, day) is None)
        return code, tuple(ended)

    def required_components(self, state: Dossier) -> tuple[str, ...]:
        """The components (names) the dossier's procedure required on the local day it was
        received (or submitted): a dossier keeps the procedure version of that day. Empty when
        the procedure lists none or is no longer catalogued."""
        at = state.received_at or state.submitted_at
        if at is None:
            return ()
        day = at.astimezone(self.calendar.tz).date()
        procedure = self.catalogue.procedure(state.procedure_code, on=state.procedure_version or day)
        if procedure is None:
            return ()
        return tuple(c.name.strip() for c in procedure.components_on(day))

    def require_agency(self, *codes: str, at: datetime) -> None:
        """Each agency is catalogued and in force on the local day of `at`."""
        hierarchy = self.catalogue.hierarchy
        day = at.astimezone(self.calendar.tz).date()
        for code in codes:
            if code not in hierarchy:
                raise InvalidValue(f"unknown agency '{code[:100]}'")
            if hierarchy.on(code, day) is None:
                raise InvalidValue(f"agency '{code}' did not exist on {day.isoformat()}")

    def require_live(self, code: str) -> None:
        """`code` is an agency of this system, not a unit an import made of a legacy log's group
        (that one only holds imported history: a live dossier sent there would wait for ever)."""
        if self.catalogue.is_legacy(code):
            raise InvalidValue(
                f"'{code}' is a unit of imported legacy history, not an agency of this system: "
                "no live dossier goes there"
            )

    # -- writes for callers that act as the system (seed, import) -----------------------------
    def execute(
        self,
        dossier_id: str,
        build: Callable[[Dossier], cmd.Command],
        expected_version: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Dossier:
        """Decide `build(state)` on the dossier's current state and record it (blocking)."""
        check_dossier_id(dossier_id)
        result: dict[str, Dossier] = {}

        def decide_on(state: Dossier | None) -> Any:
            if state is None:
                raise UnknownDossier(f"no dossier {dossier_id}")
            return decide(state, build(state), self.calendar)

        def keep(state: Dossier, _records: list[RecordedEvent]) -> Answer:
            result["state"] = state
            return Answer(200, {}, dossier_id, state.version)

        self.writer.run(
            Job(dossier_id, decide_on, keep, _no_replay, expected_version=expected_version, metadata=metadata)
        )
        return result["state"]

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
        command, new_key, secret = self.receive_command(
            dossier_id=dossier_id,
            procedure_code=procedure_code,
            channel=channel,
            applicant=applicant,
            receiving_agency_code=receiving_agency_code,
            actor=actor,
            occurred_at=occurred_at,
            submitted_only=submitted_only,
            imported=imported,
        )
        assert secret is not None  # drawn here: no hash was given
        return Created(self._append_new(dossier_id, command, list(new_key.rows), metadata), secret)

    def _append_new(
        self, dossier_id: str, command: cmd.Command, key_rows: list[Any], metadata: dict[str, str] | None
    ) -> Dossier:
        """Record a new dossier's first event with its data key (blocking)."""
        result: dict[str, Dossier] = {}

        def keep(state: Dossier, _records: list[RecordedEvent]) -> Answer:
            result["state"] = state
            return Answer(201, {}, dossier_id, state.version)

        self.writer.run(
            Job(
                dossier_id,
                lambda state: decide(state, command, self.calendar),
                keep,
                _no_replay,
                new_stream=True,
                metadata=metadata,
                rows=list(key_rows),
            )
        )
        return result["state"]

    def receive_command(
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
        lookup_secret_hash: str | None = None,
    ) -> tuple[cmd.Command, Any, str | None]:
        """The command that creates a dossier, the new data key (its row goes into the same
        transaction) and the lookup secret to give the citizen once: None when the sender gave
        `lookup_secret_hash`, the hash of a secret it drew and gives the citizen itself."""
        procedure, desk = self.procedure_for_receipt(procedure_code, occurred_at, receiving_agency_code)
        self.require_agency(desk, *(step.agency_code for step in procedure.route), at=occurred_at)
        if not imported:
            self.require_live(desk)
        secret = None if lookup_secret_hash else token_urlsafe(12)
        id_number = applicant.get("id_number")
        phone = applicant.get("phone")
        new_key = self.vault.new_key(
            dossier_id, str(id_number) if id_number else None, str(phone) if phone else None
        )
        common: dict[str, Any] = {
            "actor": actor,
            "occurred_at": occurred_at,
            "dossier_id": dossier_id,
            "receipt_code": receipt_code_for(desk, occurred_at.astimezone(self.calendar.tz), dossier_id),
            "procedure": procedure,
            "receiving_agency_code": desk,
            "applicant": self.vault.seal_with(new_key.key, dossier_id, dict(applicant)),
            "lookup_secret_hash": lookup_secret_hash if secret is None else secret_hash(secret),
        }
        command: cmd.Command
        if submitted_only:
            command = cmd.SubmitOnline(**common)
        else:
            command = cmd.ReceiveDossier(channel=channel, imported=imported, **common)
        return command, new_key, secret


def _no_replay(_stored: Any) -> Answer:
    raise AssertionError("jobs without an idempotency key are never replayed")
