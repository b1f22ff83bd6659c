"""JSON shaping of the report answers (SLA view): what the HTTP API returns and `lienthong report
--format json` prints."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson
from fastapi import Response
from fastapi.encoders import jsonable_encoder

from gateways.views.sla import AtRisk, Bieu06Report, LateSteps, SlaReport
from projections import sla
from projections.sla import Window

_US = timedelta(microseconds=1)
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_response(body: dict[str, Any]) -> Response:
    """The body as JSON bytes, made by orjson straight from the dict.

    A route that returns a dict has FastAPI walk it with `jsonable_encoder` first, in Python:
    20 ms for the bottleneck report's 230 kB at the default benchmark size, against 0.3 ms for
    orjson alone (docs/benchmarks.md, "Query latency: third round"). What orjson does not
    know natively (a set, a model) still goes through `jsonable_encoder`, so the JSON is the
    same as the default response's.
    """
    return Response(
        orjson.dumps(body, default=jsonable_encoder, option=_JSON_OPTIONS), media_type="application/json"
    )


def _local(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat() if at is not None else None


def range_json(w: Window, tz: tzinfo) -> dict[str, str]:
    """The range as asked: whole local days as dates (`to` inclusive), else instants."""
    start, end = w.start.astimezone(tz), w.end.astimezone(tz)
    whole = start == sla.midnight(start.date(), tz) and end == sla.midnight(end.date(), tz)
    if whole:
        return {"from": start.date().isoformat(), "to": (end.date() - timedelta(days=1)).isoformat()}
    return {"from": start.isoformat(), "to": (end - _US).isoformat()}


def bieu06_json(report: Bieu06Report, tz: tzinfo) -> dict[str, Any]:
    return {
        "agency_code": report.agency_code,
        "include_children": report.include_children,
        "scope": report.scope,
        "include_imported": report.include_imported,
        **range_json(report.window, tz),
        "judged_at": _local(report.judged_at, tz),
        "agencies": list(report.agencies),
        **report.form.as_json(),
    }


def sla_json(report: SlaReport, tz: tzinfo) -> dict[str, Any]:
    return {
        "group_by": report.group_by,
        "scope": report.scope,
        "include_imported": report.include_imported,
        **range_json(report.window, tz),
        "judged_at": _local(report.judged_at, tz),
        "items": [
            {"group": row.group, **row.form.as_json(), "late_attributed": row.late_attributed}
            for row in report.rows
        ],
        "next_cursor": None,
    }


def at_risk_json(item: AtRisk, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": item.dossier_id,
        "receipt_code": item.receipt_code,
        "procedure_code": item.procedure_code,
        "receiving_agency_code": item.receiving_agency_code,
        "holder_agency_code": item.holder_agency_code,
        "pending_handoff_to": item.pending_handoff_to,
        "received_at": _local(item.received_at, tz),
        "due_at": _local(item.due_at, tz),
        "promised_at": _local(item.promised_at, tz),
        "paused": item.paused,
        "overdue": item.overdue,
        "remaining_working_hours": round(item.remaining_working_hours, 4),
        "step_due_at": _local(item.step_due_at, tz),
        "step_remaining_working_hours": (
            round(item.step_remaining_working_hours, 4)
            if item.step_remaining_working_hours is not None
            else None
        ),
    }


def late_steps_json(report: LateSteps, tz: tzinfo) -> dict[str, Any]:
    return {
        **range_json(report.window, tz),
        "judged_at": _local(report.judged_at, tz),
        "agencies": None if report.agencies is None else list(report.agencies),
        "total": report.total,
        "items": [
            {
                "dossier_id": item.dossier_id,
                "receipt_code": item.receipt_code,
                "procedure_code": item.procedure_code,
                "receiving_agency_code": item.receiving_agency_code,
                "agency_code": item.agency_code,
                "level": item.level,
                "route_step": item.route_step,
                "entered_at": _local(item.entered_at, tz),
                "step_due_at": _local(item.step_due_at, tz),
                "overrun_at": _local(item.overrun_at, tz),
                "left_at": _local(item.left_at, tz),
                "timeliness": item.timeliness,
                "budget_working_hours": round(item.budget_working_hours, 4),
                "used_working_hours": round(item.used_working_hours, 4),
                "overrun_working_hours": round(item.overrun_working_hours, 4),
            }
            for item in report.items
        ],
        "next_cursor": None,
    }
