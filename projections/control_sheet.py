"""Phiếu kiểm soát quá trình giải quyết hồ sơ: one row per handoff.

Intake and the return to the citizen are the first and last rows' times, not
rows of their own; a row's `step_timeliness` is the giving agency's finished step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from domain import events as ev

if TYPE_CHECKING:
    from dataclasses import replace
else:  # the folds' copies: domain/records.py
    from domain.records import copy_with as replace


@dataclass(frozen=True)
class ControlRow:
    seq: int
    from_agency_code: str
    to_agency_code: str
    handed_at: datetime
    accepted_at: datetime | None = None
    returned_at: datetime | None = None
    return_reason: str | None = None
    step_timeliness: str | None = None
    step_used_working_hours: float = 0.0
    off_route: bool = False
    note: str = ""
    succession: bool = False  # a row of its own for a holder succeeded at a cutover
    succeeded_by: str | None = None  # a pending handoff's receiver ended: its successor takes it


@dataclass(frozen=True)
class ControlSheet:
    dossier_id: str
    receipt_code: str = ""
    procedure_code: str = ""
    received_at: datetime | None = None
    due_at: datetime | None = None
    promised_at: datetime | None = None
    resolved_at: datetime | None = None
    returned_at: datetime | None = None
    timeliness: str | None = None
    rows: tuple[ControlRow, ...] = field(default_factory=tuple)


def build(dossier_id: str, events: Iterable[tuple[int, ev.DossierEvent]]) -> ControlSheet:
    sheet = ControlSheet(dossier_id=dossier_id)
    for seq, event in events:
        at = event.occurred_at
        match event:
            case ev.DossierSubmittedOnline():
                sheet = replace(sheet, receipt_code=event.receipt_code, procedure_code=event.procedure_code)
            case ev.DossierReceived():
                sheet = replace(
                    sheet,
                    receipt_code=event.receipt_code,
                    procedure_code=event.procedure_code,
                    received_at=at,
                    due_at=event.due_at,
                )
            case ev.HandedOff():
                row = ControlRow(
                    seq=seq,
                    from_agency_code=event.from_agency_code,
                    to_agency_code=event.to_agency_code,
                    handed_at=at,
                    step_timeliness=event.step_timeliness.value if event.step_timeliness else None,
                    step_used_working_hours=event.step_used_working_hours,
                    off_route=event.route_step is None,
                    note=event.note,
                )
                sheet = replace(sheet, rows=(*sheet.rows, row))
            case ev.HandoffAccepted() if sheet.rows:
                sheet = replace(sheet, rows=(*sheet.rows[:-1], replace(sheet.rows[-1], accepted_at=at)))
            case ev.HandoffReturned() if sheet.rows:
                last = replace(sheet.rows[-1], returned_at=at, return_reason=event.reason)
                sheet = replace(sheet, rows=(*sheet.rows[:-1], last))
            case ev.SupplementReceived() | ev.FeePaid():
                sheet = replace(sheet, due_at=event.due_at)
            case ev.ApologyIssued():
                sheet = replace(sheet, promised_at=event.new_due_at)
            case ev.ResultReady():
                sheet = replace(sheet, resolved_at=at, timeliness=event.timeliness.value)
            case ev.ResultReturned():
                sheet = replace(sheet, returned_at=at)
            case ev.HolderSucceeded():
                sheet = _succeeded(sheet, seq, event)
            case _:
                pass
    return sheet


def _succeeded(sheet: ControlSheet, seq: int, event: ev.HolderSucceeded) -> ControlSheet:
    """A holder succeeded with its step open is a row (given and received at the cutover, the
    ended agency's part judged); a pending receiver succeeded marks the pending row."""
    rows = sheet.rows
    if event.pending and rows and rows[-1].accepted_at is None and rows[-1].returned_at is None:
        rows = (*rows[:-1], replace(rows[-1], succeeded_by=event.to_agency_code))
    if event.step_split:
        note = f"Kế thừa: {event.basis}" if event.basis else "Kế thừa"
        row = ControlRow(
            seq=seq,
            from_agency_code=event.from_agency_code,
            to_agency_code=event.to_agency_code,
            handed_at=event.occurred_at,
            accepted_at=event.occurred_at,
            step_timeliness=event.step_timeliness.value if event.step_timeliness else None,
            step_used_working_hours=event.step_used_working_hours,
            off_route=event.successor_budget_working_hours is None,
            note=note,
            succession=True,
        )
        rows = (*rows, row)
    return replace(sheet, rows=rows)
