"""Catalogue: agencies (versioned) and procedures. Admin writes, everyone signed in reads."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from domain.agencies import Agency, AgencyLevel
from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.catalogue import parent_cycle, procedure_to_json
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep, require_role
from gateways.http.problems import Problem
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


class AgencyPut(BaseModel):
    name: str = Field(min_length=1)
    level: AgencyLevel
    parent_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class RouteStepIn(BaseModel):
    agency_code: str = Field(min_length=1)
    budget_working_hours: float = Field(gt=0)


class ProcedurePut(BaseModel):
    name: str = Field(min_length=1)
    field: str = ""
    deadline_working_hours: float = Field(gt=0)
    supplement_policy: Literal["restart", "pause"] = "restart"
    route: list[RouteStepIn] = Field(min_length=1)


def agency_json(a: Agency) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level.value,
        "parent_code": a.parent_code,
        "valid_from": a.valid_from.isoformat() if a.valid_from else None,
        "valid_to": a.valid_to.isoformat() if a.valid_to else None,
    }


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
    if body.parent_code and body.parent_code not in container.catalogue.hierarchy:
        raise Problem(
            422,
            "Unknown parent agency",
            f"parent_code '{body.parent_code}' is not in the catalogue",
            "unknown-agency",
        )
    agency = Agency(
        code=code,
        name=body.name,
        level=body.level,
        parent_code=body.parent_code,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
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
        **agency_json(agency),
        "versions": [agency_json(a) for a in container.catalogue.hierarchy.history(code)],
    }


@router.get("/agencies", **answers(schemas.AgencyPage))
def list_agencies(principal: PrincipalDep, container: ContainerDep, on: date | None = None) -> dict[str, Any]:
    hierarchy = container.catalogue.hierarchy
    items = []
    for code in hierarchy.codes():
        version = hierarchy.on(code, on) if on else hierarchy.latest(code)
        if version is not None:
            items.append(agency_json(version))
    return {"items": items, "next_cursor": None}


@router.get("/agencies/{code}", **answers(schemas.AgencyVersions))
def get_agency(code: str, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    hierarchy = container.catalogue.hierarchy
    latest = hierarchy.latest(code)
    if latest is None:
        raise Problem(404, "Unknown agency", f"no agency '{code}'", "unknown-agency")
    return {**agency_json(latest), "versions": [agency_json(a) for a in hierarchy.history(code)]}


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
    )
    created = container.catalogue.put_procedure(procedure)
    response.status_code = 201 if created else 200
    return procedure_to_json(procedure)


@router.get("/procedures", **answers(schemas.ProcedurePage))
def list_procedures(principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    return {"items": [procedure_to_json(p) for p in container.catalogue.procedures()], "next_cursor": None}


@router.get("/procedures/{code}", **answers(schemas.Procedure))
def get_procedure(code: str, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    procedure = container.catalogue.procedure(code)
    if procedure is None:
        raise Problem(404, "Unknown procedure", f"no procedure '{code}'", "unknown-procedure")
    return procedure_to_json(procedure)
