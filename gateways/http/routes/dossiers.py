"""Dossier commands (officer of the acting agency, or integration)."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from domain import commands as cmd
from domain.dossier import Dossier
from domain.events import Actor, Channel, Outcome
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.presenter import dossier_json
from gateways.http.problems import Problem
from gateways.idempotency import request_hash

router = APIRouter(prefix="/api/v1/dossiers", tags=["commands"])
WRITERS = ("officer", "integration")


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class Timed(BaseModel):
    occurred_at: AwareDatetime | None = None


class Applicant(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)


class DossierCreate(Timed):
    procedure_code: str = Field(min_length=1)
    channel: Literal["online", "direct", "postal"]
    applicant: Applicant
    receiving_agency_code: str | None = None
    submitted_only: bool = False


class HandoffIn(Timed):
    to_agency_code: str = Field(min_length=1)
    note: str = Field(default="", max_length=2000)


class ReasonIn(Timed):
    reason: str = Field(min_length=1, max_length=2000)


class ConsultIn(Timed):
    agency_code: str = Field(min_length=1)
    question: str = Field(min_length=1, max_length=4000)


class AnswerIn(Timed):
    answer: str = Field(min_length=1, max_length=4000)


class ApologyIn(Timed):
    new_due_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(Timed):
    outcome: Literal["approved", "rejected"]
    decision_number: str = Field(default="", max_length=100)


class FeeIn(Timed):
    amount_vnd: int = Field(gt=0)


def _actor(principal: Principal) -> Actor:
    if principal.role not in WRITERS:
        raise Problem(403, "Forbidden", f"role '{principal.role}' cannot act on dossiers", "forbidden")
    return Actor(agency_code=principal.agency_code or "", user=principal.sub, role=principal.role)


def _when(container: Container, principal: Principal, body: Timed) -> datetime:
    if body.occurred_at is None:
        return container.service.now()
    if principal.role != "integration":
        raise Problem(403, "Forbidden", "only the integration role may state occurred_at", "forbidden")
    return body.occurred_at


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
    actor = _actor(principal)
    if body.submitted_only and principal.role != "integration":
        raise Problem(
            403,
            "Forbidden",
            "only the integration role (the national portal) records online submissions",
            "forbidden",
        )
    at = _when(container, principal, body)
    # A retried key maps to the same dossier id, so a crash between append and
    # the idempotency record can never create the dossier twice.
    dossier_id = (
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:{principal.sub}:{idem}"))
        if idem
        else str(uuid.uuid4())
    )

    def produce() -> dict[str, Any]:
        created = container.service.create(
            dossier_id=dossier_id,
            procedure_code=body.procedure_code,
            channel=Channel(body.channel),
            applicant=body.applicant.model_dump(exclude_none=True),
            receiving_agency_code=body.receiving_agency_code,
            actor=actor,
            occurred_at=at,
            submitted_only=body.submitted_only,
        )
        out = dossier_json(created.state, container.calendar, container.service.now(), principal)
        out["lookup_secret"] = created.lookup_secret
        return out

    return _respond(container, request, principal, raw, idem, 201, produce)


Build = Callable[[Any, Dossier, Actor, datetime, Container], cmd.Command]


def _command(path: str, model: type[Timed], build: Build, summary: str) -> None:
    def endpoint(
        dossier_id: str,
        body: model,  # type: ignore[valid-type]
        request: Request,
        principal: PrincipalDep,
        container: ContainerDep,
        raw: RawBody,
        if_match: IfMatch = None,
        idem: IdemKey = None,
    ) -> Response:
        actor = _actor(principal)
        at = _when(container, principal, body)
        expected = _expected_version(if_match)

        def produce() -> dict[str, Any]:
            state = container.service.execute(
                dossier_id, lambda s: build(body, s, actor, at, container), expected_version=expected
            )
            return dossier_json(state, container.calendar, container.service.now(), principal)

        return _respond(container, request, principal, raw, idem, 200, produce)

    endpoint.__name__ = "cmd_" + path.strip("/").replace("/", "_").replace("-", "_")
    router.add_api_route("/{dossier_id}" + path, endpoint, methods=["POST"], summary=summary)


class Empty(Timed):
    pass


def _intake(b: Empty, s: Dossier, a: Actor, t: datetime, c: Container) -> cmd.Command:
    procedure = c.catalogue.procedure(s.procedure_code)
    if procedure is None:
        raise Problem(
            422,
            "Unknown procedure",
            f"procedure '{s.procedure_code}' is no longer catalogued",
            "unknown-procedure",
        )
    return cmd.AcceptIntake(actor=a, occurred_at=t, procedure=procedure)


_command("/intake", Empty, _intake, "Accept an online submission at the desk")

_command(
    "/refusal",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.RefuseIntake(actor=a, occurred_at=t, reason=b.reason),
    "Refuse an online submission at intake",
)


def _handoff(b: HandoffIn, s: Dossier, a: Actor, t: datetime, c: Container) -> cmd.Command:
    c.service.require_agency(b.to_agency_code, at=t)
    return cmd.HandOff(actor=a, occurred_at=t, to_agency_code=b.to_agency_code, note=b.note)


def _consult(b: ConsultIn, s: Dossier, a: Actor, t: datetime, c: Container) -> cmd.Command:
    c.service.require_agency(b.agency_code, at=t)
    return cmd.RequestConsultation(actor=a, occurred_at=t, agency_code=b.agency_code, question=b.question)


_command("/handoffs", HandoffIn, _handoff, "Hand the dossier to another agency")
_command(
    "/handoffs/accept",
    Empty,
    lambda b, s, a, t, _c: cmd.AcceptHandoff(actor=a, occurred_at=t),
    "Accept the pending handoff",
)
_command(
    "/handoffs/return",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.ReturnHandoff(actor=a, occurred_at=t, reason=b.reason),
    "Return the pending handoff to its giver",
)
_command("/consultations", ConsultIn, _consult, "Ask another agency's opinion")
_command(
    "/consultations/answer",
    AnswerIn,
    lambda b, s, a, t, _c: cmd.AnswerConsultation(actor=a, occurred_at=t, answer=b.answer),
    "Answer a consultation",
)
_command(
    "/supplement-requests",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.RequestSupplement(actor=a, occurred_at=t, reason=b.reason),
    "Ask the citizen to supplement the dossier",
)
_command(
    "/supplement-received",
    Empty,
    lambda b, s, a, t, _c: cmd.ReceiveSupplement(actor=a, occurred_at=t),
    "Record the supplement",
)
_command(
    "/fee-requests",
    FeeIn,
    lambda b, s, a, t, _c: cmd.RequestFee(actor=a, occurred_at=t, amount_vnd=b.amount_vnd),
    "Request a fee",
)
_command("/fee-paid", Empty, lambda b, s, a, t, _c: cmd.PayFee(actor=a, occurred_at=t), "Record the payment")
_command(
    "/apologies",
    ApologyIn,
    lambda b, s, a, t, _c: cmd.IssueApology(actor=a, occurred_at=t, new_due_at=b.new_due_at, reason=b.reason),
    "Issue an apology with a new appointment",
)
_command(
    "/decision",
    DecisionIn,
    lambda b, s, a, t, _c: cmd.DecideDossier(
        actor=a, occurred_at=t, outcome=Outcome(b.outcome), decision_number=b.decision_number
    ),
    "Record the decision",
)
_command(
    "/result-ready",
    Empty,
    lambda b, s, a, t, _c: cmd.MarkResultReady(actor=a, occurred_at=t),
    "The result is at the return desk",
)
_command(
    "/result-returned",
    Empty,
    lambda b, s, a, t, _c: cmd.ReturnResult(actor=a, occurred_at=t),
    "The result was handed to the citizen",
)
_command(
    "/withdrawal",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.Withdraw(actor=a, occurred_at=t, reason=b.reason),
    "The citizen withdrew the dossier",
)
_command(
    "/stop",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.StopProcessing(actor=a, occurred_at=t, reason=b.reason),
    "Stop processing by law",
)
