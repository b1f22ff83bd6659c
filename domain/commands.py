"""Commands: what an officer or an agency system asks the dossier to do.

Each carries the acting `actor` and `occurred_at` (the gateway's clock, or the
integration role's stated time): the domain never reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.events import Actor, Channel, Outcome, Satisfaction
from domain.procedures import Procedure

if TYPE_CHECKING:  # domain.succession folds dossiers, whose module needs the commands
    from domain.succession import Heir


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
    required_components: tuple[str, ...] = ()  # the procedure's list; empty: names are free


@dataclass(frozen=True, kw_only=True)
class HandOff(Command):
    name = "handoff"
    to_agency_code: str
    note: str = ""
    # Ended agencies `to_agency_code` acts for on this day (its predecessors): a route step
    # addressed to one of them is the receiver's step (DOMAIN.md, succession).
    succeeds: tuple[str, ...] = ()


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
    required_components: tuple[str, ...] = ()  # the procedure's list; empty: names are free
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


@dataclass(frozen=True, kw_only=True)
class RecordSuccession(Command):
    """At a cutover: move the dossier's parts at ended agencies to their heirs (system only)."""

    name = "succession"
    heirs: tuple[Heir, ...]
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AttachDocument(Command):
    """Attach a stored file to the dossier (domain/documents.py decides)."""

    name = "attach"
    purpose: str  # "component" or "result"
    component: str
    file_name: Mapping[str, Any]  # sealed by the gateway
    media_type: str
    size_bytes: int
    sha256: str
    # The components the procedure required on the day the dossier was received (names);
    # empty when the procedure lists none.
    required_components: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RecordSatisfaction(Command):
    """The citizen's rating, taken by the desk or given by the citizen through the lookup."""

    name = "satisfaction"
    rating: Satisfaction
