"""Dossier commands (officer of the acting agency, or integration)."""

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response

from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.commands import (
    COMMANDS,
    CommandSpec,
    DossierCreate,
    new_dossier_id,
    receive_dossier,
    run_command,
)
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.presenter import dossier_json
from gateways.http.problems import Problem
from gateways.idempotency import request_hash

router = APIRouter(prefix="/api/v1/dossiers", tags=["commands"])


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Problem(
            400,
            "Malformed If-Match",
            f'If-Match must be a quoted version like "3", got {if_match!r}',
            "malformed-header",
        )
    return int(text)


def _respond(
    container: Container,
    request: Request,
    principal: Principal,
    raw: bytes,
    key: str | None,
    status: int,
    produce: Callable[[], dict[str, Any]],
) -> Response:
    """Run once per Idempotency-Key: a replay returns the first response byte for byte."""
    now = container.service.now()
    endpoint = f"{request.method} {request.url.path}"
    digest = request_hash(raw)
    if key:
        stored = container.idempotency.get(principal.sub, endpoint, key, now)
        if stored is not None:
            if stored.request_hash != digest:
                raise Problem(
                    422,
                    "Idempotency key reused",
                    "this Idempotency-Key was used with another body",
                    "idempotency-key-reused",
                )
            return Response(
                stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    body = produce()
    encoded = orjson.dumps(body)
    if key:
        container.idempotency.put(principal.sub, endpoint, key, digest, status, encoded, now)
    headers = {"ETag": f'"{body["version"]}"'} if "version" in body else {}
    return Response(encoded, status_code=status, media_type="application/json", headers=headers)


@router.post("", status_code=201)
def create_dossier(
    body: DossierCreate,
    request: Request,
    principal: PrincipalDep,
    container: ContainerDep,
    raw: RawBody,
    idem: IdemKey = None,
) -> Response:
    dossier_id = new_dossier_id(principal.sub, idem)

    def produce() -> dict[str, Any]:
        received = receive_dossier(container, principal, body, dossier_id)
        out = dossier_json(received.state, container.calendar, container.service.now(), principal)
        out["lookup_secret"] = received.lookup_secret
        return out

    return _respond(container, request, principal, raw, idem, 201, produce)


def _route(spec: CommandSpec) -> None:
    def endpoint(
        dossier_id: str,
        body: spec.model,  # type: ignore[name-defined]
        request: Request,
        principal: PrincipalDep,
        container: ContainerDep,
        raw: RawBody,
        if_match: IfMatch = None,
        idem: IdemKey = None,
    ) -> Response:
        expected = _expected_version(if_match)

        def produce() -> dict[str, Any]:
            state = run_command(container, principal, spec, dossier_id, body, expected)
            return dossier_json(state, container.calendar, container.service.now(), principal)

        return _respond(container, request, principal, raw, idem, 200, produce)

    endpoint.__name__ = "cmd_" + spec.name
    router.add_api_route("/{dossier_id}" + spec.path, endpoint, methods=["POST"], summary=spec.summary)


for _spec in COMMANDS.values():
    _route(_spec)
