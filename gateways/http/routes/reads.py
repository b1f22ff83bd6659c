"""Reads: dossier state (as of any instant), history, control sheet, search, inbox, lookup."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from domain.dossier import Dossier, Status, working_hours_until
from domain.events import Satisfaction
from gateways.application.commands import Body, Instant, LocalInstant
from gateways.application.representation import dossier_json
from gateways.application.service import secret_hash
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.presenter import event_json
from gateways.http.problems import Problem
from gateways.http.report_presenters import json_response
from gateways.http.schemas import answers
from gateways.views.dossier_index import CASE_ID_IS, received_between, received_within
from projections import control_sheet

router = APIRouter(prefix="/api/v1", tags=["reads"])


def _giving_step(state: Dossier | None, agency: str, handed_at: datetime | None) -> dict[str, Any]:
    """The giving agency's budget for the step it finished with this handoff, and by how
    much it overran it (working hours; None off route or on time)."""
    step = next(
        (s for s in (state.steps if state else ()) if s.agency_code == agency and s.left_at == handed_at),
        None,
    )
    budget = step.budget_working_hours if step else None
    used = step.used_before if step else None
    overrun = round(used - budget, 4) if budget and used is not None and used > budget else None
    return {"step_budget_working_hours": budget, "step_overrun_working_hours": overrun}


def _may_read(container: Container, principal: Principal, state: Dossier) -> None:
    if principal.role in ("inspector", "integration", "admin"):
        return
    agency = principal.agency_code or ""
    involved = state.involved_agencies
    if principal.role == "officer" and agency in involved:
        return
    if principal.role == "supervisor" and involved & container.catalogue.hierarchy.subtree_ever(agency):
        return
    raise Problem(
        403, "Forbidden", f"agency {agency} has no part in dossier {state.receipt_code}", "forbidden"
    )


def _load(container: Container, principal: Principal, dossier_id: str, as_of: datetime | None = None) -> Any:
    loaded = container.service.load(dossier_id)
    if loaded.state is None:
        raise Problem(404, "Unknown dossier", f"no dossier {dossier_id}", "unknown-dossier")
    _may_read(container, principal, loaded.state)
    if as_of is not None:
        loaded = loaded.as_of(as_of)
        if loaded.state is None:
            raise Problem(
                404,
                "Not yet received",
                f"dossier {dossier_id} had no history at {as_of.isoformat()}",
                "not-yet",
            )
    return loaded


@router.get("/dossiers/{dossier_id}", **answers(schemas.DossierState))
def get_dossier(
    dossier_id: str, principal: PrincipalDep, container: ContainerDep, as_of: LocalInstant | None = None
) -> dict[str, Any]:
    if as_of is not None and as_of.tzinfo is None:
        raise Problem(
            422,
            "Invalid as_of",
            "as_of must carry an offset, e.g. 2026-03-02T09:00:00+07:00",
            "invalid-value",
        )
    loaded = _load(container, principal, dossier_id, as_of)
    now = as_of or container.service.now()
    body = dossier_json(loaded.state, container.calendar, now, principal if as_of is None else None)
    body["as_of"] = as_of.isoformat() if as_of else None
    return body


@router.get("/dossiers/{dossier_id}/events", **answers(schemas.EventPage))
def get_events(dossier_id: str, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    loaded = _load(container, principal, dossier_id)
    return {"items": [event_json(r) for r in loaded.records], "next_cursor": None}


def _iso(value: datetime | None, container: Container) -> str | None:
    """An instant in the working calendar's time, as the dossier itself is shown (an imported
    dossier's index row keeps the offsets its log wrote)."""
    return value.astimezone(container.calendar.tz).isoformat() if value else None


@router.get("/dossiers/{dossier_id}/control-sheet", **answers(schemas.ControlSheet))
def get_control_sheet(dossier_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    loaded = _load(container, principal, dossier_id)
    tz = container.calendar.tz
    sheet = control_sheet.build(dossier_id, ((r.seq, r.to_domain()) for r in loaded.records))

    def local(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value else None

    # As the reports (docs/decisions.md entry 122): orjson from the dict, the same bytes.
    return json_response(
        {
            "dossier_id": sheet.dossier_id,
            "receipt_code": sheet.receipt_code,
            "procedure_code": sheet.procedure_code,
            "received_at": local(sheet.received_at),
            "due_at": local(sheet.due_at),
            "promised_at": local(sheet.promised_at),
            "resolved_at": local(sheet.resolved_at),
            "returned_at": local(sheet.returned_at),
            "timeliness": sheet.timeliness,
            "rows": [
                {
                    "seq": row.seq,
                    "from_agency_code": row.from_agency_code,
                    "to_agency_code": row.to_agency_code,
                    "handed_at": local(row.handed_at),
                    "accepted_at": local(row.accepted_at),
                    "returned_at": local(row.returned_at),
                    "return_reason": row.return_reason,
                    "step_timeliness": row.step_timeliness,
                    "step_used_working_hours": round(row.step_used_working_hours, 4),
                    **_giving_step(loaded.state, row.from_agency_code, row.handed_at),
                    "off_route": row.off_route,
                    "note": row.note,
                    "succession": row.succession,
                    "succeeded_by": row.succeeded_by,
                }
                for row in sheet.rows
            ],
        }
    )


def _is_dossier_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _row_json(row: Any, container: Container, now: datetime) -> dict[str, Any]:
    remaining = None
    if row.due_at is not None and row.resolved_at is None and row.closed_at is None:
        remaining = working_hours_until(container.calendar, now, row.due_at)
    return {
        "id": row.dossier_id,
        "receipt_code": row.receipt_code,
        "procedure_code": row.procedure_code,
        "channel": row.channel,
        "status": row.status,
        "status_code": row.status_code,
        "receiving_agency_code": row.receiving_agency_code,
        "holder_agency_code": row.holder_agency_code,
        "pending_handoff_to": row.pending_handoff_to,
        "received_at": _iso(row.received_at, container),
        "due_at": _iso(row.due_at, container),
        "promised_at": _iso(row.promised_at, container),
        "resolved_at": _iso(row.resolved_at, container),
        "timeliness": row.timeliness,
        "overdue": remaining is not None and remaining < 0 and not row.paused,
        "remaining_working_hours": round(remaining, 4) if remaining is not None else None,
        "imported": row.imported,
        "version": row.last_seq,
    }


def _with_case_ids(items: list[dict[str, Any]], container: Container) -> list[dict[str, Any]]:
    """Each imported row with the case id its legacy log gave it (what a miner knows it by)."""
    cases = container.index.case_ids([item["id"] for item in items if item["imported"]])
    for item in items:
        item["case_id"] = cases.get(item["id"])
    return items


@router.get("/dossiers", **answers(schemas.DossierPage))
def search_dossiers(
    principal: PrincipalDep,
    container: ContainerDep,
    receipt_code: Annotated[str | None, Query(max_length=100)] = None,
    status: Status | None = None,
    holder_agency_code: Annotated[str | None, Query(max_length=100)] = None,
    procedure_code: Annotated[str | None, Query(max_length=100)] = None,
    case_id: Annotated[
        str | None,
        Query(max_length=4000, description="imported history: the case id in the legacy log it came from"),
    ] = None,
    id_number: Annotated[
        str | None,
        Query(max_length=40, description="the applicant's ID number (through the keyed blind index)"),
    ] = None,
    phone: Annotated[
        str | None,
        Query(max_length=40, description="the applicant's phone number (through the keyed blind index)"),
    ] = None,
    overdue: bool | None = None,
    imported: Annotated[
        bool | None, Query(description="only imported history (true) or only live dossiers (false)")
    ] = None,
    digitized: Annotated[
        bool | None, Query(description="only dossiers whose every required component has a file (or not)")
    ] = None,
    received_from: Instant | None = None,
    received_to: Instant | None = None,
    cursor: Annotated[str | None, Query(max_length=100, description="the previous next_cursor")] = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    if cursor is not None and not _is_dossier_id(cursor):
        # A search's next_cursor is the id of the last dossier it listed; anything else would
        # silently start the page at some other place in the order.
        raise Problem(
            422,
            "Invalid value",
            f"cursor {cursor[:40]!r} is not a next_cursor this search gave (the id of a dossier, a UUID)",
            "invalid-value",
        )
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("receipt_code", receipt_code),
        ("status", status.value if status else None),
        ("holder_agency_code", holder_agency_code),
        ("procedure_code", procedure_code),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if id_number:
        # Only the HMAC of the number is stored; an erased person's dossiers are no longer found.
        ids = container.vault.dossiers_of(id_number) or [""]
        where.append(f"dossier_id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    if phone:
        ids = container.vault.dossiers_of_phone(phone) or [""]
        where.append(f"dossier_id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    if case_id:
        where.append(CASE_ID_IS)
        params.extend((case_id, case_id))
    if imported is not None:
        where.append("imported = ?")
        params.append(imported)
    if digitized is not None:
        where.append(f"dossier_id {'' if digitized else 'NOT '}IN (SELECT dossier_id FROM dossier_digitized)")
    dated = received_from is not None or received_to is not None
    if dated:
        clauses, bounds = received_between(received_from, received_to)
        where.extend(clauses)
        params.extend(bounds)
    if principal.role in ("officer", "supervisor"):
        agencies = (
            {principal.agency_code or ""}
            if principal.role == "officer"
            else container.catalogue.hierarchy.subtree_ever(principal.agency_code or "")
        )
        marks = ",".join("?" * len(agencies))
        # The holder, the desk, and an agency whose opinion the dossier waits for (it may read it).
        where.append(
            f"(holder_agency_code IN ({marks}) OR receiving_agency_code IN ({marks}) OR dossier_id IN "
            f"(SELECT dossier_id FROM dossier_consultation WHERE agency_code IN ({marks})))"
        )
        params.extend(sorted(agencies) * 3)
    now = container.service.now()
    items: list[dict[str, Any]] = []
    after = cursor
    while len(items) < limit:
        rows = container.index.search(where, params, limit, after)
        if not rows:
            break
        for row in rows:
            if dated and not received_within(row, received_from, received_to):
                continue
            item = _row_json(row, container, now)
            if overdue is None or item["overdue"] == overdue:
                items.append(item)
        after = rows[-1].dossier_id
        if len(rows) < limit or (overdue is None and not dated):
            break
    # The last row shown, not the last one read: a filtered batch may hold more than the page.
    next_cursor = items[limit - 1]["id"] if len(items) >= limit else None
    return {
        "items": _with_case_ids(items[:limit], container),
        "next_cursor": next_cursor,
        "view_position": container.view_position(),
    }


@router.get("/agencies/{code}/inbox", **answers(schemas.InboxPage))
def inbox(
    code: str,
    principal: PrincipalDep,
    container: ContainerDep,
    limit: int = Query(default=200, ge=1, le=1000),
    include_imported: Annotated[
        bool, Query(description="also the open dossiers of imported history (kept out by default)")
    ] = False,
) -> Response:
    if (
        principal.role in ("officer", "supervisor")
        and principal.agency_code != code
        and not (
            principal.role == "supervisor"
            and code in container.catalogue.hierarchy.subtree_ever(principal.agency_code or "")
        )
    ):
        raise Problem(403, "Forbidden", f"you act for {principal.agency_code}, not {code}", "forbidden")
    if code not in container.catalogue.hierarchy:
        raise Problem(404, "Unknown agency", f"no agency '{code}'", "unknown-agency")
    now = container.service.now()
    # Most urgent first: remaining working hours grow with the due instant (for one `now`), so
    # the `limit` rows due first are the `limit` most urgent, in order; only they are read whole
    # and worked out (a department's inbox holds thousands; docs/decisions.md entry 142).
    page = container.index.open_page(code, limit, imported=include_imported)
    items = []
    for row in page.rows:
        item = _row_json(row, container, now)
        item["incoming"] = row.pending_handoff_to == code
        items.append(item)
    # The dossiers waiting for this agency's opinion (not its own: the holder asked it).
    asked, asked_total = container.index.consulting(code, limit, imported=include_imported)
    consultations = []
    for row, asked_at in asked:
        item = _row_json(row, container, now)
        item["consultation_requested_at"] = _iso(asked_at, container)
        consultations.append(item)
    body = {
        "items": _with_case_ids(items, container),
        # Every open dossier of the agency, however many `limit` let into `items`.
        "total": sum(page.totals.values()),
        "totals": {**page.totals, "consultations": asked_total},
        "consultations": _with_case_ids(consultations, container),
        "next_cursor": None,
        "view_position": container.view_position(),
    }
    return json_response(body)


class LookupIn(Body):
    receipt_code: str = Field(min_length=1, max_length=100)
    secret: str = Field(min_length=1, max_length=200)


@router.post("/lookup", tags=["citizen"], **answers(schemas.Lookup))
def lookup_post(body: LookupIn, container: ContainerDep) -> dict[str, Any]:
    """The citizen lookup with the secret in the body (kept out of URLs, proxies and logs)."""
    return _lookup(container, body.receipt_code, body.secret)


class SatisfactionLookupIn(LookupIn):
    rating: Literal["very_satisfied", "satisfied", "not_satisfied"] = Field(
        description="rất hài lòng / hài lòng / không hài lòng"
    )


@router.post(
    "/lookup/satisfaction", tags=["citizen"], status_code=201, **answers(schemas.SatisfactionRecorded, 201)
)
def lookup_satisfaction(body: SatisfactionLookupIn, container: ContainerDep) -> dict[str, Any]:
    """The citizen rates the service once the result was returned (once per dossier: a second
    rating is 409), with the receipt code and its secret as for the lookup."""
    row = container.index.find_by_receipt(body.receipt_code)
    if row is None or not hmac.compare_digest(row.lookup_secret_hash, secret_hash(body.secret)):
        raise Problem(404, "Not found", "no dossier with this receipt code and secret", "lookup-failed")
    return container.commands.citizen_satisfaction(row.dossier_id, Satisfaction(body.rating)).body


@router.get("/lookup/{receipt_code}", tags=["citizen"], **answers(schemas.Lookup))
def lookup(receipt_code: str, container: ContainerDep, secret: str = Query(min_length=1)) -> dict[str, Any]:
    """Kept for existing clients; prefer `POST /api/v1/lookup` (access logs redact `secret`)."""
    return _lookup(container, receipt_code, secret)


def _lookup(container: Container, receipt_code: str, secret: str) -> dict[str, Any]:
    row = container.index.find_by_receipt(receipt_code)
    # Same answer for an unknown code and a wrong secret: codes are not to be probed.
    if row is None or not hmac.compare_digest(row.lookup_secret_hash, secret_hash(secret)):
        raise Problem(404, "Not found", "no dossier with this receipt code and secret", "lookup-failed")
    hierarchy = container.catalogue.hierarchy
    holder = hierarchy.latest(row.holder_agency_code)
    receiver = hierarchy.latest(row.pending_handoff_to) if row.pending_handoff_to else None
    procedure = container.catalogue.procedure(row.procedure_code)
    return {
        "receipt_code": row.receipt_code,
        "procedure_code": row.procedure_code,
        "procedure_name": procedure.name if procedure else None,
        "status": row.status,
        "status_code": row.status_code,
        "received_at": _iso(row.received_at, container),
        "due_at": _iso(row.due_at, container),
        "promised_at": _iso(row.promised_at, container),
        "resolved_at": _iso(row.resolved_at, container),
        "where": {"agency_code": row.holder_agency_code, "agency_name": holder.name if holder else None},
        "in_transit_to": row.pending_handoff_to,
        "in_transit_to_name": receiver.name if receiver else None,
    }
