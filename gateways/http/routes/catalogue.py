"""Catalogue: agencies (versioned) and procedures. Admin writes, everyone signed in reads."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BeforeValidator, Field

from domain.agencies import Agency, AgencyLevel, Successor
from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.application.commands import MAX_AMOUNT_VND, Body
from gateways.catalogue import (
    MAX_ROUTE_STEPS,
    Catalogue,
    agency_to_json,
    component_from_json,
    parent_cycle,
    procedure_to_json,
)
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep, require_role
from gateways.http.problems import Problem
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _one_line(text: str) -> str:
    """A name printed on forms and lists: no control character (NUL, a line break) nor a
    direction override, which would cut or reorder what the form shows."""
    odd = [ch for ch in text if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI]
    if odd:
        raise ValueError(f"must be one line of text, without control characters (found U+{ord(odd[0]):04X})")
    return text


def _paragraphs(text: str) -> str:
    """A longer text (a legal basis): line breaks and tabs are kept, other control characters
    (NUL among them, which PostgreSQL cannot store) are refused."""
    odd = [ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"]
    if odd:
        raise ValueError(f"must not hold control characters (found U+{ord(odd[0]):04X})")
    return text


Name = Annotated[str, AfterValidator(_one_line)]


class SuccessorIn(Body):
    code: str = Field(min_length=1)
    valid_from: date
    share: float = Field(default=1.0, gt=0, le=1)


class AgencyPut(Body):
    name: Name = Field(min_length=1, max_length=500)
    level: AgencyLevel
    # Bounded like the other texts: a bound also makes the validator refuse a lone surrogate
    # (`"\ud800"` in the JSON), which no store or answer can encode.
    parent_code: str | None = Field(default=None, max_length=100)
    valid_from: date | None = None
    valid_to: date | None = None
    successors: list[SuccessorIn] = Field(default_factory=list)
    basis: Annotated[str, AfterValidator(_paragraphs)] = Field(default="", max_length=2000)


# As long as the commands take (a handoff's `to_agency_code`, a dossier's `procedure_code`).
MAX_CODE_LENGTH = 100


class RouteStepIn(Body):
    agency_code: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)
    budget_working_hours: float = Field(gt=0)


def _bounded_route(steps: Any) -> Any:
    """Counted before any step is read: a route past the bound is refused as a whole."""
    if isinstance(steps, list) and len(steps) > MAX_ROUTE_STEPS:
        raise ValueError(
            f"a route has at most {MAX_ROUTE_STEPS} steps (got {len(steps)}): an inter-level "
            "procedure goes through a handful of agencies, each step one of them"
        )
    return steps


class ComponentIn(Body):
    """A required component (thành phần hồ sơ): copies to give and in what form, in force
    from `effective_from` to `effective_to` (dates, inclusive; empty: open-ended)."""

    name: Name = Field(min_length=1, max_length=300)
    copies: int = Field(default=1, ge=1, le=100)
    form: Literal["original", "copy", "original_or_copy"] = "original"
    effective_from: date | None = None
    effective_to: date | None = None


class ProcedurePut(Body):
    name: Name = Field(min_length=1, max_length=500)
    field: Name = Field(default="", max_length=300)
    deadline_working_hours: float = Field(gt=0)
    supplement_policy: Literal["restart", "pause"] = "restart"
    route: Annotated[list[RouteStepIn], BeforeValidator(_bounded_route)] = Field(
        min_length=1, max_length=MAX_ROUTE_STEPS
    )
    valid_from: date | None = None
    fee_vnd: int = Field(default=0, ge=0, le=MAX_AMOUNT_VND)
    components: list[ComponentIn] = Field(default_factory=list, max_length=200)


def _check_code(code: str, what: str) -> None:
    """A catalogue code is printed in forms, file names and headers and named by commands: no
    control or invisible characters (line breaks, NUL, direction marks), no surrounding spaces,
    and no longer than a command may name."""
    odd = [ch for ch in code if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]
    if odd or code != code.strip() or len(code) > MAX_CODE_LENGTH:
        shown = " ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(odd)) or "none"
        raise Problem(
            422,
            "Invalid value",
            f"{what} code must be at most {MAX_CODE_LENGTH} characters, without surrounding spaces"
            f" or control characters (got {len(code)} characters, control characters: {shown})",
            "invalid-value",
        )


def agency_json(a: Agency, catalogue: Catalogue) -> dict[str, Any]:
    """An agency version, and whether it is a unit of imported legacy history (which takes no
    live dossier: the dashboard leaves it out of the handoff choices)."""
    return {**agency_to_json(a), "legacy": catalogue.is_legacy(a.code)}


@router.put(
    "/agencies/{code}",
    response_model=None,
    responses={
        200: {"model": schemas.AgencyVersions, "description": "updated"},
        201: {"model": schemas.AgencyVersions, "description": "created"},
    },
)
def put_agency(
    code: str, body: AgencyPut, principal: PrincipalDep, container: ContainerDep, response: Response
) -> dict[str, Any]:
    require_role(principal, "admin")
    _check_code(code, "agency")
    if body.parent_code and body.parent_code not in container.catalogue.hierarchy:
        raise Problem(
            422,
            "Unknown parent agency",
            f"parent_code '{body.parent_code}' is not in the catalogue",
            "unknown-agency",
        )
    unknown = [s.code for s in body.successors if s.code not in container.catalogue.hierarchy]
    if unknown:
        raise Problem(
            422,
            "Unknown successor agency",
            f"successors name agencies not in the catalogue: {', '.join(unknown)}",
            "unknown-agency",
        )
    agency = Agency(
        code=code,
        name=body.name,
        level=body.level,
        parent_code=body.parent_code,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        successors=tuple(Successor(s.code, s.valid_from, s.share) for s in body.successors),
        basis=body.basis,
    )
    cycle = parent_cycle(container.catalogue.hierarchy, agency)
    if cycle:
        raise Problem(
            422,
            "Parent cycle",
            f"parent_code '{body.parent_code}' would make a loop: {' -> '.join(cycle)}",
            "parent-cycle",
        )
    created = container.catalogue.put_agency(agency)
    response.status_code = 201 if created else 200
    return {
        **agency_json(agency, container.catalogue),
        "versions": [
            agency_json(a, container.catalogue) for a in container.catalogue.hierarchy.history(code)
        ],
    }


@router.get("/agencies", **answers(schemas.AgencyPage))
def list_agencies(principal: PrincipalDep, container: ContainerDep, on: date | None = None) -> dict[str, Any]:
    hierarchy = container.catalogue.hierarchy
    items = []
    for code in hierarchy.codes():
        version = hierarchy.on(code, on) if on else hierarchy.latest(code)
        if version is not None:
            items.append(agency_json(version, container.catalogue))
    return {"items": items, "next_cursor": None}


@router.get("/agencies/{code}", **answers(schemas.AgencyVersions))
def get_agency(code: str, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    hierarchy = container.catalogue.hierarchy
    latest = hierarchy.latest(code)
    if latest is None:
        raise Problem(404, "Unknown agency", f"no agency '{code}'", "unknown-agency")
    catalogue = container.catalogue
    return {
        **agency_json(latest, catalogue),
        "versions": [agency_json(a, catalogue) for a in hierarchy.history(code)],
    }


@router.put(
    "/procedures/{code}",
    response_model=None,
    responses={
        200: {"model": schemas.Procedure, "description": "updated"},
        201: {"model": schemas.Procedure, "description": "created"},
    },
)
def put_procedure(
    code: str, body: ProcedurePut, principal: PrincipalDep, container: ContainerDep, response: Response
) -> dict[str, Any]:
    require_role(principal, "admin")
    _check_code(code, "procedure")
    hierarchy = container.catalogue.hierarchy
    unknown = [s.agency_code for s in body.route if s.agency_code not in hierarchy]
    if unknown:
        raise Problem(
            422,
            "Unknown agency on route",
            f"route names unknown agencies: {', '.join(unknown)}",
            "unknown-agency",
        )
    procedure = Procedure(
        code=code,
        name=body.name,
        field=body.field,
        deadline_working_hours=body.deadline_working_hours,
        supplement_policy=SupplementPolicy(body.supplement_policy),
        route=tuple(RouteStep(s.agency_code, s.budget_working_hours) for s in body.route),
        valid_from=body.valid_from,
        fee_vnd=body.fee_vnd,
        components=tuple(component_from_json(c.model_dump(mode="json")) for c in body.components),
    )
    created = container.catalogue.put_procedure(procedure)
    response.status_code = 201 if created else 200
    return procedure_to_json(procedure)


@router.get("/procedures", **answers(schemas.ProcedurePage))
def list_procedures(
    principal: PrincipalDep, container: ContainerDep, on: date | None = None
) -> dict[str, Any]:
    items = [procedure_to_json(p) for p in container.catalogue.procedures(on)]
    return {"items": items, "next_cursor": None}


@router.get("/procedures/{code}", **answers(schemas.ProcedureVersions))
def get_procedure(
    code: str, principal: PrincipalDep, container: ContainerDep, on: date | None = None
) -> dict[str, Any]:
    procedure = container.catalogue.procedure(code, on)
    if procedure is None:
        raise Problem(404, "Unknown procedure", f"no procedure '{code}'", "unknown-procedure")
    versions = [procedure_to_json(p) for p in container.catalogue.procedure_versions(code)]
    return {**procedure_to_json(procedure), "versions": versions}
