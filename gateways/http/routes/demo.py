"""Demo login: the embedded demo's sign-in page picks a role and an agency and gets a token.

Only when the `demo_login` setting is on (`make run` turns it on for the embedded demo);
anywhere else these answer 404 and people paste a token issued by `lienthong token`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from gateways.application.commands import Body
from gateways.auth import AGENCY_ROLES, ROLES, issue_token
from gateways.bootstrap import Container, system_clock
from gateways.http import schemas
from gateways.http.deps import ContainerDep
from gateways.http.problems import Problem
from gateways.http.routes.catalogue import agency_json
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1/demo", tags=["demo"])


class DemoLogin(Body):
    role: str = Field(min_length=1, description=f"one of {', '.join(ROLES)}")
    agency_code: str | None = Field(
        default=None, max_length=100, description="the agency (officer, supervisor)"
    )


def _require_demo(container: Container) -> None:
    if not container.settings.demo_login:
        raise Problem(
            404,
            "Demo login is off",
            "this server issues no demo tokens; sign in with a token from `lienthong token`",
            "demo-login-off",
        )


@router.post("/token", **answers(schemas.DemoToken))
def demo_token(body: DemoLogin, container: ContainerDep) -> dict[str, Any]:
    """A signed token for the chosen role (and agency), as `lienthong token` would print."""
    _require_demo(container)
    if body.role not in ROLES:
        raise Problem(
            422, "Unknown role", f"role must be one of {', '.join(ROLES)}, not '{body.role}'", "invalid-value"
        )
    agency = body.agency_code if body.role in AGENCY_ROLES else None
    if body.role in AGENCY_ROLES and not agency:
        raise Problem(
            422, "Agency needed", f"a {body.role} acts for an agency: give agency_code", "invalid-value"
        )
    if agency and agency not in container.catalogue.hierarchy:
        raise Problem(422, "Unknown agency", f"no agency '{agency}' in the catalogue", "unknown-agency")
    # pyjwt checks `exp` against the wall clock, so the token is dated by it too (the
    # service's clock may be a simulation's).
    now = system_clock()
    ttl = timedelta(seconds=container.settings.jwt_ttl_seconds)
    token = issue_token(
        container.keyring.jwt_secret,
        role=body.role,
        sub=f"demo-{body.role}@{agency or 'lienthong'}",
        agency_code=agency,
        now=now,
        ttl=ttl,
    )
    return {
        "token": token,
        "token_type": "Bearer",
        "role": body.role,
        "agency_code": agency,
        "expires_at": (now + ttl).isoformat(),
    }


@router.get("/agencies", **answers(schemas.DemoAgencies))
def demo_agencies(container: ContainerDep) -> dict[str, Any]:
    """Every agency (its latest version), for the sign-in page's picker before anyone has a token."""
    _require_demo(container)
    hierarchy = container.catalogue.hierarchy
    items = []
    for code in hierarchy.codes():
        latest = hierarchy.latest(code)
        if latest is not None:
            items.append(agency_json(latest, container.catalogue))
    return {
        "items": items,
        "home": container.catalogue.home(),  # the agency the picker starts on
        "roles": list(ROLES),
        "agency_roles": list(AGENCY_ROLES),
        "next_cursor": None,
    }
