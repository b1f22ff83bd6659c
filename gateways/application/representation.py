"""What a command answers and a dossier read shows: the dossier representation of API.md,
shared by HTTP and Kafka inbound results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.calendar import WorkingCalendar
from domain.decide import allowed_actions
from domain.dossier import Dossier
from gateways.auth import Principal


def _iso(value: datetime | None, calendar: WorkingCalendar) -> str | None:
    return value.astimezone(calendar.tz).isoformat() if value else None


def acting_agency(principal: Principal | None) -> str | None:
    """None means 'any agency' (the integration role)."""
    if principal is None or principal.role == "integration":
        return None
    return principal.agency_code or ""


def dossier_json(
    state: Dossier, calendar: WorkingCalendar, now: datetime, principal: Principal | None = None
) -> dict[str, Any]:
    at = min(now, state.closed_at) if state.closed_at else now
    remaining = state.remaining_at(calendar, at)
    writer = principal is not None and principal.role in ("officer", "integration")
    return {
        "id": state.id,
        "receipt_code": state.receipt_code,
        "procedure_code": state.procedure_code,
        "procedure_name": state.procedure_name,
        "channel": state.channel.value,
        "status": state.status.value,
        "status_code": state.status_code,
        "receiving_agency_code": state.receiving_agency_code,
        "holder_agency_code": state.holder_agency_code,
        "submitted_at": _iso(state.submitted_at, calendar),
        "received_at": _iso(state.received_at, calendar),
        "due_at": _iso(state.due_at, calendar),
        "promised_at": _iso(state.promised_at, calendar),
        "resolved_at": _iso(state.resolved_at, calendar),
        "closed_at": _iso(state.closed_at, calendar),
        "outcome": state.outcome.value if state.outcome else None,
        "decision_number": state.decision_number or None,
        "timeliness": state.timeliness.value if state.timeliness else None,
        "overdue": state.is_overdue(now),
        "remaining_working_hours": round(remaining, 4) if remaining is not None else None,
        "imported": state.imported,
        "external_case_id": state.external_case_id,
        "version": state.version,
        "steps": [
            {
                "agency_code": s.agency_code,
                "route_step": s.route_index,
                "off_route": s.route_index is None,
                "entered_at": _iso(s.entered_at, calendar),
                "left_at": _iso(s.left_at, calendar),
                "due_at": _iso(s.due_at, calendar),
                "budget_working_hours": s.budget_working_hours,
                "used_working_hours": round(s.used_working_hours(calendar, at), 4),
                "timeliness": s.timeliness.value if s.timeliness else None,
            }
            for s in state.steps
        ],
        "route": [
            {"agency_code": r.agency_code, "budget_working_hours": r.budget_working_hours}
            for r in state.route
        ],
        "pending_handoff_to": state.pending_handoff_to,
        "open_consultations": sorted(state.open_consultations),
        "allowed_actions": allowed_actions(state, acting_agency(principal), now) if writer else [],
    }
