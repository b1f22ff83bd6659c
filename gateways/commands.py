"""Dossier commands, one table for every gateway: the HTTP routes and the Kafka inbound topic
build the same domain command from the same body and run it through the same service.

Each spec has the wire name of API.md (`handoff`, `accept`, …), the HTTP path under
/api/v1/dossiers/{id}, the body model and how to build the domain command.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain import commands as cmd
from domain.dossier import Dossier
from domain.errors import ActorNotAllowed, InvalidValue
from domain.events import Actor, Channel, Outcome
from gateways.auth import Principal

if TYPE_CHECKING:
    from gateways.bootstrap import Container

WRITERS = ("officer", "integration")


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


Build = Callable[[Any, Dossier, Actor, datetime, "Container"], cmd.Command]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    path: str
    model: type[Timed]
    build: Build
    summary: str


COMMANDS: dict[str, CommandSpec] = {}


def _spec(name: str, path: str, model: type[Timed], build: Build, summary: str) -> None:
    COMMANDS[name] = CommandSpec(name, path, model, build, summary)


def actor_of(principal: Principal) -> Actor:
    if principal.role not in WRITERS:
        raise ActorNotAllowed(f"role '{principal.role}' cannot act on dossiers")
    return Actor(agency_code=principal.agency_code or "", user=principal.sub, role=principal.role)


def occurred_at(container: Container, principal: Principal, body: Timed) -> datetime:
    if body.occurred_at is None:
        return container.service.now()
    if principal.role != "integration":
        raise ActorNotAllowed("only the integration role may state occurred_at")
    return body.occurred_at


@dataclass(frozen=True)
class Received:
    state: Dossier
    lookup_secret: str


def new_dossier_id(subject: str, idempotency_key: str | None) -> str:
    """A retried key maps to the same dossier id, so a crash between the append and the
    idempotency record can never create the dossier twice (docs/decisions.md #6)."""
    if idempotency_key:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:{subject}:{idempotency_key}"))
    return str(uuid.uuid4())


def receive_dossier(
    container: Container,
    principal: Principal,
    body: DossierCreate,
    dossier_id: str,
    metadata: dict[str, str] | None = None,
) -> Received:
    """`POST /dossiers` and the inbound `receive` command."""
    actor = actor_of(principal)
    if body.submitted_only and principal.role != "integration":
        raise ActorNotAllowed("only the integration role (the national portal) records online submissions")
    created = container.service.create(
        dossier_id=dossier_id,
        procedure_code=body.procedure_code,
        channel=Channel(body.channel),
        applicant=body.applicant.model_dump(exclude_none=True),
        receiving_agency_code=body.receiving_agency_code,
        actor=actor,
        occurred_at=occurred_at(container, principal, body),
        submitted_only=body.submitted_only,
        metadata=metadata,
    )
    return Received(created.state, created.lookup_secret)


def run_command(
    container: Container,
    principal: Principal,
    spec: CommandSpec,
    dossier_id: str,
    body: Timed,
    expected_version: int | None,
    metadata: dict[str, str] | None = None,
) -> Dossier:
    """Execute one command on an existing dossier for `principal`; the new state."""
    actor = actor_of(principal)
    at = occurred_at(container, principal, body)
    return container.service.execute(
        dossier_id,
        lambda state: spec.build(body, state, actor, at, container),
        expected_version=expected_version,
        metadata=metadata,
    )


class Empty(Timed):
    pass


def _intake(b: Empty, s: Dossier, a: Actor, t: datetime, c: Container) -> cmd.Command:
    procedure = c.catalogue.procedure(s.procedure_code)
    if procedure is None:
        raise InvalidValue(f"procedure '{s.procedure_code}' is no longer catalogued")
    return cmd.AcceptIntake(actor=a, occurred_at=t, procedure=procedure)


_spec("intake", "/intake", Empty, _intake, "Accept an online submission at the desk")

_spec(
    "refuse",
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


_spec("handoff", "/handoffs", HandoffIn, _handoff, "Hand the dossier to another agency")
_spec(
    "accept",
    "/handoffs/accept",
    Empty,
    lambda b, s, a, t, _c: cmd.AcceptHandoff(actor=a, occurred_at=t),
    "Accept the pending handoff",
)
_spec(
    "return",
    "/handoffs/return",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.ReturnHandoff(actor=a, occurred_at=t, reason=b.reason),
    "Return the pending handoff to its giver",
)
_spec("consult", "/consultations", ConsultIn, _consult, "Ask another agency's opinion")
_spec(
    "answer",
    "/consultations/answer",
    AnswerIn,
    lambda b, s, a, t, _c: cmd.AnswerConsultation(actor=a, occurred_at=t, answer=b.answer),
    "Answer a consultation",
)
_spec(
    "request_supplement",
    "/supplement-requests",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.RequestSupplement(actor=a, occurred_at=t, reason=b.reason),
    "Ask the citizen to supplement the dossier",
)
_spec(
    "supplement_received",
    "/supplement-received",
    Empty,
    lambda b, s, a, t, _c: cmd.ReceiveSupplement(actor=a, occurred_at=t),
    "Record the supplement",
)
_spec(
    "request_fee",
    "/fee-requests",
    FeeIn,
    lambda b, s, a, t, _c: cmd.RequestFee(actor=a, occurred_at=t, amount_vnd=b.amount_vnd),
    "Request a fee",
)
_spec(
    "fee_paid",
    "/fee-paid",
    Empty,
    lambda b, s, a, t, _c: cmd.PayFee(actor=a, occurred_at=t),
    "Record the payment",
)
_spec(
    "apologize",
    "/apologies",
    ApologyIn,
    lambda b, s, a, t, _c: cmd.IssueApology(actor=a, occurred_at=t, new_due_at=b.new_due_at, reason=b.reason),
    "Issue an apology with a new appointment",
)
_spec(
    "decide",
    "/decision",
    DecisionIn,
    lambda b, s, a, t, _c: cmd.DecideDossier(
        actor=a, occurred_at=t, outcome=Outcome(b.outcome), decision_number=b.decision_number
    ),
    "Record the decision",
)
_spec(
    "result_ready",
    "/result-ready",
    Empty,
    lambda b, s, a, t, _c: cmd.MarkResultReady(actor=a, occurred_at=t),
    "The result is at the return desk",
)
_spec(
    "result_returned",
    "/result-returned",
    Empty,
    lambda b, s, a, t, _c: cmd.ReturnResult(actor=a, occurred_at=t),
    "The result was handed to the citizen",
)
_spec(
    "withdraw",
    "/withdrawal",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.Withdraw(actor=a, occurred_at=t, reason=b.reason),
    "The citizen withdrew the dossier",
)
_spec(
    "stop",
    "/stop",
    ReasonIn,
    lambda b, s, a, t, _c: cmd.StopProcessing(actor=a, occurred_at=t, reason=b.reason),
    "Stop processing by law",
)
