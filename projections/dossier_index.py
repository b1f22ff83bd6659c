"""Dossier index view: one row per dossier for search, inbox and citizen lookup.

A pure fold: (row | None, event) -> row. Storing rows and the feed position is
a gateway's job; redelivery is recognised by `seq` (a row never goes back).

`fold_batch` folds a whole batch: each dossier's row is thawed once into a mutable
builder, takes all of that dossier's events, and is frozen once. It equals applying
the events one by one (a property test says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain import events as ev
from domain.dossier import STATUS_CODES, Status

if TYPE_CHECKING:
    from dataclasses import replace
else:  # the folds' copies: domain/records.py
    from domain.records import copy_with as replace


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
        case ev.HolderSucceeded():
            # The status stays what it was (as in the domain's fold); the ended agency's parts move.
            row = replace(
                row,
                holder_agency_code=event.to_agency_code if event.holder else row.holder_agency_code,
                pending_handoff_to=event.to_agency_code if event.pending else row.pending_handoff_to,
                receiving_agency_code=event.to_agency_code if event.desk else row.receiving_agency_code,
            )
        case ev.DocumentAttached():
            pass  # a file does not move the dossier on
        case _:
            row = _processing(row)
    return row


# --- a batch at a time ----------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(DossierRow))


def _set_status(row: dict[str, Any], status: Status) -> None:
    row["status"] = status.value
    row["status_code"] = STATUS_CODES[status]


def _fold_into(row: dict[str, Any], event: ev.DossierEvent) -> None:
    """`apply` on a mutable row (a dict of DossierRow's fields), for an event it has not seen."""
    at = event.occurred_at
    row["updated_at"] = at
    match event:
        case ev.DossierReceived():
            _set_status(row, Status.RECEIVED)
            row["channel"] = event.channel.value
            row["received_at"] = at
            row["due_at"] = event.due_at
            row["imported"] = event.imported
        case ev.DossierRefusedAtIntake():
            _set_status(row, Status.REFUSED)
            row["closed_at"] = at
        case ev.HandedOff():
            if row["status"] == Status.RECEIVED.value:
                _set_status(row, Status.IN_PROCESS)
            row["pending_handoff_to"] = event.to_agency_code
        case ev.HandoffAccepted() | ev.HandoffReturned():
            row["holder_agency_code"] = event.to_agency_code
            row["pending_handoff_to"] = None
        case ev.SupplementRequested():
            _set_status(row, Status.AWAITING_SUPPLEMENT)
            row["paused"] = True
        case ev.FeeRequested():
            _set_status(row, Status.AWAITING_FEE)
            row["paused"] = True
        case ev.SupplementReceived() | ev.FeePaid():
            _set_status(row, Status.IN_PROCESS)
            row["paused"] = False
            row["due_at"] = event.due_at
        case ev.ApologyIssued():
            if row["status"] == Status.RECEIVED.value:
                _set_status(row, Status.IN_PROCESS)
            row["promised_at"] = event.new_due_at
        case ev.ResultReady():
            _set_status(row, Status.RESULT_READY)
            row["resolved_at"] = at
            row["timeliness"] = event.timeliness.value
        case ev.ResultReturned():
            _set_status(row, Status.RETURNED)
            row["closed_at"] = at
        case ev.DossierWithdrawn():
            _set_status(row, Status.WITHDRAWN)
            row["closed_at"] = at
            row["pending_handoff_to"] = None
        case ev.ProcessingStopped():
            _set_status(row, Status.STOPPED)
            row["closed_at"] = at
            row["pending_handoff_to"] = None
        case ev.HolderSucceeded():
            if event.holder:
                row["holder_agency_code"] = event.to_agency_code
            if event.pending:
                row["pending_handoff_to"] = event.to_agency_code
            if event.desk:
                row["receiving_agency_code"] = event.to_agency_code
        case ev.DocumentAttached():
            pass  # a file does not move the dossier on
        case _:
            if row["status"] == Status.RECEIVED.value:
                _set_status(row, Status.IN_PROCESS)


def fold_batch(
    rows: Mapping[str, DossierRow | None], batch: Iterable[tuple[str, int, ev.DossierEvent]]
) -> dict[str, DossierRow | None]:
    """The rows after `batch` ((dossier_id, seq, event) in per-dossier order) for every dossier
    it names; `rows` holds the rows before it (absent: none yet)."""
    open_rows: dict[str, dict[str, Any] | None] = {}
    for dossier_id, seq, event in batch:
        if dossier_id in open_rows:
            row = open_rows[dossier_id]
        else:
            before = rows.get(dossier_id)
            row = None if before is None else {name: getattr(before, name) for name in _FIELDS}
        if row is None:
            started = apply(None, dossier_id, seq, event)
            open_rows[dossier_id] = (
                None if started is None else {name: getattr(started, name) for name in _FIELDS}
            )
            continue
        open_rows[dossier_id] = row
        if seq <= row["last_seq"]:
            continue
        row["last_seq"] = seq
        _fold_into(row, event)
    out: dict[str, DossierRow | None] = {}
    for dossier_id, row in open_rows.items():
        out[dossier_id] = None if row is None else DossierRow(**row)
    return out
