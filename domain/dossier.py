"""The dossier (hồ sơ) state and `evolve`: how each event changes it.

`evolve` is calendar-free and total: every working-time fact it needs is carried
by the event itself (see `domain.events`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.documents import AttachedDocument
from domain.procedures import RouteStep, SupplementPolicy


class Status(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    REFUSED = "refused"
    IN_PROCESS = "in_process"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    AWAITING_FEE = "awaiting_fee"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"


# The national portal's ten status codes (Cổng dịch vụ công quốc gia).
STATUS_CODES: dict[Status, int] = {
    Status.SUBMITTED: 1,
    Status.RECEIVED: 2,
    Status.REFUSED: 3,
    Status.IN_PROCESS: 4,
    Status.AWAITING_SUPPLEMENT: 5,
    Status.AWAITING_FEE: 6,
    Status.WITHDRAWN: 7,
    Status.STOPPED: 8,
    Status.RESULT_READY: 9,
    Status.RETURNED: 10,
}

TERMINAL = frozenset({Status.RETURNED, Status.WITHDRAWN, Status.REFUSED, Status.STOPPED})
PAUSED = frozenset({Status.AWAITING_SUPPLEMENT, Status.AWAITING_FEE})


@dataclass(frozen=True)
class Step:
    """The time one agency held the dossier (bước xử lý).

    Runs from receipt/acceptance to handoff or result; `used_before` holds the
    working hours of finished segments (a pause or a return splits a step), and
    `segment_start` is None while the clock is stopped or the step is closed.
    """

    agency_code: str
    route_index: int | None  # None: off route, no budget of its own
    entered_at: datetime
    budget_working_hours: float | None
    due_at: datetime | None
    segment_start: datetime | None
    used_before: float = 0.0
    left_at: datetime | None = None
    timeliness: ev.Timeliness | None = None

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    def used_working_hours(self, calendar: WorkingCalendar, now: datetime) -> float:
        """Working hours charged to this step so far (pauses excluded)."""
        if self.segment_start is None:
            return self.used_before
        end = self.left_at or now
        return self.used_before + calendar.working_hours_between(self.segment_start, end)


@dataclass(frozen=True)
class Dossier:
    id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    holder_agency_code: str
    status: Status
    version: int
    last_occurred_at: datetime
    channel: ev.Channel = ev.Channel.ONLINE
    procedure_name: str = ""
    lookup_secret_hash: str = ""
    submitted_at: datetime | None = None
    received_at: datetime | None = None
    counting_from: datetime | None = None
    due_at: datetime | None = None
    promised_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    timeliness: ev.Timeliness | None = None
    outcome: ev.Outcome | None = None
    decision_number: str = ""
    route: tuple[RouteStep, ...] = ()
    deadline_working_hours: float = 0.0
    supplement_policy: SupplementPolicy = SupplementPolicy.RESTART
    supplement_requests: int = 0
    steps: tuple[Step, ...] = ()
    pending_handoff_to: str | None = None
    pending_handoff_at: datetime | None = None
    pending_route_step: int | None = None
    open_consultations: frozenset[str] = frozenset()
    paused_at: datetime | None = None
    remaining_working_hours: float | None = None  # dossier budget left when paused
    imported: bool = False
    procedure_version: date | None = None  # the catalogue version received under
    # Ended agencies each current agency stands for (successor -> its predecessors here), so a
    # route step addressed to an ended agency is its successor's (DOMAIN.md, succession).
    succeeded: tuple[tuple[str, str], ...] = ()
    documents: tuple[AttachedDocument, ...] = ()
    all_components_digitized: bool = False
    satisfaction: ev.Satisfaction | None = None  # the citizen's rating, once returned
    external_case_id: str | None = None  # the case id in the legacy log it was imported from

    @property
    def status_code(self) -> int:
        return STATUS_CODES[self.status]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def involved_agencies(self) -> frozenset[str]:
        """Every agency that has or had a part in the dossier: the desk, holders past and
        present, the pending receiver, agencies consulted now."""
        agencies = {self.receiving_agency_code, self.holder_agency_code, *(s.agency_code for s in self.steps)}
        agencies |= self.open_consultations
        if self.pending_handoff_to:
            agencies.add(self.pending_handoff_to)
        return frozenset(agencies)

    @property
    def current_step(self) -> Step | None:
        if self.steps and self.steps[-1].is_open:
            return self.steps[-1]
        return None

    def done_route_indices(self) -> set[int]:
        return {s.route_index for s in self.steps if s.route_index is not None and not s.is_open}

    def next_route_step_for(self, agency_code: str, succeeds: Iterable[str] = ()) -> int | None:
        """First not-yet-done route step whose agency is `agency_code`, or an ended agency it
        succeeds (`succeeds`, and the successions recorded on this dossier)."""
        names = {agency_code, *succeeds}
        names |= {ended for successor, ended in self.succeeded if successor in names}
        candidates = [index for index, step in enumerate(self.route) if step.agency_code in names]
        if not candidates:
            return None
        # Which of them are done, reading the steps only until all are found: a long imported
        # history goes back and forth between a few units, each handoff asking again.
        undone = set(candidates)
        current = self.current_step
        if current is not None:
            undone.discard(current.route_index)
        for step in self.steps:
            if not undone:
                break
            if step.route_index in undone and not step.is_open:
                undone.discard(step.route_index)
        return next((index for index in candidates if index in undone), None)

    def remaining_at(self, calendar: WorkingCalendar, now: datetime) -> float | None:
        """Working hours left until due (negative when overdue); frozen while paused; None once
        the result is ready or the dossier closed (nothing is left to count)."""
        if self.due_at is None or self.resolved_at is not None or self.closed_at is not None:
            return None
        if self.status in PAUSED and self.remaining_working_hours is not None:
            return self.remaining_working_hours
        return working_hours_until(calendar, now, self.due_at)

    def is_overdue(self, now: datetime) -> bool:
        if self.due_at is None or self.resolved_at is not None or self.is_terminal:
            return False
        if self.status in PAUSED:
            return (self.remaining_working_hours or 0.0) < 0
        return now > self.due_at


def working_hours_until(calendar: WorkingCalendar, now: datetime, due_at: datetime) -> float:
    """Working hours from `now` to `due_at`; negative (the overrun) once past due."""
    if now <= due_at:
        return calendar.working_hours_between(now, due_at)
    return -calendar.working_hours_between(due_at, now)


def classify(done_at: datetime, due_at: datetime, tz: tzinfo) -> ev.Timeliness:
    """Early: a day before the due day; on time: on the due day, not after due; late."""
    if done_at > due_at:
        return ev.Timeliness.LATE
    if done_at.astimezone(tz).date() < due_at.astimezone(tz).date():
        return ev.Timeliness.EARLY
    return ev.Timeliness.ON_TIME


if TYPE_CHECKING:
    # The type checker sees `replace` (field names and types checked); the fold runs the copy.
    from dataclasses import replace as _with
else:
    from domain.records import copy_with as _with


def _replace_current(state: Dossier, **changes: object) -> tuple[Step, ...]:
    current = state.steps[-1]
    return (*state.steps[:-1], _with(current, **changes))  # type: ignore[arg-type]


def _close_current(
    state: Dossier, at: datetime, used: float, timeliness: ev.Timeliness | None
) -> tuple[Step, ...]:
    """Steps with the open one closed at `at` (unchanged when no step is open)."""
    if state.current_step is None:
        return state.steps
    return _replace_current(state, left_at=at, used_before=used, segment_start=None, timeliness=timeliness)


def _after_processing(state: Dossier) -> Status:
    return Status.IN_PROCESS if state.status == Status.RECEIVED else state.status


def evolve(state: Dossier | None, event: ev.DossierEvent) -> Dossier:
    """Apply one event. The first event of a stream creates the state."""
    if state is None:
        return _create(event)
    state = _with(state, version=state.version + 1, last_occurred_at=event.occurred_at)
    at = event.occurred_at
    match event:
        case ev.DossierReceived():
            # Intake of an online submission.
            return _received(state, event)
        case ev.DossierRefusedAtIntake():
            # Refused at the desk after receipt: the desk's step ends there, with the refusal.
            steps = _close_current(state, at, event.step_used_working_hours, event.step_timeliness)
            return _with(state, steps=steps, status=Status.REFUSED, closed_at=at)
        case ev.HandedOff():
            steps = _close_current(state, at, event.step_used_working_hours, event.step_timeliness)
            return _with(
                state,
                steps=steps,
                status=_after_processing(state),
                pending_handoff_to=event.to_agency_code,
                pending_handoff_at=at,
                pending_route_step=event.route_step,
            )
        case ev.HandoffAccepted():
            budget = (
                state.route[event.route_step].budget_working_hours if event.route_step is not None else None
            )
            step = Step(
                agency_code=event.to_agency_code,
                route_index=event.route_step,
                entered_at=at,
                budget_working_hours=budget,
                due_at=event.step_due_at,
                segment_start=at,
            )
            return _with(
                state,
                steps=(*state.steps, step),
                holder_agency_code=event.to_agency_code,
                pending_handoff_to=None,
                pending_handoff_at=None,
                pending_route_step=None,
            )
        case ev.HandoffReturned():
            # The giver's last step reopens where it left off.
            steps = _replace_current_closed(state, event.step_due_at, at, event.to_agency_code)
            return _with(
                state,
                steps=steps,
                holder_agency_code=event.to_agency_code,
                pending_handoff_to=None,
                pending_handoff_at=None,
                pending_route_step=None,
            )
        case ev.ConsultationRequested():
            return _with(
                state,
                status=_after_processing(state),
                open_consultations=state.open_consultations | {event.consulted_agency_code},
            )
        case ev.ConsultationAnswered():
            return _with(
                state,
                open_consultations=state.open_consultations - {event.consulted_agency_code},
            )
        case ev.SupplementRequested() | ev.FeeRequested():
            status = (
                Status.AWAITING_SUPPLEMENT
                if isinstance(event, ev.SupplementRequested)
                else Status.AWAITING_FEE
            )
            steps = state.steps
            if state.current_step is not None:
                steps = _replace_current(state, used_before=event.step_used_working_hours, segment_start=None)
            return _with(
                state,
                status=status,
                steps=steps,
                paused_at=at,
                remaining_working_hours=event.remaining_working_hours,
                supplement_requests=state.supplement_requests + isinstance(event, ev.SupplementRequested),
            )
        case ev.SupplementReceived() | ev.FeePaid():
            steps = state.steps
            if state.current_step is not None:
                restart = (
                    isinstance(event, ev.SupplementReceived)
                    and state.supplement_policy == SupplementPolicy.RESTART
                )
                used = 0.0 if restart else state.steps[-1].used_before
                steps = _replace_current(state, used_before=used, segment_start=at, due_at=event.step_due_at)
            return _with(
                state,
                status=Status.IN_PROCESS,
                steps=steps,
                due_at=event.due_at,
                paused_at=None,
                remaining_working_hours=None,
            )
        case ev.ApologyIssued():
            return _with(state, promised_at=event.new_due_at, status=_after_processing(state))
        case ev.DossierDecided():
            return _with(
                state,
                outcome=event.outcome,
                decision_number=event.decision_number,
                status=_after_processing(state),
            )
        case ev.ResultReady():
            steps = _close_current(state, at, event.step_used_working_hours, event.step_timeliness)
            return _with(
                state,
                steps=steps,
                status=Status.RESULT_READY,
                resolved_at=at,
                timeliness=event.timeliness,
            )
        case ev.ResultReturned():
            return _with(state, status=Status.RETURNED, closed_at=at)
        case ev.DossierWithdrawn() | ev.ProcessingStopped():
            status = Status.WITHDRAWN if isinstance(event, ev.DossierWithdrawn) else Status.STOPPED
            steps = _close_current(state, at, event.step_used_working_hours, None)
            return _with(
                state,
                steps=steps,
                status=status,
                closed_at=at,
                pending_handoff_to=None,
                pending_handoff_at=None,
                pending_route_step=None,
            )
        case ev.LegacyActivityRecorded():
            return _with(state, status=_after_processing(state))
        case ev.HolderSucceeded():
            return _succeeded(state, event)
        case ev.DocumentAttached():
            document = AttachedDocument(
                seq=state.version,
                purpose=event.purpose,
                component=event.component,
                media_type=event.media_type,
                size_bytes=event.size_bytes,
                sha256=event.sha256,
                attached_at=at,
                agency_code=event.actor.agency_code,
            )
            return _with(
                state,
                documents=(*state.documents, document),
                all_components_digitized=state.all_components_digitized or event.all_components_digitized,
            )
        case ev.SatisfactionRecorded():
            return _with(state, satisfaction=event.rating)
        case ev.LegacyCaseRecorded():
            return _with(state, external_case_id=event.case_id)
        case ev.LegacyTraceRecorded():
            status = _after_processing(state) if event.activities else state.status
            return _with(state, external_case_id=event.case_id, status=status)
    raise TypeError(f"evolve: unexpected event {type(event).__name__} for an existing dossier")


def _succeeded(state: Dossier, event: ev.HolderSucceeded) -> Dossier:
    """The ended agency's parts pass to its successor; an open step splits at the cutover."""
    old, new, at = event.from_agency_code, event.to_agency_code, event.occurred_at
    steps = state.steps
    current = state.current_step
    if event.step_split and current is not None:
        closed = _with(
            current,
            left_at=at,
            used_before=event.step_used_working_hours,
            segment_start=None,
            timeliness=event.step_timeliness,
        )
        budget = event.successor_budget_working_hours
        successor_part = Step(
            agency_code=new,
            route_index=current.route_index if budget is not None else None,
            entered_at=at,
            budget_working_hours=budget,
            due_at=event.step_due_at if budget is not None else None,
            segment_start=None if state.status in PAUSED else at,
        )
        steps = (*steps[:-1], closed, successor_part)
    return _with(
        state,
        steps=steps,
        holder_agency_code=new if event.holder else state.holder_agency_code,
        pending_handoff_to=new if event.pending else state.pending_handoff_to,
        receiving_agency_code=new if event.desk else state.receiving_agency_code,
        open_consultations=(state.open_consultations - {old}) | {new}
        if event.consulted
        else state.open_consultations,
        succeeded=(*state.succeeded, (new, old)),
    )


def _replace_current_closed(
    state: Dossier, step_due_at: datetime | None, at: datetime, giver: str | None = None
) -> tuple[Step, ...]:
    if not state.steps:
        return state.steps
    last = state.steps[-1]
    if giver is not None and last.agency_code != giver:
        # The giver ended while its handoff was in transit: its successor takes the step back
        # with what was left of the budget (the ended agency's part stays closed).
        left = None if last.budget_working_hours is None else last.budget_working_hours - last.used_before
        budgeted = left is not None and left > 0
        successor_part = Step(
            agency_code=giver,
            route_index=last.route_index if budgeted else None,
            entered_at=at,
            budget_working_hours=left if budgeted else None,
            due_at=step_due_at if budgeted else None,
            segment_start=at,
        )
        return (*state.steps, successor_part)
    reopened = _with(last, left_at=None, timeliness=None, segment_start=at, due_at=step_due_at)
    return (*state.steps[:-1], reopened)


def _create(event: ev.DossierEvent) -> Dossier:
    match event:
        case ev.DossierSubmittedOnline():
            return Dossier(
                id=event.dossier_id,
                receipt_code=event.receipt_code,
                procedure_code=event.procedure_code,
                procedure_name=event.procedure_name,
                receiving_agency_code=event.receiving_agency_code,
                holder_agency_code=event.receiving_agency_code,
                status=Status.SUBMITTED,
                version=1,
                last_occurred_at=event.occurred_at,
                channel=ev.Channel.ONLINE,
                lookup_secret_hash=event.lookup_secret_hash,
                submitted_at=event.occurred_at,
            )
        case ev.DossierReceived():
            blank = Dossier(
                id=event.dossier_id,
                receipt_code=event.receipt_code,
                procedure_code=event.procedure_code,
                receiving_agency_code=event.receiving_agency_code,
                holder_agency_code=event.receiving_agency_code,
                status=Status.RECEIVED,
                version=1,
                last_occurred_at=event.occurred_at,
            )
            return _received(blank, event)
    raise TypeError(f"a dossier stream cannot start with {type(event).__name__}")


def _received(state: Dossier, event: ev.DossierReceived) -> Dossier:
    first = Step(
        agency_code=event.receiving_agency_code,
        route_index=0,
        entered_at=event.occurred_at,
        budget_working_hours=event.route[0].budget_working_hours,
        due_at=event.step_due_at,
        segment_start=event.counting_from,
    )
    return _with(
        state,
        receipt_code=event.receipt_code,
        procedure_code=event.procedure_code,
        procedure_name=event.procedure_name,
        channel=event.channel,
        receiving_agency_code=event.receiving_agency_code,
        holder_agency_code=event.receiving_agency_code,
        lookup_secret_hash=event.lookup_secret_hash,
        status=Status.RECEIVED,
        received_at=event.occurred_at,
        counting_from=event.counting_from,
        due_at=event.due_at,
        route=event.route,
        deadline_working_hours=event.deadline_working_hours,
        supplement_policy=event.supplement_policy,
        steps=(first,),
        imported=event.imported,
        procedure_version=event.procedure_version,
    )


def fold(events: Iterable[ev.DossierEvent], as_of: datetime | None = None) -> Dossier | None:
    """The state after `events` (only those that occurred at or before `as_of`)."""
    state: Dossier | None = None
    for event in events:
        if as_of is not None and event.occurred_at > as_of:
            break
        state = evolve(state, event)
    return state
