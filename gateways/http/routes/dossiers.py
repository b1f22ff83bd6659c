"""Dossier commands (officer of the acting agency, or integration): thin adapters over the
application's `CommandHandler` — parse, hand over, render the answer."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Response

from gateways.application.commands import COMMANDS, RECEIVE, CommandSpec, DossierCreate
from gateways.application.handler import CommandRequest, response_body
from gateways.application.writer import Answer
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.problems import Problem
from gateways.http.schemas import answers
from gateways.logs import annotate

router = APIRouter(prefix="/api/v1/dossiers", tags=["commands"])

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=40)]
# An empty key is refused (422), not taken for no key: the client meant a key and would get no replay.
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise Problem(
            400,
            "Malformed If-Match",
            f'If-Match must be a quoted version like "3", got {if_match[:40]!r}',
            "malformed-header",
        )
    return int(text)


def _render(answer: Answer) -> Response:
    annotate(dossier_id=answer.dossier_id)
    headers = {"ETag": f'"{answer.version}"'} if answer.version is not None else {}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        orjson.dumps(response_body(answer)),
        status_code=answer.status,
        media_type="application/json",
        headers=headers,
    )


@router.post("", status_code=201, **answers(schemas.DossierAnswer, 201))
def create_dossier(
    body: DossierCreate, principal: PrincipalDep, container: ContainerDep, idem: IdemKey = None
) -> Response:
    request = CommandRequest(RECEIVE, body, idempotency_key=idem)
    return _render(container.commands.run(principal, request))


def _route(spec: CommandSpec) -> None:
    def endpoint(
        dossier_id: str,
        body: spec.model,  # type: ignore[name-defined]
        principal: PrincipalDep,
        container: ContainerDep,
        if_match: IfMatch = None,
        idem: IdemKey = None,
    ) -> Response:
        request = CommandRequest(spec.name, body, dossier_id, _expected_version(if_match), idem)
        return _render(container.commands.run(principal, request))

    endpoint.__name__ = "cmd_" + spec.name
    router.add_api_route(
        "/{dossier_id}" + spec.path,
        endpoint,
        methods=["POST"],
        summary=spec.summary,
        **answers(schemas.DossierAnswer),
    )


for _spec in COMMANDS.values():
    _route(_spec)
