"""Phiếu kiểm soát quá trình giải quyết hồ sơ: one row per handoff.

Intake and the return to the citizen are the first and last rows' times, not
rows of their own; a row's `step_timeliness` is the giving agency's finished step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from domain import events as ev


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
            case _:
                pass
    return sheet
