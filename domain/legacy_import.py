"""A whole imported trace decided at once: the bulk path of an import of legacy history.

`decide_trace` takes what an importer read of one trace of a legacy log — the receipt that
opens the dossier, the case record, then each event in time order — and returns every
event the dossier's stream gets, with the domain's rules (`domain.decide.decide`, then
`evolve`), as the per-event path gets them with one command at a time:

- the receipt is decided as any receipt;
- a trace of a foreign log becomes one `LegacyTraceRecorded` (`domain.legacy.record_trace`):
  its case and every event, each at the unit its `org:group` names (an event naming none
  happened where the last one named was, the receiving desk at first);
- a trace of a log lienthong exported (it names lienthong's own events) gets its case record,
  then each lifecycle event replayed through `decide`; an event that maps to none is a legacy
  activity, built as `decide` builds it without a command: its guards (imported history, time
  never going backwards, an activity named) are checked here, and it folds as `evolve` folds it
  with one copy of the state instead of two.

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
from domain.dossier import Dossier, Status, evolve
from domain.errors import DomainError, InvalidValue, RuleViolated
from domain.guards import INTEGRATION
from domain.legacy import SYNTHESIZED_USER, LegacyStep, RecordLegacyCase, RecordLegacyTrace

if TYPE_CHECKING:
    # As in domain.dossier: the type checker sees `replace`, the fold runs the copy.
    from dataclasses import replace as _with
else:
    from domain.records import copy_with as _with

# Why an event did not map one to one (keys of an import report's `unmapped`).
NO_GROUP = "no org:group recorded (or EMPTY): event kept at the agency holding the dossier"
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
    and the day so many working days after it (every receipt of an import counts its due date
    some fifteen working days on, from the same days as the receipts of the same week), and the
    last due instant it counted. Same answers as the calendar it copies."""

    _after: dict[date, date] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    # (day, n) -> the n-th working day after it: a due date is so many whole days on.
    _days_after: dict[tuple[date, int], date] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
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

    def working_days_after(self, day: date, n: int) -> date:
        key = (day, n)
        after = self._days_after.get(key)
        if after is None:
            if len(self._days_after) >= REMEMBERED_DAYS:
                self._days_after.clear()
            after = self._days_after[key] = super().working_days_after(day, n)
        return after

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
    unmapped: Counter[str] = field(default_factory=Counter)


def decide_trace(
    receipt: cmd.ReceiveDossier,
    case: RecordLegacyCase,
    steps: Sequence[TraceStep],
    calendar: WorkingCalendar,
    *,
    exported: bool,
) -> DecidedTrace:
    """Every event of an imported trace's dossier, in order (`exported`: the trace is of a log
    lienthong exported). Raises the domain's error when the receipt, the case record or the
    trace is refused (no dossier)."""
    return record_steps(open_trace(receipt, calendar), case, steps, calendar, exported=exported)


def open_trace(receipt: cmd.ReceiveDossier, calendar: WorkingCalendar) -> DecidedTrace:
    """The dossier's receipt (the domain's error if it is refused)."""
    events = decide(None, receipt, calendar)
    return DecidedTrace(events, _fold(None, events))


def record_steps(
    out: DecidedTrace,
    case: RecordLegacyCase,
    steps: Sequence[TraceStep],
    calendar: WorkingCalendar,
    *,
    exported: bool,
) -> DecidedTrace:
    """The trace's case and events after its receipt, added to `out`: a foreign log's trace in
    one `LegacyTraceRecorded`; a trace of a log lienthong exported (`exported`: it names its own
    events) event by event, as it was stored. Raises the domain's error when the case or the
    whole trace is refused."""
    if exported:
        _apply(out, case, calendar)
        return replay_steps(out, steps, calendar)
    _apply(out, trace_command(case, steps, out.state.holder_agency_code, out.unmapped), calendar)
    out.legacy += len(steps)
    return out


def trace_command(
    case: RecordLegacyCase, steps: Sequence[TraceStep], desk: str, unmapped: Counter[str]
) -> RecordLegacyTrace:
    """The command recording a foreign log's trace in one event: its case, and each event at
    the unit its group names (else where the last one named was; `desk` at first). Counts in
    `unmapped` the events without a name or a group."""
    holder = desk
    recorded = []
    at = case.occurred_at
    for step in steps:
        activity = step.activity
        if not activity.strip():
            activity = UNNAMED
            unmapped[NO_ACTIVITY] += 1
        if step.group is None:
            unmapped[NO_GROUP] += 1
        else:
            holder = step.group
        recorded.append(LegacyStep(step.at, activity, holder, step.user, step.resource, step.original))
        at = max(at, step.at)
    return RecordLegacyTrace(
        actor=case.actor,
        occurred_at=at,
        case_id=case.case_id,
        attributes=case.attributes,
        steps=recorded,
    )


def replay_steps(out: DecidedTrace, steps: Sequence[TraceStep], calendar: WorkingCalendar) -> DecidedTrace:
    """The events of a lienthong export's trace after its receipt and case, added to `out`:
    its lifecycle events replayed, the others recorded as legacy activities."""
    for step in steps:
        if step.replays and _replayed(out, step, calendar):
            continue
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
