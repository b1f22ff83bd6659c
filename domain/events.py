"""Dossier events: immutable facts, past tense, one stream per dossier.

Events carry the working-time facts measured when they happened (due instants,
working hours used by a step, timeliness), so replaying history never depends on
today's calendar settings: the appointment printed on the receipt stands.
Type names on the wire are these class names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.procedures import RouteStep, SupplementPolicy


class Channel(StrEnum):
    ONLINE = "online"
    DIRECT = "direct"
    POSTAL = "postal"


class Timeliness(StrEnum):
    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Actor:
    """Who did it: the agency acted for, the user, and the role they acted in."""

    agency_code: str
    user: str
    role: str


@dataclass(frozen=True, kw_only=True)
class DossierEvent:
    occurred_at: datetime
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class DossierSubmittedOnline(DossierEvent):
    """Nộp hồ sơ trực tuyến: on the portal, not yet checked by the desk."""

    dossier_id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    applicant: Mapping[str, Any]  # sealed (ciphertext) — never clear PII
    lookup_secret_hash: str
    # The procedure's name as the catalogue gave it at submission ("" in events recorded
    # before it was kept); the receipt snapshots the whole procedure again.
    procedure_name: str = ""


@dataclass(frozen=True, kw_only=True)
class DossierReceived(DossierEvent):
    """Tiếp nhận hồ sơ: the clock starts; the route is snapshotted."""

    dossier_id: str
    receipt_code: str
    procedure_code: str
    procedure_name: str
    channel: Channel
    receiving_agency_code: str
    applicant: Mapping[str, Any] | None  # None when it was sealed at online submission
    lookup_secret_hash: str
    route: tuple[RouteStep, ...]
    deadline_working_hours: float
    supplement_policy: SupplementPolicy
    counting_from: datetime
    due_at: datetime
    step_due_at: datetime
    imported: bool = False
    # The catalogue version received under (Procedure.valid_from); None: the undated version
    # (or a dossier recorded before procedures were dated).
    procedure_version: date | None = None


@dataclass(frozen=True, kw_only=True)
class DossierRefusedAtIntake(DossierEvent):
    """Từ chối tiếp nhận: refused at the desk (an online submission, or a dossier brought to
    the desk before it moved on), with the components found missing."""

    reason: str
    missing_components: tuple[str, ...] = ()
    step_used_working_hours: float = 0.0  # the desk's step, when refused after receipt
    step_timeliness: Timeliness | None = None


@dataclass(frozen=True, kw_only=True)
class HandedOff(DossierEvent):
    """Chuyển hồ sơ: the holder gives the dossier to the next agency."""

    from_agency_code: str
    to_agency_code: str
    route_step: int | None  # index in the route snapshot; None = off route
    note: str = ""
    step_used_working_hours: float = 0.0
    step_timeliness: Timeliness | None = None


@dataclass(frozen=True, kw_only=True)
class HandoffAccepted(DossierEvent):
    """Nhận hồ sơ: the receiver confirms; the gap since HandedOff is transit."""

    from_agency_code: str
    to_agency_code: str
    route_step: int | None
    step_due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class HandoffReturned(DossierEvent):
    """Trả lại hồ sơ: the receiver sends it back; the giver's step reopens."""

    from_agency_code: str  # the agency that refused the handoff
    to_agency_code: str  # the giver, who holds it again
    reason: str
    step_due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ConsultationRequested(DossierEvent):
    """Lấy ý kiến: an opinion asked of another agency without handing off."""

    consulted_agency_code: str
    question: str


@dataclass(frozen=True, kw_only=True)
class ConsultationAnswered(DossierEvent):
    consulted_agency_code: str
    answer: str


@dataclass(frozen=True, kw_only=True)
class SupplementRequested(DossierEvent):
    """Yêu cầu bổ sung: waiting for the citizen; the clock stops."""

    reason: str
    missing_components: tuple[str, ...] = ()
    policy: SupplementPolicy
    step_used_working_hours: float
    remaining_working_hours: float


@dataclass(frozen=True, kw_only=True)
class SupplementReceived(DossierEvent):
    due_at: datetime
    step_due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class FeeRequested(DossierEvent):
    amount_vnd: int
    step_used_working_hours: float
    remaining_working_hours: float


@dataclass(frozen=True, kw_only=True)
class FeePaid(DossierEvent):
    due_at: datetime
    step_due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ApologyIssued(DossierEvent):
    """Phiếu xin lỗi và hẹn lại ngày trả kết quả: a new promise, still late."""

    new_due_at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class DossierDecided(DossierEvent):
    outcome: Outcome
    decision_number: str = ""


@dataclass(frozen=True, kw_only=True)
class ResultReady(DossierEvent):
    """Có kết quả: the dossier is resolved now; timeliness is against due_at."""

    timeliness: Timeliness
    step_used_working_hours: float
    step_timeliness: Timeliness | None


@dataclass(frozen=True, kw_only=True)
class ResultReturned(DossierEvent):
    """Trả kết quả cho công dân."""


@dataclass(frozen=True, kw_only=True)
class DossierWithdrawn(DossierEvent):
    reason: str
    step_used_working_hours: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ProcessingStopped(DossierEvent):
    reason: str
    step_used_working_hours: float = 0.0


@dataclass(frozen=True, kw_only=True)
class LegacyActivityRecorded(DossierEvent):
    """A step of an imported legacy log that maps to no other event."""

    activity: str
    agency_code: str
    resource: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    # The event as the log wrote it (every XES attribute, time:timestamp too, in order):
    # key -> typed value (see domain.legacy). Empty in events recorded before it existed.
    original: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LegacyTraceRecorded(DossierEvent):
    """A trace of a legacy log, imported in one event: its case (id and attributes, as
    `LegacyCaseRecorded` holds them) and every event it recorded, in time order, each as a
    `LegacyActivityRecorded` would hold it: a JSON object with `occurred_at` (ISO instant),
    `activity`, `agency_code` (the unit it happened at), `user`, `resource` and `original`
    (the event as the log wrote it: key -> typed value, see domain.legacy).

    Recorded at the trace's last instant. What happened in the legacy system is a record of
    the past, not this system's work: the dossier stays with the desk that received it (no
    handoff is read off the log's groups; docs/decisions.md, entry 217)."""

    case_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    activities: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class LegacyCaseRecorded(DossierEvent):
    """The case of an imported legacy log this dossier is: its id there and its attributes
    as the log wrote them (key -> typed value, see domain.legacy)."""

    case_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HolderSucceeded(DossierEvent):
    """Kế thừa: at a cutover the ended agency's part in the dossier passes to its successor.

    Recorded by the system at the cutover instant (the successor's `valid_from`, 00:00 local).
    The flags say which part moved: the holding (the open step splits here: the ended
    agency's part closes with the hours it used, the successor's opens with what is left of
    the budget), the pending handoff, the receiving desk, an open consultation. `due_at`
    never changes.
    """

    from_agency_code: str
    to_agency_code: str
    basis: str  # legal basis (căn cứ pháp lý) of the ending
    reason: str = ""
    holder: bool = False
    pending: bool = False
    desk: bool = False
    consulted: bool = False
    step_split: bool = False  # the holder's step was open: it splits at the cutover
    step_used_working_hours: float = 0.0  # the ended agency's part of the open step
    step_timeliness: Timeliness | None = None  # of that part: late only if it had overrun
    successor_budget_working_hours: float | None = None  # None: nothing left, no budget of its own
    step_due_at: datetime | None = None  # the open step's due instant (unchanged)


class Satisfaction(StrEnum):
    """The citizen's answer when the result is returned (mức độ hài lòng): the project's
    three-level scale (docs/decisions.md entry 80), not a legal one."""

    VERY_SATISFIED = "very_satisfied"  # rất hài lòng
    SATISFIED = "satisfied"  # hài lòng
    NOT_SATISFIED = "not_satisfied"  # không hài lòng


@dataclass(frozen=True, kw_only=True)
class SatisfactionRecorded(DossierEvent):
    """Đánh giá mức độ hài lòng: the citizen's rating of the service, once, at or after the
    result was returned (at the desk, or by the citizen through the lookup). No free text:
    a comment could carry personal data onto every topic and view."""

    rating: Satisfaction


EVENT_TYPES: dict[str, type[DossierEvent]] = {
    cls.__name__: cls
    for cls in (
        DossierSubmittedOnline,
        DossierReceived,
        DossierRefusedAtIntake,
        HandedOff,
        HandoffAccepted,
        HandoffReturned,
        ConsultationRequested,
        ConsultationAnswered,
        SupplementRequested,
        SupplementReceived,
        FeeRequested,
        FeePaid,
        ApologyIssued,
        DossierDecided,
        ResultReady,
        ResultReturned,
        DossierWithdrawn,
        ProcessingStopped,
        LegacyActivityRecorded,
        HolderSucceeded,
        SatisfactionRecorded,
        LegacyCaseRecorded,
    )
}


# --- dossier documents (thành phần hồ sơ and the result file) -----------------------------


class DocumentPurpose(StrEnum):
    COMPONENT = "component"  # a required component of the dossier, digitized
    RESULT = "result"  # the result (kết quả giải quyết) the citizen receives


@dataclass(frozen=True, kw_only=True)
class DocumentAttached(DossierEvent):
    """A file attached to the dossier: its content is in the blob store under `sha256`.

    `file_name` is sealed with the dossier's data key (a file name often names the
    applicant); `all_components_digitized` is the fact measured when it happened: every
    component the procedure required on the day of receipt has a file now.
    """

    purpose: DocumentPurpose
    component: str
    file_name: Mapping[str, Any]  # sealed (ciphertext) — never clear
    media_type: str
    size_bytes: int
    sha256: str
    all_components_digitized: bool = False


EVENT_TYPES[DocumentAttached.__name__] = DocumentAttached
EVENT_TYPES[LegacyTraceRecorded.__name__] = LegacyTraceRecorded
