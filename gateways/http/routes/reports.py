"""Reports from the SLA view: Biểu 06, SLA by agency/level/procedure, the at-risk list.

Who may read: inspectors and admins everything; a supervisor its agency and the agencies
below it; an officer its own agency. Every report says how current it is: `view_position`
(the last event applied to the view) and `lag` (events recorded but not applied yet).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from domain.errors import InvalidValue
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.problems import Problem
from gateways.http.report_presenters import at_risk_json, bieu06_json, sla_json
from gateways.http.schemas import answers
from gateways.views.sla import SlaReports, parse_range

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

READERS = ("officer", "supervisor", "inspector", "admin")
From = Annotated[str | None, Query(alias="from", description="first day (2026-02-15) or instant with offset")]
To = Annotated[str | None, Query(description="last day, inclusive (2026-03-14), or instant with offset")]
Period = Annotated[
    str | None, Query(description="reporting period YYYY-MM: the 15th of the month before to the 14th")
]
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
    if code not in hierarchy.subtree_ever(own):
        raise Problem(403, "Forbidden", f"agency {code} is not {own} nor below it", "forbidden")
    return code, default if children is None else children


def _range(
    container: Container, first: str | None, last: str | None, period: str | None
) -> tuple[Any, Any, Any]:
    try:
        return parse_range(first, last, period, container.service.now().date())
    except InvalidValue as exc:
        raise Problem(422, "Invalid report range", exc.detail, "invalid-range") from exc


@router.get("/bieu06", **answers(schemas.Bieu06))
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
) -> dict[str, Any]:
    """Biểu 06 (Circular 01/2020) of one desk: received, resolved, in process, on-time rate."""
    code, children = _agency(container, principal, agency_code, include_children, default=False)
    if code is None:
        raise Problem(422, "Missing agency_code", "Biểu 06 is per agency: give agency_code", "invalid-value")
    first, last, label = _range(container, from_, to, period)
    report = _reports(container).bieu06(
        code,
        first,
        last,
        include_children=children,
        scope=scope,
        include_imported=include_imported,
        now=container.service.now(),
    )
    return {**bieu06_json(report, container.calendar.tz), "period": label, **_freshness(container)}


@router.get("/sla", **answers(schemas.SlaReport))
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
) -> dict[str, Any]:
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
    return {
        **sla_json(report, container.calendar.tz),
        "agency_code": code,
        "period": label,
        **_freshness(container),
    }


@router.get("/at-risk", **answers(schemas.AtRisk))
def at_risk(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    within_hours: Annotated[float, Query(ge=0, le=10_000, description="working hours left")] = 8.0,
    include_children: Children = None,
    include_imported: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Open dossiers received or held by the agency with less than `within_hours` working
    hours left, overdue first."""
    code, children = _agency(container, principal, agency_code, include_children, default=True)
    now = container.service.now()
    items = _reports(container).at_risk(
        code, within_hours, now, include_children=children, include_imported=include_imported, limit=limit
    )
    tz = container.calendar.tz
    return {
        "agency_code": code,
        "within_hours": within_hours,
        "now": now.astimezone(tz).isoformat(),
        "items": [at_risk_json(item, tz) for item in items],
        "next_cursor": None,
        **_freshness(container),
    }
