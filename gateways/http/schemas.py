"""The typed contract of every JSON answer: what the OpenAPI document declares for each 2xx
(the reports' answers are in gateways/http/report_schemas.py).

The routes still build plain dicts and answer them with orjson (no second validation per
request); these models only describe the bodies. That they describe them truly is tested:
Schemathesis checks every answer of the real server against the document, and
`tests/e2e/test_contract.py` checks that every JSON operation declares one of these models.
Fields are closed (`additionalProperties: false`): a field a route starts to return must be
declared here first, or the contract tests fail.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateways.audit.chains import FAULT_KINDS

Status = Literal[
    "submitted",
    "received",
    "refused",
    "in_process",
    "awaiting_supplement",
    "awaiting_fee",
    "result_ready",
    "returned",
    "withdrawn",
    "stopped",
]
ChannelName = Literal["online", "direct", "postal"]
TimelinessName = Literal["early", "on_time", "late"]
Cursor = str | None


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def answers(model: type[BaseModel], status: int = 200, description: str = "") -> dict[str, Any]:
    """Decorator arguments that declare `model` as the body of the route's success answer
    without FastAPI validating and re-serialising every body against it at run time."""
    answer: dict[str, Any] = {"model": model}
    if description:
        answer["description"] = description
    return {"response_model": None, "responses": {status: answer}}


# --- dossiers -----------------------------------------------------------------------------------


class Step(Model):
    agency_code: str
    route_step: int | None = Field(description="index in the procedure's route; null off route")
    off_route: bool
    entered_at: datetime
    left_at: datetime | None
    due_at: datetime | None
    budget_working_hours: float | None
    used_working_hours: float
    timeliness: TimelinessName | None


class RouteStep(Model):
    agency_code: str
    budget_working_hours: float


class Dossier(Model):
    """The dossier representation (API.md) that commands answer and reads show."""

    id: str = Field(description="a UUID")
    receipt_code: str
    procedure_code: str
    procedure_name: str | None
    channel: ChannelName
    status: Status
    status_code: int = Field(ge=1, le=10)
    receiving_agency_code: str | None
    holder_agency_code: str | None
    submitted_at: datetime | None
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    outcome: Literal["approved", "rejected"] | None
    decision_number: str | None
    timeliness: TimelinessName | None
    overdue: bool
    remaining_working_hours: float | None
    imported: bool
    external_case_id: str | None = Field(
        default=None, description="imported history: the case id in the legacy log it came from"
    )
    version: int
    steps: list[Step]
    route: list[RouteStep]
    pending_handoff_to: str | None
    open_consultations: list[str]
    allowed_actions: list[str] = Field(description="commands the caller may send now (writers only)")


class DossierAnswer(Dossier):
    """A command's answer: the dossier; a new dossier's carries its lookup secret, once."""

    lookup_secret: str | None = Field(default=None, description="only in the answer that created it")
    lookup_secret_note: str | None = None


class DossierState(Dossier):
    as_of: datetime | None = Field(description="the instant asked for, null for now")


class DossierSummary(Model):
    """A row of search results (from the dossier index)."""

    id: str
    receipt_code: str
    procedure_code: str
    channel: str
    status: Status
    status_code: int
    receiving_agency_code: str | None
    holder_agency_code: str | None
    pending_handoff_to: str | None
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    timeliness: TimelinessName | None
    overdue: bool
    remaining_working_hours: float | None
    imported: bool = Field(description="imported legacy history (its time left is the log's, not live)")
    case_id: str | None = Field(
        default=None, description="imported history: the case id in the legacy log it came from"
    )
    version: int


class InboxItem(DossierSummary):
    incoming: bool = Field(description="handed to this agency, not accepted yet")


class DossierPage(Model):
    items: list[DossierSummary]
    next_cursor: Cursor
    view_position: int


class ConsultationItem(DossierSummary):
    consultation_requested_at: datetime = Field(description="when this agency's opinion was asked")


class InboxTotals(Model):
    incoming: int = Field(description="handed to this agency, not accepted yet")
    active: int = Field(description="held by this agency, not in transit")
    sent: int = Field(description="handed by this agency to another, not accepted yet")
    consultations: int = Field(description="waiting for this agency's opinion")


class InboxPage(Model):
    items: list[InboxItem] = Field(description="the open dossiers, the `limit` due soonest")
    total: int = Field(description="every open dossier of the agency (items are at most `limit` of them)")
    totals: InboxTotals
    consultations: list[ConsultationItem] = Field(
        description="dossiers held elsewhere that wait for this agency's opinion, the longest waiting first"
    )
    next_cursor: Cursor
    view_position: int


class Event(Model):
    event_id: str
    seq: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    agency_code: str | None
    actor: dict[str, Any]
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    schema_version: int


class EventPage(Model):
    items: list[Event]
    next_cursor: Cursor


class ControlSheetRow(Model):
    seq: int
    from_agency_code: str
    to_agency_code: str
    handed_at: datetime | None
    accepted_at: datetime | None
    returned_at: datetime | None
    return_reason: str | None
    step_timeliness: str | None
    step_used_working_hours: float
    step_budget_working_hours: float | None
    step_overrun_working_hours: float | None
    off_route: bool
    note: str | None
    succession: bool = Field(
        description="the row is a succession (the ended agency's part moved to its heir)"
    )
    succeeded_by: str | None = Field(description="the agency that succeeded the giver, when it ended")


class ControlSheet(Model):
    """Phiếu kiểm soát quá trình giải quyết hồ sơ."""

    dossier_id: str
    receipt_code: str | None
    procedure_code: str | None
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None
    timeliness: str | None
    rows: list[ControlSheetRow]


class WhereNow(Model):
    agency_code: str | None
    agency_name: str | None


class Lookup(Model):
    """What the citizen sees with the receipt code and the secret."""

    receipt_code: str
    procedure_code: str
    procedure_name: str | None
    status: Status
    status_code: int
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    where: WhereNow
    in_transit_to: str | None
    in_transit_to_name: str | None = None


# --- catalogue ----------------------------------------------------------------------------------

AgencyLevelName = Literal["central", "province", "province_department", "district", "commune"]


class Successor(Model):
    code: str
    valid_from: date
    share: float | None = Field(description="share of the territory taken over; null: not known")


class Agency(Model):
    code: str
    name: str
    level: str
    parent_code: str | None
    valid_from: date | None
    valid_to: date | None
    successors: list[Successor] = Field(description="who takes over once it ends (valid_to)")
    basis: str = Field(description="legal basis of the ending (căn cứ pháp lý); empty if none")
    legacy: bool = Field(
        description="a unit an import of legacy history made of a log's group: it holds imported "
        "history only, and no live dossier is received at or handed off to it"
    )


class AgencyVersions(Agency):
    versions: list[Agency] = Field(description="every version, oldest first")


class AgencyPage(Model):
    items: list[Agency]
    next_cursor: Cursor


class Component(Model):
    """A required component (thành phần hồ sơ) of a procedure."""

    name: str
    copies: int
    form: Literal["original", "copy", "original_or_copy"]
    effective_from: date | None
    effective_to: date | None


class Procedure(Model):
    code: str
    name: str
    field: str
    deadline_working_hours: float
    supplement_policy: Literal["restart", "pause"]
    route: list[RouteStep]
    valid_from: date | None = Field(description="the version is in force from this day; null: since ever")
    fee_vnd: int = Field(description="lệ phí per dossier, in đồng; 0: free")
    components: list[Component]


class ProcedureVersions(Procedure):
    """The version asked for (in force `on` a day, else the latest) and every version."""

    versions: list[Procedure] = Field(description="every version, oldest first")


class ProcedurePage(Model):
    items: list[Procedure]
    next_cursor: Cursor


# --- audit --------------------------------------------------------------------------------------


class Fault(BaseModel):
    """The first fault a verification found; besides these, the values its reason names
    (`checkpoint`, `leaf`, `found_seq`, `owner`, `stored_root`, `kept_root`, …) as fields."""

    model_config = ConfigDict(extra="allow")

    dossier_id: str | None
    seq: int | None
    kind: str = Field(
        description="what is wrong, for a reader in any language: " + ", ".join(sorted(FAULT_KINDS))
    )
    reason: str = Field(description="the same in English, with its values")


class Verification(Model):
    ok: bool
    checked_events: int
    checkpoints_checked: int
    last_checkpoint: int | None
    covered_events: int
    uncovered_events: int
    kept_checked: int = Field(
        description="checkpoints kept outside the system (kept_checkpoint, kept_root) found stored as kept"
    )
    first_bad: Fault | None = None


class Checkpoint(Model):
    n: int
    size: int
    last_notification_id: int
    root: str
    created_at: datetime
    signature: str
    signature_algorithm: Literal["Ed25519"]
    key_id: str
    signed_message: str


class CheckpointPage(Model):
    items: list[Checkpoint]
    next_cursor: Cursor


class RetiredKey(Model):
    key_id: str
    public_key_base64: str


class PublicKey(Model):
    algorithm: Literal["Ed25519"]
    key_id: str
    public_key_pem: str
    public_key_base64: str
    retired_keys: list[RetiredKey]
    signed_message_format: str
    leaf_encoding: str
    tree: str


class InclusionProof(Model):
    dossier_id: str
    seq: int
    event_hash: str
    leaf_hash: str
    leaf_encoding: str
    leaf_index: int
    tree_size: int
    path: list[str]
    checkpoint_n: int
    checkpoint: Checkpoint


# --- system, privacy, demo ----------------------------------------------------------------------


class WorkingTime(Model):
    start: datetime
    hours: float | None = None
    due_at: datetime | None = None
    end: datetime | None = None
    working_hours: float | None = None


class Health(Model):
    status: Literal["ok"]


class Readiness(Model):
    status: str
    event_store: Literal["ok", "unreachable"]
    kafka: str
    view_position: int


class Forgotten(Model):
    erased: list[str]
    already_erased: list[str]
    count: int
    files_erased: int = Field(default=0, description="stored files deleted with them (absent: none)")


class DemoToken(Model):
    token: str
    token_type: Literal["Bearer"]
    role: str
    agency_code: str | None
    expires_at: datetime


class DemoAgencies(Model):
    items: list[Agency]
    home: str | None = Field(description="the agency the picker starts on")
    roles: list[str]
    agency_roles: list[str]
    next_cursor: Cursor


# --- dossier files --------------------------------------------------------------------------------


class Document(Model):
    """A file attached to a dossier (a component, or the result)."""

    seq: int = Field(description="the event that attached it")
    purpose: Literal["component", "result"]
    component: str
    file_name: str | None = Field(description="null once the applicant's personal data was erased")
    media_type: str
    size_bytes: int
    sha256: str
    attached_at: datetime
    agency_code: str
    href: str


class Attached(Model):
    dossier_id: str
    version: int
    document: Document
    all_components_digitized: bool
    already_attached: bool = Field(description="this content was attached before: nothing recorded")


class ComponentFiles(Model):
    name: str
    copies: int
    form: Literal["original", "copy", "original_or_copy"]
    files: int
    digitized: bool


class DossierFiles(Model):
    dossier_id: str
    receipt_code: str
    version: int
    items: list[Document]
    components: list[ComponentFiles] = Field(description="the procedure's components in force for it")
    all_components_digitized: bool


# --- indicators and satisfaction ------------------------------------------------------------------


class SatisfactionRecorded(Model):
    receipt_code: str
    rating: Literal["very_satisfied", "satisfied", "not_satisfied"]
    recorded_at: datetime
