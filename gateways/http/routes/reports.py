"""Reports from the SLA view: Biểu 06, SLA by agency/level/procedure, the at-risk list; and
the service indicators from the indicators view.

Who may read: inspectors and admins everything; a supervisor its agency and the agencies
below it; an officer its own agency. Every report says how current it is: `view_position`
(the last event applied to the view) and `lag` (events recorded but not applied yet).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from domain.errors import InvalidValue
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.documents import bieu06 as bieu06_document
from gateways.documents.sla_report import render as render_report
from gateways.http import report_schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.problems import Problem
from gateways.http.report_presenters import (
    at_risk_json,
    bieu06_json,
    json_response,
    late_steps_json,
    sla_json,
)
from gateways.http.responses import content_disposition
from gateways.http.schemas import answers
from gateways.views.indicators import VIEW as INDICATORS_VIEW
from gateways.views.indicators import IndicatorRow
from gateways.views.sla import PERIOD_HELP, SlaReports, parse_period, parse_range
from gateways.views.sla.official import official_bieu06
from projections.indicators import NOT_MEASURABLE, Indicator

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

READERS = ("officer", "supervisor", "inspector", "admin")
From = Annotated[str | None, Query(alias="from", description="first day (2026-02-15) or instant with offset")]
To = Annotated[str | None, Query(description="last day, inclusive (2026-03-14), or instant with offset")]
Period = Annotated[str | None, Query(description=PERIOD_HELP)]
Scope = Annotated[
    Literal["received", "handled"],
    Query(description="received: dossiers received at the desk; handled: the agency's own steps"),
]
Children = Annotated[bool | None, Query(description="count the agencies below it too")]


def _reports(container: Container) -> SlaReports:
    return container.sla


def _freshness(container: Container) -> dict[str, int]:
    position = container.view_position("sla")
    return {"view_position": position, "lag": max(0, container.store.max_notification_id() - position)}


def _agency(
    container: Container, principal: Principal, agency_code: str | None, children: bool | None, default: bool
) -> tuple[str | None, bool]:
    """The agency the caller may report on (None: every agency) and whether with its subtree."""
    if principal.role not in READERS:
        raise Problem(
            403,
            "Forbidden",
            f"role '{principal.role}' may not read reports (needs {', '.join(READERS)})",
            "forbidden",
        )
    hierarchy = container.catalogue.hierarchy
    if agency_code is not None and agency_code not in hierarchy:
        raise Problem(
            422, "Unknown agency", f"agency_code '{agency_code}' is not in the catalogue", "unknown-agency"
        )
    own = principal.agency_code or ""
    if principal.role in ("inspector", "admin"):
        return agency_code, default if children is None else children
    code = agency_code or own
    if principal.role == "officer":
        if code != own:
            raise Problem(
                403,
                "Forbidden",
                f"an officer reads the reports of its own agency {own}, not {code}",
                "forbidden",
            )
        if children:
            raise Problem(
                403,
                "Forbidden",
                "an officer reads its own agency only; the subtree is a supervisor's",
                "forbidden",
            )
        return code, False
    if code not in hierarchy.rollup_ever(own):  # below it, or an ended agency it succeeded
        raise Problem(403, "Forbidden", f"agency {code} is not {own} nor below it", "forbidden")
    return code, default if children is None else children


def _range(
    container: Container, first: str | None, last: str | None, period: str | None
) -> tuple[Any, Any, Any]:
    try:
        return parse_range(first, last, period, container.service.now().date())
    except InvalidValue as exc:
        raise Problem(422, "Invalid report range", exc.detail, "invalid-range") from exc


def _bieu06_scope(
    container: Container,
    principal: Principal,
    agency_code: str | None,
    include_children: bool | None,
    first: str | None,
    last: str | None,
    period: str | None,
) -> tuple[str, bool, Any, Any, Any]:
    """The desk (Biểu 06 is per agency), whether its children count, and the range."""
    code, children = _agency(container, principal, agency_code, include_children, default=False)
    if code is None:
        raise Problem(422, "Missing agency_code", "Biểu 06 is per agency: give agency_code", "invalid-value")
    return (code, children, *_range(container, first, last, period))


@router.get("/bieu06", **answers(report_schemas.Bieu06))
def bieu06(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    from_: From = None,
    to: To = None,
    period: Period = None,
    include_children: Children = None,
    scope: Scope = "received",
    include_imported: bool = False,
) -> Response:
    """Biểu 06 (Circular 01/2020) of one desk: received, resolved, in process, on-time rate."""
    code, children, first, last, label = _bieu06_scope(
        container, principal, agency_code, include_children, from_, to, period
    )
    report = _reports(container).bieu06(
        code,
        first,
        last,
        include_children=children,
        scope=scope,
        include_imported=include_imported,
        now=container.service.now(),
    )
    body = {**bieu06_json(report, container.calendar.tz), "period": label, **_freshness(container)}
    if scope == "received":
        # Of the dossiers received in the window, those whose every required component has a file.
        body["components_digitized"] = container.index.count_digitized(
            report.agencies, report.window.start, report.window.end, include_imported
        )
    return json_response(body)


FORM_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@router.get(
    "/bieu06/form",
    response_class=Response,
    responses={
        200: {
            "description": "the official form as an xlsx workbook or a PDF",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in FORM_TYPES.values()},
        }
    },
)
def bieu06_form(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    from_: From = None,
    to: To = None,
    period: Period = None,
    include_children: Children = None,
    scope: Scope = "received",
    include_imported: bool = False,
    format: Annotated[Literal["xlsx", "pdf"], Query(description="the official form as xlsx or PDF")] = "xlsx",
) -> Response:
    """Biểu 06 as the official form (Biểu số 06/VPCP/KSTT): rows by field with a total row, the
    reporting and receiving unit; the same numbers as `GET /reports/bieu06`."""
    code, children, first, last, label = _bieu06_scope(
        container, principal, agency_code, include_children, from_, to, period
    )
    official = official_bieu06(
        _reports(container),
        code,
        first,
        last,
        period=parse_period(label) if label else None,
        include_children=children,
        scope=scope,
        include_imported=include_imported,
        now=container.service.now(),
    )
    tz = container.calendar.tz
    if format == "xlsx":  # the form, then the "Chi tiết" sheet with what it has no column for
        body = render_report(official.report, format, container.catalogue, tz, official)
    else:
        body = bieu06_document.pdf(official, tz)
    name = f"bieu06-{code}-{label or 'range'}.{format}"
    disposition = content_disposition("attachment", name)
    return Response(body, media_type=FORM_TYPES[format], headers={"Content-Disposition": disposition})


@router.get("/sla", **answers(report_schemas.SlaReport))
def sla_report(
    principal: PrincipalDep,
    container: ContainerDep,
    group_by: Literal["agency", "level", "procedure"] = "agency",
    agency_code: str | None = None,
    from_: From = None,
    to: To = None,
    period: Period = None,
    include_children: Children = None,
    scope: Scope = "received",
    include_imported: bool = False,
) -> Response:
    """Biểu 06 counts per agency, level or procedure, with `late_attributed`: the steps of
    each group that went over budget in the range (delay attribution)."""
    code, children = _agency(container, principal, agency_code, include_children, default=True)
    first, last, label = _range(container, from_, to, period)
    report = _reports(container).sla(
        group_by,
        first,
        last,
        agency_code=code,
        include_children=children,
        scope=scope,
        include_imported=include_imported,
        now=container.service.now(),
    )
    return json_response(
        {
            **sla_json(report, container.calendar.tz),
            "agency_code": code,
            "period": label,
            **_freshness(container),
        }
    )


@router.get("/late-steps", **answers(report_schemas.LateSteps))
def late_steps(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    from_: From = None,
    to: To = None,
    period: Period = None,
    include_children: Children = None,
    include_imported: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """The steps behind `late_attributed` (delay attribution): each on-route step of the agency
    (and its subtree) that went over its budget in the range, with the dossier, the agency that
    held it, when it overran and by how many working hours; in the order they overran."""
    code, children = _agency(container, principal, agency_code, include_children, default=True)
    first, last, label = _range(container, from_, to, period)
    report = _reports(container).late_steps(
        code,
        first,
        last,
        include_children=children,
        include_imported=include_imported,
        now=container.service.now(),
        limit=limit,
    )
    return json_response(
        {
            "agency_code": code,
            "include_children": children,
            "include_imported": include_imported,
            "period": label,
            **late_steps_json(report, container.calendar.tz),
            **_freshness(container),
        }
    )


@router.get("/at-risk", **answers(report_schemas.AtRisk))
def at_risk(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    within_hours: Annotated[float, Query(ge=0, le=10_000, description="working hours left")] = 8.0,
    include_children: Children = None,
    include_imported: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Open dossiers received or held by the agency with less than `within_hours` working
    hours left, overdue first."""
    code, children = _agency(container, principal, agency_code, include_children, default=True)
    now = container.service.now()
    items = _reports(container).at_risk(
        code, within_hours, now, include_children=children, include_imported=include_imported, limit=limit
    )
    tz = container.calendar.tz
    return json_response(
        {
            "agency_code": code,
            "within_hours": within_hours,
            "now": now.astimezone(tz).isoformat(),
            "items": [at_risk_json(item, tz) for item in items],
            "next_cursor": None,
            **_freshness(container),
        }
    )


def _indicator_json(i: Indicator) -> dict[str, Any]:
    return {
        "key": i.key,
        "group": i.group,
        "title": i.title,
        "numerator": i.numerator,
        "denominator": i.denominator,
        "value": None if i.value is None else round(i.value, 6),
    }


def _indicator_row_json(row: IndicatorRow) -> dict[str, Any]:
    return {
        "group": row.group,
        "counts": row.counts,
        "indicators": {i.key: _indicator_json(i) for i in row.indicators},
    }


@router.get("/indicators", **answers(report_schemas.Indicators))
def indicators_report(
    principal: PrincipalDep,
    container: ContainerDep,
    group_by: Literal["agency", "level"] = "agency",
    agency_code: str | None = None,
    from_: From = None,
    to: To = None,
    period: Period = None,
    include_children: Children = None,
    include_imported: bool = False,
) -> Response:
    """Service indicators (Decision 766/QĐ-TTg of 2022) measured from the dossier events, per
    receiving desk or per level, over whole local days: on-time handling, resolved per received,
    online share, satisfaction. Indicators the events cannot measure yet are listed with the
    reason; no composite score (the official weights are unconfirmed)."""
    code, children = _agency(container, principal, agency_code, include_children, default=True)
    first, last, label = _range(container, from_, to, period)
    try:
        report = container.indicators.report(
            first,
            last,
            group_by=group_by,
            agency_code=code,
            include_children=children,
            include_imported=include_imported,
        )
    except InvalidValue as exc:
        raise Problem(422, "Invalid report range", exc.detail, "invalid-range") from exc
    position = container.view_position(INDICATORS_VIEW)
    return json_response(
        {
            "group_by": report.group_by,
            "agency_code": code,
            "include_children": children,
            "period": label,
            "from": report.first.isoformat(),
            "to": report.last.isoformat(),
            "scope": "received",
            "rows": [_indicator_row_json(row) for row in report.rows],
            "total": _indicator_row_json(report.total),
            "not_measurable": [{"group": k, "reason": v} for k, v in NOT_MEASURABLE.items()],
            "composite_score": None,
            "composite_note": (
                "No composite score: the weights of Decision 766/QĐ-TTg's annex could not be confirmed "
                "from the official text (docs/decisions.md)."
            ),
            "view_position": position,
            "lag": max(0, container.store.max_notification_id() - position),
        }
    )
