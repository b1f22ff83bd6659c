"""Dossier commands, one table for every gateway: the HTTP routes and the Kafka inbound topic
parse the same body models and name the same command; `Commands` runs them.

Each spec has the wire name of API.md (`handoff`, `accept`, …), the HTTP path under
/api/v1/dossiers/{id}, the body model and how to build the domain command from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from domain import commands as cmd
from domain.agencies import Hierarchy
from domain.dossier import Dossier
from domain.errors import InvalidValue
from domain.events import Actor, Outcome, Satisfaction
from domain.procedures import Procedure

# Instants this service reasons about: the working-time calendar knows the holidays of these
# years, and nothing a desk records lies outside them. Anything else is a typing mistake.
FIRST_YEAR, LAST_YEAR = 1990, 2100
MAX_AMOUNT_VND = 10**15


def _in_range(at: datetime) -> datetime:
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise ValueError(f"the year must lie between {FIRST_YEAR} and {LAST_YEAR}")
    return at


Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
# The same range for a query parameter whose missing offset gets a message of its own.
LocalInstant = Annotated[datetime, AfterValidator(_in_range)]


class Body(BaseModel):
    """A request body. A field it does not declare is refused (422 naming it): a misspelt
    optional field (`notes` for `note`) would otherwise be dropped without a word, and a repeated
    idempotency key would replay an answer the caller never asked for."""

    model_config = ConfigDict(extra="forbid")


class Timed(Body):
    occurred_at: Instant | None = None


class Applicant(Body):
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)


class DossierCreate(Timed):
    procedure_code: str = Field(min_length=1, max_length=100)
    channel: Literal["online", "direct", "postal"]
    applicant: Applicant
    receiving_agency_code: str | None = Field(default=None, max_length=100)
    submitted_only: bool = False
    lookup_secret_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="the sender's own lookup secret, as the hex SHA-256 of 'lienthong-lookup:' + the "
        "secret (draw at least 16 random bytes): no secret is drawn and none is answered; the sender "
        "gives it to the citizen. Over Kafka the only way to give one (the results topic is read by "
        "every agency system)",
    )


class HandoffIn(Timed):
    to_agency_code: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=2000)


class ReasonIn(Timed):
    reason: str = Field(min_length=1, max_length=2000)


class DeskRefusalIn(ReasonIn):
    missing_components: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=100, description="thành phần hồ sơ found missing"
    )


class SupplementIn(DeskRefusalIn):
    pass


class ConsultIn(Timed):
    agency_code: str = Field(min_length=1, max_length=100)
    question: str = Field(min_length=1, max_length=4000)


class AnswerIn(Timed):
    answer: str = Field(min_length=1, max_length=4000)


class ApologyIn(Timed):
    new_due_at: Instant
    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(Timed):
    outcome: Literal["approved", "rejected"]
    decision_number: str = Field(default="", max_length=100)


class FeeIn(Timed):
    amount_vnd: int = Field(gt=0, le=MAX_AMOUNT_VND)


class SatisfactionIn(Timed):
    rating: Literal["very_satisfied", "satisfied", "not_satisfied"] = Field(
        description="rất hài lòng / hài lòng / không hài lòng (docs/decisions.md entry 80)"
    )


class CommandContext(Protocol):
    """What building a domain command may look up (the service)."""

    def procedure(self, code: str, at: datetime | None = None) -> Procedure: ...

    def procedure_for_receipt(self, code: str, at: datetime, desk: str | None) -> tuple[Procedure, str]: ...

    def addressee(self, code: str, at: datetime, state: Dossier) -> tuple[str, tuple[str, ...]]: ...

    @property
    def hierarchy(self) -> Hierarchy: ...

    def require_agency(self, *codes: str, at: datetime) -> None: ...

    def required_components(self, state: Dossier) -> tuple[str, ...]: ...

    @property
    def supplement_window_working_hours(self) -> float | None: ...


Build = Callable[[Any, Dossier, Actor, datetime, CommandContext], cmd.Command]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    path: str
    model: type[Timed]
    build: Build
    summary: str


COMMANDS: dict[str, CommandSpec] = {}
RECEIVE = "receive"  # the command that creates a dossier (`POST /dossiers`)


def _spec(name: str, path: str, model: type[Timed], build: Build, summary: str) -> None:
    COMMANDS[name] = CommandSpec(name, path, model, build, summary)


def new_dossier_id(scope: str | None) -> str:
    """A retried key maps to the same dossier id, so a crash between the append and the
    idempotency record could never create the dossier twice (docs/decisions.md #6)."""
    if scope:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lienthong:{scope}"))
    return str(uuid.uuid4())


class Empty(Timed):
    pass


def _intake(b: Empty, s: Dossier, a: Actor, t: datetime, c: CommandContext) -> cmd.Command:
    try:
        procedure, _desk = c.procedure_for_receipt(s.procedure_code, t, s.receiving_agency_code)
    except InvalidValue as exc:
        raise InvalidValue(f"procedure '{s.procedure_code}' is no longer catalogued") from exc
    return cmd.AcceptIntake(actor=a, occurred_at=t, procedure=procedure)


_spec("intake", "/intake", Empty, _intake, "Accept an online submission at the desk")

_spec(
    "refuse",
    "/refusal",
    DeskRefusalIn,
    lambda b, s, a, t, c: cmd.RefuseIntake(
        actor=a,
        occurred_at=t,
        reason=b.reason,
        missing_components=tuple(b.missing_components),
        required_components=c.required_components(s),
    ),
    "Refuse the dossier at the desk: an online submission, or one brought in, before it moves on",
)


def _handoff(b: HandoffIn, s: Dossier, a: Actor, t: datetime, c: CommandContext) -> cmd.Command:
    # An ended agency's successor takes a handoff addressed to it (DOMAIN.md, succession).
    to, succeeds = c.addressee(b.to_agency_code, t, s)
    return cmd.HandOff(actor=a, occurred_at=t, to_agency_code=to, note=b.note, succeeds=succeeds)


def _consult(b: ConsultIn, s: Dossier, a: Actor, t: datetime, c: CommandContext) -> cmd.Command:
    agency, _ended = c.addressee(b.agency_code, t, s)
    return cmd.RequestConsultation(actor=a, occurred_at=t, agency_code=agency, question=b.question)


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
    SupplementIn,
    lambda b, s, a, t, c: cmd.RequestSupplement(
        actor=a,
        occurred_at=t,
        reason=b.reason,
        missing_components=tuple(b.missing_components),
        required_components=c.required_components(s),
        within_working_hours=c.supplement_window_working_hours,
    ),
    "Ask the citizen to supplement the dossier (once, within the period after receipt)",
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
_spec(
    "satisfaction",
    "/satisfaction",
    SatisfactionIn,
    lambda b, s, a, t, _c: cmd.RecordSatisfaction(actor=a, occurred_at=t, rating=Satisfaction(b.rating)),
    "Record the citizen's satisfaction (once, after the result was returned)",
)
