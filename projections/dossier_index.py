"""Dossier index view: one row per dossier for search, inbox and citizen lookup.

A pure fold: (row | None, event) -> row. Storing rows and the feed position is
a gateway's job; redelivery is recognised by `seq` (a row never goes back).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain import events as ev
from domain.dossier import STATUS_CODES, Status


@dataclass(frozen=True)
class DossierRow:
    dossier_id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    holder_agency_code: str
    status: str
    status_code: int
    last_seq: int
    channel: str = "online"
    received_at: datetime | None = None
    due_at: datetime | None = None
    promised_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    timeliness: str | None = None
    pending_handoff_to: str | None = None
    paused: bool = False
    lookup_secret_hash: str = ""
    imported: bool = False
    updated_at: datetime | None = None


def _status(row: DossierRow, status: Status) -> DossierRow:
    return replace(row, status=status.value, status_code=STATUS_CODES[status])


def _processing(row: DossierRow) -> DossierRow:
    return _status(row, Status.IN_PROCESS) if row.status == Status.RECEIVED.value else row


def apply(row: DossierRow | None, dossier_id: str, seq: int, event: ev.DossierEvent) -> DossierRow | None:
    """The row after `event`; None if the event cannot start a row (ignored)."""
    if row is not None and seq <= row.last_seq:
        return row  # redelivered: already applied
    at = event.occurred_at
    if row is None:
        if isinstance(event, ev.DossierSubmittedOnline):
            return DossierRow(
                dossier_id=dossier_id,
                receipt_code=event.receipt_code,
                procedure_code=event.procedure_code,
                receiving_agency_code=event.receiving_agency_code,
                holder_agency_code=event.receiving_agency_code,
                status=Status.SUBMITTED.value,
                status_code=1,
                last_seq=seq,
                lookup_secret_hash=event.lookup_secret_hash,
                updated_at=at,
            )
        if not isinstance(event, ev.DossierReceived):
            return None
        row = DossierRow(
            dossier_id=dossier_id,
            receipt_code=event.receipt_code,
            procedure_code=event.procedure_code,
            receiving_agency_code=event.receiving_agency_code,
            holder_agency_code=event.receiving_agency_code,
            status=Status.RECEIVED.value,
            status_code=2,
            last_seq=seq - 1,
            lookup_secret_hash=event.lookup_secret_hash,
        )
    row = replace(row, last_seq=seq, updated_at=at)
    match event:
        case ev.DossierReceived():
            row = replace(
                _status(row, Status.RECEIVED),
                channel=event.channel.value,
                received_at=at,
                due_at=event.due_at,
                imported=event.imported,
            )
        case ev.DossierRefusedAtIntake():
            row = replace(_status(row, Status.REFUSED), closed_at=at)
        case ev.HandedOff():
            row = replace(_processing(row), pending_handoff_to=event.to_agency_code)
        case ev.HandoffAccepted():
            row = replace(row, holder_agency_code=event.to_agency_code, pending_handoff_to=None)
        case ev.HandoffReturned():
            row = replace(row, holder_agency_code=event.to_agency_code, pending_handoff_to=None)
        case ev.SupplementRequested():
            row = replace(_status(row, Status.AWAITING_SUPPLEMENT), paused=True)
        case ev.FeeRequested():
            row = replace(_status(row, Status.AWAITING_FEE), paused=True)
        case ev.SupplementReceived() | ev.FeePaid():
            row = replace(_status(row, Status.IN_PROCESS), paused=False, due_at=event.due_at)
        case ev.ApologyIssued():
            row = replace(_processing(row), promised_at=event.new_due_at)
        case ev.ResultReady():
            row = replace(
                _status(row, Status.RESULT_READY), resolved_at=at, timeliness=event.timeliness.value
            )
        case ev.ResultReturned():
            row = replace(_status(row, Status.RETURNED), closed_at=at)
        case ev.DossierWithdrawn():
            row = replace(_status(row, Status.WITHDRAWN), closed_at=at, pending_handoff_to=None)
        case ev.ProcessingStopped():
            row = replace(_status(row, Status.STOPPED), closed_at=at, pending_handoff_to=None)
        case _:
            row = _processing(row)
    return row
