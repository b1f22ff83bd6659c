"""Commands: what an officer or an agency system asks the dossier to do.

Each carries the acting `actor` and `occurred_at` (the gateway's clock, or the
integration role's stated time): the domain never reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import Actor, Channel, Outcome
from domain.procedures import Procedure


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: Actor
    occurred_at: datetime
    name = "command"


@dataclass(frozen=True, kw_only=True)
class SubmitOnline(Command):
    name = "submit"
    dossier_id: str
    receipt_code: str
    procedure: Procedure
    receiving_agency_code: str
    applicant: Mapping[str, Any]
    lookup_secret_hash: str


@dataclass(frozen=True, kw_only=True)
class ReceiveDossier(Command):
    name = "receive"
    dossier_id: str
    receipt_code: str
    procedure: Procedure
    channel: Channel
    receiving_agency_code: str
    applicant: Mapping[str, Any]
    lookup_secret_hash: str
    imported: bool = False


@dataclass(frozen=True, kw_only=True)
class AcceptIntake(Command):
    """Accept an online submission at the desk (its procedure as catalogued now)."""

    name = "intake"
    procedure: Procedure


@dataclass(frozen=True, kw_only=True)
class RefuseIntake(Command):
    name = "refuse"
    reason: str
    missing_components: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HandOff(Command):
    name = "handoff"
    to_agency_code: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class AcceptHandoff(Command):
    name = "accept"


@dataclass(frozen=True, kw_only=True)
class ReturnHandoff(Command):
    name = "return"
    reason: str


@dataclass(frozen=True, kw_only=True)
class RequestConsultation(Command):
    name = "consult"
    agency_code: str
    question: str


@dataclass(frozen=True, kw_only=True)
class AnswerConsultation(Command):
    name = "answer"
    answer: str


@dataclass(frozen=True, kw_only=True)
class RequestSupplement(Command):
    name = "request_supplement"
    reason: str
    missing_components: tuple[str, ...] = ()
    # The period after receipt within which the desk may ask (working hours; None: no limit).
    within_working_hours: float | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveSupplement(Command):
    name = "supplement_received"


@dataclass(frozen=True, kw_only=True)
class RequestFee(Command):
    name = "request_fee"
    amount_vnd: int


@dataclass(frozen=True, kw_only=True)
class PayFee(Command):
    name = "fee_paid"


@dataclass(frozen=True, kw_only=True)
class IssueApology(Command):
    name = "apologize"
    new_due_at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class DecideDossier(Command):
    name = "decide"
    outcome: Outcome
    decision_number: str = ""


@dataclass(frozen=True, kw_only=True)
class MarkResultReady(Command):
    name = "result_ready"


@dataclass(frozen=True, kw_only=True)
class ReturnResult(Command):
    name = "result_returned"


@dataclass(frozen=True, kw_only=True)
class Withdraw(Command):
    name = "withdraw"
    reason: str


@dataclass(frozen=True, kw_only=True)
class StopProcessing(Command):
    name = "stop"
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordLegacyActivity(Command):
    name = "legacy"
    activity: str
    agency_code: str
    resource: str = ""
    attributes: Mapping[str, str] | None = None
    original: Mapping[str, Any] | None = None  # the XES attributes as written (domain.legacy)
