"""SLA facts: what the fold keeps of each dossier and each of its steps (bước xử lý)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.procedures import SupplementPolicy

RECEIVED = "received"  # Biểu 06 proper: dossiers by the desk that received them
HANDLED = "handled"  # each agency's own steps (lượt xử lý), judged against the step budgets
SCOPES = (RECEIVED, HANDLED)

# A step's used hours are sums of float working hours; anything below this is rounding noise.
_EPSILON_HOURS = 1e-9


@dataclass(frozen=True)
class Span:
    """An overdue (or over-budget) span `(start, end]`; `end` None while it lasts."""

    start: datetime
    end: datetime | None = None

    def covers(self, at: datetime) -> bool:
        return self.start < at and (self.end is None or at <= self.end)


@dataclass(frozen=True)
class StepFacts:
    """One agency's step (bước xử lý): from receipt or acceptance to handoff or result."""

    n: int  # position among the dossier's steps
    agency_code: str
    route_index: int | None  # None: off route, no budget of its own
    entered_at: datetime
    budget_working_hours: float | None
    due_at: datetime | None
    running_since: datetime | None  # the step's clock runs since then; None: paused or left
    used_working_hours: float = 0.0  # charged in finished segments (as the events state)
    left_at: datetime | None = None
    timeliness: str | None = None  # early | on_time | late, once handed on or resolved
    closed_without_result: bool = False  # left because the dossier was withdrawn or stopped
    spans: tuple[Span, ...] = ()

    @property
    def on_route(self) -> bool:
        return self.route_index is not None

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @property
    def overrun_at(self) -> datetime | None:
        """The instant the step first went over budget (or will, if nothing happens first)."""
        return self.spans[0].start if self.spans else None

    def used_at(self, calendar: WorkingCalendar, at: datetime) -> float:
        """Working hours charged to the step up to `at` (pauses and transit excluded)."""
        if self.running_since is None or at <= self.running_since:
            return self.used_working_hours
        return self.used_working_hours + calendar.working_hours_between(self.running_since, at)


@dataclass(frozen=True)
class DossierFacts:
    dossier_id: str
    last_seq: int
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    holder_agency_code: str
    channel: str = ev.Channel.ONLINE.value
    imported: bool = False
    supplement_policy: str = SupplementPolicy.RESTART.value
    route_budgets: tuple[float, ...] = ()
    submitted_at: datetime | None = None
    # Receipt; for an online submission refused at intake, the refusal (received and closed at once).
    received_at: datetime | None = None
    due_at: datetime | None = None
    promised_at: datetime | None = None  # apology: a new appointment, still late against due_at
    resolved_at: datetime | None = None  # ResultReady
    timeliness: str | None = None  # of the resolution against due_at
    closed_at: datetime | None = None  # closed without result
    closed_as: str | None = None  # withdrawn | stopped | refused
    returned_at: datetime | None = None
    pending_handoff_to: str | None = None
    paused: str | None = None  # supplement | fee: waiting for the citizen, charged to nobody
    remaining_at_pause: float | None = None  # working hours left when the clock stopped
    spans: tuple[Span, ...] = ()
    steps: tuple[StepFacts, ...] = ()

    @property
    def is_received(self) -> bool:
        return self.received_at is not None

    @property
    def is_open(self) -> bool:
        """Received and neither resolved nor closed: in process."""
        return self.received_at is not None and self.resolved_at is None and self.closed_at is None

    @property
    def current_step(self) -> StepFacts | None:
        if self.steps and self.steps[-1].is_open:
            return self.steps[-1]
        return None

    def is_overdue_at(self, at: datetime) -> bool:
        return any(span.covers(at) for span in self.spans)
