"""What the printed forms say about one dossier, read from its events.

Everything here comes from the dossier's own history (the event store), the catalogue
(agency and procedure names) and, for the applicant, the PII vault: opening the applicant
is a logged access (`pii_access_log`, purpose `print:<kind>`).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain import events as ev
from domain.dossier import Dossier
from gateways.application.service import Loaded, secret_hash
from gateways.catalogue import Catalogue
from gateways.pii import PiiVault
from projections import control_sheet


class DocumentError(Exception):
    """A form that cannot be printed for this dossier (status 404) or a bad request (422)."""

    def __init__(self, status: int, title: str, detail: str, kind: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind


@dataclass(frozen=True)
class Reader:
    """Who prints: recorded in the PII access log when the applicant is opened."""

    subject: str
    role: str


@dataclass(frozen=True)
class Officer:
    agency_code: str
    user: str


@dataclass(frozen=True)
class Step:
    """One row of the control sheet, with the officers who gave and took the dossier."""

    from_agency_code: str
    from_agency_name: str
    to_agency_code: str
    to_agency_name: str
    handed_at: datetime
    handed_by: str
    accepted_at: datetime | None
    accepted_by: str
    returned_at: datetime | None
    return_reason: str | None
    step_timeliness: str | None
    note: str


@dataclass(frozen=True)
class Notice:
    """A supplement request, a refusal or an apology: when, by whom, why (and a new date)."""

    at: datetime
    officer: Officer
    reason: str
    new_due_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    dossier_id: str
    receipt_code: str
    procedure_code: str
    procedure_name: str
    channel: str
    receiving_agency_code: str
    receiving_agency_name: str
    parent_agency_name: str
    status: str
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None
    timeliness: str | None
    received_by: str
    applicant: dict[str, Any] | None  # None once erased
    supplement: Notice | None = None
    refusal: Notice | None = None
    apology: Notice | None = None
    steps: tuple[Step, ...] = field(default_factory=tuple)


def sealed_applicant(records: Sequence[Any]) -> dict[str, Any] | None:
    for record in records:
        event = record.to_domain()
        applicant = getattr(event, "applicant", None)
        if isinstance(event, ev.DossierSubmittedOnline | ev.DossierReceived) and applicant:
            return dict(applicant)
    return None


def check_secret(state: Dossier, secret: str | None) -> str | None:
    """The lookup secret to print, only when it is the dossier's own (checked against its hash)."""
    if not secret:
        return None
    if not hmac.compare_digest(state.lookup_secret_hash, secret_hash(secret)):
        raise DocumentError(
            422,
            "Wrong lookup secret",
            "the lookup secret given does not belong to this dossier",
            "bad-secret",
        )
    return secret


def gather(
    loaded: Loaded, catalogue: Catalogue, vault: PiiVault, reader: Reader, purpose: str, now: datetime
) -> Facts:
    state = loaded.state
    if state is None:  # pragma: no cover - the caller answers 404 before
        raise DocumentError(404, "Unknown dossier", "no such dossier", "unknown-dossier")
    hierarchy = catalogue.hierarchy

    def name(code: str) -> str:
        agency = hierarchy.latest(code)
        return agency.name if agency else code

    receiving = hierarchy.latest(state.receiving_agency_code)
    parent = hierarchy.latest(receiving.parent_code) if receiving and receiving.parent_code else None
    records = list(loaded.records)
    events = [(r.seq, r.to_domain()) for r in records]
    sheet = control_sheet.build(state.id, events)

    received_by = ""
    supplement = refusal = apology = None
    handed_by: dict[int, str] = {}
    accepted_by: dict[int, str] = {}
    last_handoff: int | None = None
    for seq, event in events:
        officer = Officer(event.actor.agency_code, event.actor.user)
        match event:
            case ev.DossierReceived():
                received_by = event.actor.user
            case ev.SupplementRequested():
                supplement = Notice(event.occurred_at, officer, event.reason)
            case ev.DossierRefusedAtIntake():
                refusal = Notice(event.occurred_at, officer, event.reason)
            case ev.ApologyIssued():
                apology = Notice(event.occurred_at, officer, event.reason, event.new_due_at)
            case ev.HandedOff():
                handed_by[seq] = event.actor.user
                last_handoff = seq
            case ev.HandoffAccepted() if last_handoff is not None:
                accepted_by[last_handoff] = event.actor.user
            case _:
                pass

    sealed = sealed_applicant(records)
    applicant = (
        vault.open(state.id, sealed, subject=reader.subject, role=reader.role, purpose=purpose, at=now)
        if sealed
        else None
    )
    steps = tuple(
        Step(
            from_agency_code=row.from_agency_code,
            from_agency_name=name(row.from_agency_code),
            to_agency_code=row.to_agency_code,
            to_agency_name=name(row.to_agency_code),
            handed_at=row.handed_at,
            handed_by=handed_by.get(row.seq, ""),
            accepted_at=row.accepted_at,
            accepted_by=accepted_by.get(row.seq, ""),
            returned_at=row.returned_at,
            return_reason=row.return_reason,
            step_timeliness=row.step_timeliness,
            note=row.note,
        )
        for row in sheet.rows
    )
    procedure = catalogue.procedure(state.procedure_code)
    return Facts(
        dossier_id=state.id,
        receipt_code=state.receipt_code,
        procedure_code=state.procedure_code,
        procedure_name=state.procedure_name or (procedure.name if procedure else state.procedure_code),
        channel=state.channel.value,
        receiving_agency_code=state.receiving_agency_code,
        receiving_agency_name=receiving.name if receiving else state.receiving_agency_code,
        parent_agency_name=parent.name if parent else "",
        status=state.status.value,
        received_at=sheet.received_at,
        due_at=sheet.due_at,
        promised_at=sheet.promised_at,
        resolved_at=sheet.resolved_at,
        returned_at=sheet.returned_at,
        timeliness=sheet.timeliness,
        received_by=received_by,
        applicant=applicant,
        supplement=supplement,
        refusal=refusal,
        apology=apology,
        steps=steps,
    )
