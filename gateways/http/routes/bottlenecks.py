"""Bottleneck reports for supervisors and inspectors: WIP, flow, dwell, transit, heat map, drill-down.

Read from the bottleneck view (gateways/views/bottleneck/); every answer carries
`view_position` (the last notification the view applied) and `lag` (how many
recorded events it has not applied yet).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.http import report_schemas
from gateways.http.deps import ContainerDep, PrincipalDep, require_role
from gateways.http.problems import Problem
from gateways.http.report_presenters import json_response
from gateways.http.schemas import answers
from gateways.views.bottleneck import VIEW, BottleneckReports, InvalidCursor

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

READERS = ("supervisor", "inspector", "admin")
MAX_DAYS = 1100  # a daily WIP series longer than about three years is asked for by week
# Any report range: a heat map or weekly series over centuries took the server minutes.
MAX_RANGE_DAYS = 3660


def _invalid(detail: str) -> Problem:
    return Problem(422, "Invalid report parameters", detail, "invalid-report-parameters")


async def _live_only(
    include_imported: Annotated[
        bool, Query(description="must be false: the bottleneck view leaves imported legacy history out")
    ] = False,
) -> None:
    """The bottleneck view holds live work only: an imported legacy case the old log never
    closed would count as work in progress forever (docs/decisions.md entry 190). Async: a
    check this small is not worth a hop to the thread pool."""
    if include_imported:
        raise _invalid(
            "the bottleneck reports count live work only; imported legacy history is left out of them "
            "(read it with `lienthong export` or `lienthong bench mining --xes`)"
        )


LiveOnly = Annotated[None, Depends(_live_only)]


def _reports(container: Container) -> BottleneckReports:
    reports: BottleneckReports = container.bottlenecks
    return reports


def _day(value: str | None, name: str, container: Container) -> date:
    """A report bound: a date (a whole local day) or an instant with offset (its local day)."""
    if not value:
        raise _invalid(f"'{name}' is required: a date (2026-03-02) or an instant with offset")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            f"'{name}' = '{value}' is neither a date (YYYY-MM-DD) nor an ISO 8601 instant"
        ) from None
    if at.tzinfo is None:
        raise _invalid(f"'{name}' must carry an offset, e.g. {value}+07:00")
    return at.astimezone(container.calendar.tz).date()


def _range(container: Container, start: str | None, end: str | None) -> tuple[date, date]:
    first, last = _day(start, "from", container), _day(end, "to", container)
    if last < first:
        raise _invalid(f"'to' ({last.isoformat()}) is before 'from' ({first.isoformat()})")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise _invalid(f"a report covers at most {MAX_RANGE_DAYS} days (about ten years)")
    return first, last


def _known(container: Container, code: str, name: str) -> None:
    if code not in container.catalogue.hierarchy:
        raise _invalid(f"'{name}': no agency '{code}' in the catalogue")


def _own(container: Container, principal: Principal) -> set[str] | None:
    """The agencies the caller may read: a supervisor its subtree (any version) and the ended
    agencies it succeeded (docs/decisions.md entry 60), others all."""
    require_role(principal, *READERS)
    if principal.role == "supervisor":
        return container.catalogue.hierarchy.rollup_ever(principal.agency_code or "")
    return None


def _may_see(own: set[str] | None, principal: Principal, *codes: str) -> None:
    if own is not None and not own.intersection(codes):
        raise Problem(
            403,
            "Forbidden",
            f"{', '.join(codes)} is outside the agencies supervised by {principal.agency_code}",
            "forbidden",
        )


def _scope(container: Container, principal: Principal, agency_code: str | None) -> set[str] | None:
    """Rows to report: the agency's subtree if one is named, within what the caller may read."""
    own = _own(container, principal)
    if not agency_code:
        return own
    _known(container, agency_code, "agency_code")
    _may_see(own, principal, agency_code)
    subtree = container.catalogue.hierarchy.rollup_ever(agency_code)
    return subtree if own is None else subtree & own


def _today(container: Container) -> date:
    return container.service.now().date()


def _with_position(container: Container, body: dict[str, Any]) -> Response:
    position = container.view_position(VIEW)
    body["view_position"] = position
    body["lag"] = max(0, container.store.max_notification_id() - position)
    return json_response(body)


@router.get("/bottlenecks", **answers(report_schemas.Bottlenecks))
def bottlenecks(
    principal: PrincipalDep,
    container: ContainerDep,
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
    agency_code: str | None = None,
    steps: bool = False,
    _live: LiveOnly = None,
) -> Response:
    """Per agency: WIP, in transit and overdue at the end of `to`; arrivals, completions, returns,
    supplements, consultations and dwell (working hours p50/p90/p99) over the range. Per edge
    (giver -> receiver): handoffs whose transit ended in the range, returns, transit hours. With
    `steps=true`, dwell per route step too. `agency_code` narrows to that agency and those below it."""
    first, last = _range(container, start, end)
    scope = _scope(container, principal, agency_code)
    body = _reports(container).bottlenecks(first, last, scope, _today(container), steps)
    return _with_position(container, body)


@router.get("/heatmap", **answers(report_schemas.Heatmap))
def heatmap(
    principal: PrincipalDep,
    container: ContainerDep,
    metric: Literal["dwell", "overdue_wip"] = "dwell",
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
    agency_code: str | None = None,
    _live: LiveOnly = None,
) -> Response:
    """Agency x ISO week: median dwell of the stays that ended that week, or overdue WIP at its end."""
    first, last = _range(container, start, end)
    scope = _scope(container, principal, agency_code)
    body = _reports(container).heatmap(metric, first, last, scope, _today(container))
    return _with_position(container, body)


@router.get("/wip", **answers(report_schemas.Wip))
def wip(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
    bucket: Literal["day", "week"] = "day",
    _live: LiveOnly = None,
) -> Response:
    """WIP, in transit and overdue at the end of each day or week, with its arrivals and completions."""
    own = _own(container, principal)
    if not agency_code:
        raise _invalid("'agency_code' is required: the agency whose WIP to chart")
    _known(container, agency_code, "agency_code")
    _may_see(own, principal, agency_code)
    first, last = _range(container, start, end)
    if bucket == "day" and (last - first).days >= MAX_DAYS:
        raise _invalid(f"a daily series is limited to {MAX_DAYS} days; ask with bucket=week")
    body = _reports(container).wip(agency_code, first, last, bucket, _today(container))
    return _with_position(container, body)


@router.get("/bottlenecks/dossiers", **answers(report_schemas.BottleneckDossiers))
def bottleneck_dossiers(
    principal: PrincipalDep,
    container: ContainerDep,
    agency_code: str | None = None,
    from_agency_code: str | None = None,
    to_agency_code: str | None = None,
    start: str | None = Query(default=None, alias="from"),
    end: str | None = Query(default=None, alias="to"),
    state: Literal["finished", "open"] = "finished",
    returned: bool = False,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    _live: LiveOnly = None,
) -> Response:
    """The dossiers behind a row of the bottleneck report.

    An agency (`agency_code`): its stays that ended in [from, to], slowest first, or
    (`state=open`) those it holds now, longest held first. An edge (`from_agency_code`
    and `to_agency_code`): handoffs whose transit ended in [from, to], slowest first
    (`returned=true`: only those sent back), or (`state=open`) those in transit now.
    """
    own = _own(container, principal)
    edge = from_agency_code or to_agency_code
    if bool(agency_code) == bool(edge):
        raise _invalid("name either 'agency_code', or both 'from_agency_code' and 'to_agency_code'")
    if edge and not (from_agency_code and to_agency_code):
        raise _invalid("an edge needs both 'from_agency_code' and 'to_agency_code'")
    finished = state == "finished"
    first, last = _range(container, start, end) if finished else (None, None)
    reports, now = _reports(container), container.service.now()
    try:
        if agency_code:
            _known(container, agency_code, "agency_code")
            _may_see(own, principal, agency_code)
            body = reports.stays(agency_code, first, last, now, not finished, limit, cursor)
        else:
            assert from_agency_code and to_agency_code
            _known(container, from_agency_code, "from_agency_code")
            _known(container, to_agency_code, "to_agency_code")
            _may_see(own, principal, from_agency_code, to_agency_code)
            body = reports.transits(
                from_agency_code, to_agency_code, first, last, now, not finished, returned, limit, cursor
            )
    except InvalidCursor as exc:
        raise _invalid(str(exc)) from None
    return _with_position(container, body)
