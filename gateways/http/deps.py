"""Request dependencies: the container and the caller."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from gateways.auth import AuthError, Principal, read_token
from gateways.bootstrap import Container
from gateways.http import access
from gateways.http.problems import Problem
from gateways.http.ratelimit import RateLimits
from gateways.logs import annotate

# The two dependencies every route takes are `async`: FastAPI runs a plain `def` dependency in
# its thread pool, a thread hand-off each way per dependency and request (docs/decisions.md,
# query latency: fourth round). They read the request; the caller is found by the access check
# (`enforce`, in the pool) first, and only a route without it checks the token here: a stat of
# the key folder (retired secrets) and the signature, on the event loop.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_principal(request: Request, container: ContainerDep) -> Principal:
    return principal_of(request, container)


def principal_of(request: Request, container: Container) -> Principal:
    """The caller, from its bearer token (read once per request)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("send 'Authorization: Bearer <token>' (see `lienthong token`)")
    principal = read_token(container.keyring.jwt_secrets, token.strip())
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Problem(
            403,
            "Forbidden",
            f"role '{principal.role}' may not do this (needs {' or '.join(roles)})",
            "forbidden",
        )


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail, "forbidden")


def enforce(request: Request, container: ContainerDep) -> None:
    """The access table (gateways/http/access.py) applied before the route reads anything."""
    route = request.scope.get("route")
    policy = access.policy_for(request.method, getattr(route, "path", request.url.path))
    annotate(dossier_id=request.path_params.get("dossier_id") or request.query_params.get("dossier_id"))
    address = request.client.host if request.client else "-"
    if policy.limit:
        _limit(request, container, policy.limit, address, None)
    if policy.public:
        return
    principal = principal_of(request, container)
    annotate(sub=principal.sub, role=principal.role, agency_code=principal.agency_code)
    if policy.limit:
        _limit(request, container, policy.limit, None, f"{principal.role}:{principal.sub}")
    rule = policy.rule(principal.role)
    if rule is None:
        raise forbidden(f"role '{principal.role}' may not call {request.method} {getattr(route, 'path', '')}")
    if rule is access.Rule.ALL or policy.scope is access.Scope.NONE:
        return
    own = principal.agency_code or ""
    mine = {own} if principal.role == "officer" else container.catalogue.hierarchy.subtree_ever(own)
    if policy.scope is access.Scope.AGENCY:
        code = (
            request.path_params.get("code")
            or request.path_params.get("agency_code")
            or request.query_params.get("agency_code")
        )
        if code and code not in mine:
            if principal.role == "officer":
                raise forbidden(f"an officer acts for its own agency {own}, not {code}")
            # A supervisor of a successor also reads the ended agencies it succeeded (decision 60).
            if code not in container.catalogue.hierarchy.rollup_ever(own):
                raise forbidden(f"agency {code} is not {own} nor below it")
        return
    dossier_id = request.path_params.get("dossier_id") or request.query_params.get("dossier_id")
    if not dossier_id:
        if policy.scope_required:
            raise forbidden(f"a {principal.role} must name a dossier of its agencies (dossier_id)")
        return
    try:
        state = container.writer.cache.load(str(uuid.UUID(dossier_id))).state
    except ValueError:
        return  # not a dossier id: the route answers 404/422
    if state is not None and not (state.involved_agencies & mine):
        raise forbidden(f"agency {own} has no part in dossier {dossier_id}")


EnforceDep = Depends(enforce)


def rate_limits(request: Request, container: Container) -> RateLimits:
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        s = container.settings
        limits = RateLimits(
            s.rate_commands_per_token,
            s.rate_commands_per_address,
            s.rate_commands_burst,
            s.rate_lookups_per_address,
            s.rate_lookups_burst,
        )
        request.app.state.rate_limits = limits
    return limits


def _limit(
    request: Request, container: Container, kind: str, address: str | None, subject: str | None
) -> None:
    limits = rate_limits(request, container)
    over = (
        limits.check(kind, address, None)
        if address is not None
        else limits.check_subject(kind, subject or "")
    )
    if over is None:
        return
    which, retry_after = over
    container.metrics.rate_limited.labels(which).inc()
    raise Problem(
        429,
        "Too many requests",
        f"over the {which.replace('_', ' ')} limit; retry in {retry_after} s",
        "rate-limited",
        retry_after=retry_after,
    )
