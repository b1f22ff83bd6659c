"""A whole imported trace decided at once: the bulk path of an import of legacy history.

`decide_trace` takes what an importer read of one trace of a legacy log — the receipt that
opens the dossier, the case record, then each event in time order — and returns every
event the dossier's stream gets, as the per-event path gets them by deciding one command
at a time (`domain.decide.decide`, then `evolve`): the same rules, the same events. It is
the per-event path with the folding that legacy activities do not need taken out:

- the receipt, the case record, handoffs and their acceptance, and the lifecycle events a
  lienthong export names are decided by `decide` on the folded state, as always (a handoff
  and its acceptance fold through `evolve`, like every event), save one case: a change of
  group on a running dossier that no handoff holds, where the rules are sure to allow both,
  gives the handoff and its acceptance as `decide` gives them, folded with one copy of the
  state (`_handed_over`; tests/unit/test_synthesized_handoff.py holds it to the commands);
- a legacy activity is built as `decide` builds it, without a command: its guards
  (imported history, time never going backwards, an activity named) are checked here;
  its actor is always of the integration role, the only one that records legacy history.
  It folds as `evolve` folds it (the version and the last event's time move on, a received
  dossier is being processed) with one copy of the state instead of two: more than half
  the events of a legacy log are such activities.

Anything the rules refuse is counted under the same reasons the per-event importer gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from domain import commands as cmd
from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, Status, Step, classify, evolve
from domain.errors import DomainError, InvalidValue, RuleViolated
from domain.guards import INTEGRATION
from domain.legacy import SYNTHESIZED_USER, RecordLegacyCase

if TYPE_CHECKING:
    # As in domain.dossier: the type checker sees `replace`, the fold runs the copy.
    from dataclasses import replace as _with
else:
    from domain.records import copy_with as _with

# Why an event did not map one to one (keys of an import report's `unmapped`).
NO_GROUP = "no org:group recorded (or EMPTY): event kept at the agency holding the dossier"
HANDOFF_REFUSED = "org:group change refused by the rules: no handoff synthesized"
NO_ACTIVITY = "event without concept:name: recorded as activity '(unnamed)'"
UNNAMED = "(unnamed)"

SYNTHESIZED = ev.Actor(agency_code="", user=SYNTHESIZED_USER, role=INTEGRATION)
"""The actor of the events an import adds (the integration role acts for each agency)."""


def replay_refused(activity: str) -> str:
    """The reason given when the rules refuse a lifecycle event a lienthong export names."""
    return f"{activity} refused by the rules: recorded as legacy"


@dataclass(frozen=True)
class RememberingCalendar(WorkingCalendar):
    """A working calendar that remembers the working day after each day it was asked about
    (every receipt of an import counts its due date some fifteen working days on, walking the
    same days as the receipts of the same week) and the last due instant it counted. Same
    answers as the calendar it copies."""

    _after: dict[date, date] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    # The last due instant counted: a receipt counts the dossier's and its first step's due
    # from the same start, and an imported procedure gives both the same hours.
    _last: list[tuple[datetime, float, datetime]] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        last = self._last
        if last and last[0][0] == start and last[0][1] == hours:
            return last[0][2]
        due = super().add_working_hours(start, hours)
        last[:] = [(start, hours, due)]
        return due

    def next_working_day(self, day: date) -> date:
        after = self._after.get(day)
        if after is None:
            if len(self._after) >= REMEMBERED_DAYS:
                self._after.clear()
            after = self._after[day] = super().next_working_day(day)
        return after


REMEMBERED_DAYS = 4096  # days remembered at most (an import's memory stays bounded)


def remembering(calendar: WorkingCalendar) -> RememberingCalendar:
    """`calendar`, remembering (see `RememberingCalendar`)."""
    return RememberingCalendar(**{f.name: getattr(calendar, f.name) for f in fields(calendar) if f.init})


@dataclass(frozen=True)
class TraceStep:
    """One event of the trace, in time order."""

    at: datetime
    activity: str  # "" when the log names none
    group: str | None  # the agency code of its org:group; None when none is recorded
    user: str  # the actor's user the event is recorded under
    resource: str
    original: Mapping[str, Any]  # its attributes as the log wrote them (typed)
    # A lienthong lifecycle event to replay instead (an exported log), or why it cannot be.
    replay: cmd.Command | None = None
    replay_problem: str | None = None

    @property
    def replays(self) -> bool:
        return self.replay is not None or self.replay_problem is not None


@dataclass
class DecidedTrace:
    """The stream of one imported dossier and what became of its events."""

    events: list[ev.DossierEvent]
    state: Dossier
    mapped: int = 0  # lifecycle events replayed
    legacy: int = 0  # recorded as legacy activities
    synthesized: int = 0  # handoffs and acceptances read off org:group
    handoffs_inferred: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)


def decide_trace(
    receipt: cmd.ReceiveDossier,
    case: RecordLegacyCase,
    steps: Sequence[TraceStep],
    calendar: WorkingCalendar,
    *,
    follow_groups: bool,
) -> DecidedTrace:
    """Every event of an imported trace's dossier, in order. `follow_groups`: a change of
    group is a handoff (not for a lienthong export, which states its handoffs). Raises the
    domain's error when the receipt or the case record is refused (no dossier)."""
    return replay_steps(open_trace(receipt, case, calendar), steps, calendar, follow_groups=follow_groups)


def open_trace(
    receipt: cmd.ReceiveDossier, case: RecordLegacyCase, calendar: WorkingCalendar
) -> DecidedTrace:
    """The dossier's receipt and case record (the domain's error if either is refused)."""
    events = decide(None, receipt, calendar)
    state = _fold(None, events)
    recorded = decide(state, case, calendar)
    events.extend(recorded)
    return DecidedTrace(events, _fold(state, recorded))


def replay_steps(
    out: DecidedTrace, steps: Sequence[TraceStep], calendar: WorkingCalendar, *, follow_groups: bool
) -> DecidedTrace:
    """The trace's events after its receipt, added to `out`."""
    for step in steps:
        if step.replays:
            if _replayed(out, step, calendar):
                continue
        elif follow_groups and step.group is not None and step.group != out.state.holder_agency_code:
            _follow_group(out, step.group, step.at, calendar)
        if step.group is None:
            out.unmapped[NO_GROUP] += 1
        _legacy(out, step)
    return out


def _fold(state: Dossier | None, events: list[ev.DossierEvent]) -> Dossier:
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return state


def _apply(out: DecidedTrace, command: cmd.Command, calendar: WorkingCalendar) -> None:
    decided = decide(out.state, command, calendar)
    out.state = _fold(out.state, decided)
    out.events.extend(decided)


def _replayed(out: DecidedTrace, step: TraceStep, calendar: WorkingCalendar) -> bool:
    if step.replay is None:
        assert step.replay_problem is not None
        out.unmapped[step.replay_problem] += 1
        return False
    try:
        _apply(out, step.replay, calendar)
    except DomainError:
        out.unmapped[replay_refused(step.activity)] += 1
        return False
    out.mapped += 1
    return True


def _follow_group(out: DecidedTrace, group: str, at: datetime, calendar: WorkingCalendar) -> None:
    """The dossier moved to another unit: hand off and accept at this event's time
    (synthesized: the log records no transit)."""
    if _handed_over(out, group, at, calendar):
        return
    actor = SYNTHESIZED
    try:
        if out.state.pending_handoff_to is None:
            _apply(out, cmd.HandOff(actor=actor, occurred_at=at, to_agency_code=group), calendar)
            out.handoffs_inferred += 1
            out.synthesized += 1
        if out.state.pending_handoff_to == group:
            _apply(out, cmd.AcceptHandoff(actor=actor, occurred_at=at), calendar)
            out.synthesized += 1
    except DomainError:
        out.unmapped[HANDOFF_REFUSED] += 1


_RUNNING = (Status.RECEIVED, Status.IN_PROCESS)


def _handed_over(out: DecidedTrace, group: str, at: datetime, calendar: WorkingCalendar) -> bool:
    """The synthesized handoff and its acceptance, when the rules are sure to allow both:
    the events `decide` gives for them (`domain.handoffs.hand_off`, then `accept`) and the
    state `evolve` folds from them, with one copy of the state. False (nothing done) in any
    other case, which `_follow_group` leaves to `decide`."""
    state = out.state
    holder = state.holder_agency_code
    if (
        state.pending_handoff_to is not None
        or state.status not in _RUNNING
        or at < state.last_occurred_at
        or not group
        or group != group.strip()
        or group == holder
    ):
        return False
    steps = state.steps
    used, timeliness = 0.0, None
    if steps and steps[-1].left_at is None:
        current = steps[-1]
        used = current.used_working_hours(calendar, at)
        if current.due_at is not None:
            timeliness = classify(at, current.due_at, calendar.tz)
        steps = (
            *steps[:-1],
            _with(current, left_at=at, used_before=used, segment_start=None, timeliness=timeliness),
        )
    index = state.next_route_step_for(group)
    budget = state.route[index].budget_working_hours if index is not None else None
    step_due = calendar.add_working_hours(at, budget) if budget is not None else None
    handed = ev.HandedOff(
        occurred_at=at,
        actor=ev.Actor(agency_code=holder, user=SYNTHESIZED_USER, role=INTEGRATION),
        from_agency_code=holder,
        to_agency_code=group,
        route_step=index,
        note="",
        step_used_working_hours=used,
        step_timeliness=timeliness,
    )
    accepted = ev.HandoffAccepted(
        occurred_at=at,
        actor=ev.Actor(agency_code=group, user=SYNTHESIZED_USER, role=INTEGRATION),
        from_agency_code=holder,
        to_agency_code=group,
        route_step=index,
        step_due_at=step_due,
    )
    entered = Step(
        agency_code=group,
        route_index=index,
        entered_at=at,
        budget_working_hours=budget,
        due_at=step_due,
        segment_start=at,
    )
    out.state = _with(
        state,
        version=state.version + 2,
        last_occurred_at=at,
        status=Status.IN_PROCESS,
        steps=(*steps, entered),
        holder_agency_code=group,
        pending_handoff_at=None,
        pending_route_step=None,
    )
    out.events.append(handed)
    out.events.append(accepted)
    out.handoffs_inferred += 1
    out.synthesized += 2
    return True


def _legacy(out: DecidedTrace, step: TraceStep) -> None:
    """`decide` on a RecordLegacyActivity, without building the command."""
    state = out.state
    activity = step.activity
    if not activity:
        activity = UNNAMED
        out.unmapped[NO_ACTIVITY] += 1
    if step.at < state.last_occurred_at:
        raise RuleViolated(
            f"occurred_at {step.at.isoformat()} is before the dossier's last event "
            f"({state.last_occurred_at.isoformat()}); event times never go backwards"
        )
    if not state.imported:
        raise RuleViolated("legacy activities belong only to imported history")
    activity = activity.strip()
    if not activity:
        raise InvalidValue("activity must not be empty")
    agency = step.group or state.holder_agency_code
    event = ev.LegacyActivityRecorded(
        occurred_at=step.at,
        actor=ev.Actor(agency_code=agency, user=step.user, role=INTEGRATION),
        activity=activity,
        agency_code=agency,
        resource=step.resource,
        attributes={},
        original=dict(step.original),
    )
    out.state = _legacy_folded(state, event)
    out.events.append(event)
    out.legacy += 1


def _legacy_folded(state: Dossier, event: ev.LegacyActivityRecorded) -> Dossier:
    """`evolve(state, event)` for a legacy activity, with one copy of the state."""
    status = Status.IN_PROCESS if state.status == Status.RECEIVED else state.status
    return _with(state, version=state.version + 1, last_occurred_at=event.occurred_at, status=status)
