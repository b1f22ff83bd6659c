"""The bottleneck fold: one dossier's flow (who holds it since when, the handoff in transit)
and the facts each event makes; `apply` event by event, `fold_batch` a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.procedures import SupplementPolicy
from projections.bottleneck.days import day_number
from projections.bottleneck.facts import (
    ARRIVALS,
    COMPLETIONS,
    CONSULTATIONS,
    IN_TRANSIT,
    OVERDUE,
    RETURNS,
    SUPPLEMENTS,
    WIP,
    Fact,
    FactList,
    FactSink,
    Kind,
    StayRecord,
    Subject,
    Totals,
    TransitRecord,
)
from projections.bottleneck.histogram import _MS_PER_HOUR

if TYPE_CHECKING:
    from dataclasses import replace
else:  # the folds' copies: domain/records.py
    from domain.records import copy_with as replace


@dataclass(frozen=True)
class Stay:
    no: int
    agency_code: str
    route_step: int | None
    entered_at: datetime
    carried_hours: float = 0.0  # hours before a restart-policy supplement reset the step
    used_hours: float = 0.0  # the step's used hours as the events last reported them
    calendar_ms: int = 0  # wall-clock ms of finished running segments
    running_since: datetime | None = None  # None while paused, handed off, or closed
    working_since: datetime | None = None  # the same, but intake counts from `counting_from`
    left_at: datetime | None = None  # handed off (until accepted) or closed
    overdue_from: datetime | None = None  # when counted as overdue (+1 is on its day)


@dataclass(frozen=True)
class Transit:
    seq: int
    from_agency_code: str
    to_agency_code: str
    handed_at: datetime
    off_route: bool


@dataclass(frozen=True)
class Flow:
    dossier_id: str
    receipt_code: str
    procedure_code: str
    restart_on_supplement: bool = True
    stays: int = 0  # stays opened so far
    stay: Stay | None = None  # the open stay, or the one handed off and not yet accepted
    transit: Transit | None = None


_AGENCIES: dict[str, Subject] = {}


def _agency(code: str) -> Subject:
    """The agency's subject (one tuple per agency: every tally of a batch keys on it)."""
    subject = _AGENCIES.get(code)
    if subject is None:
        subject = _AGENCIES[code] = Subject(Kind.AGENCY, code)
    return subject


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


def _hours_ms(hours: float) -> int:
    return round(hours * _MS_PER_HOUR)


class _Fold:
    """One event's fold: the flow's parts as they change, and the facts the changes produce."""

    def __init__(self, flow: Flow, calendar: WorkingCalendar, sink: FactSink) -> None:
        self.flow = flow
        self.stay = flow.stay
        self.transit = flow.transit
        self.stays = flow.stays
        self.calendar = calendar
        self.sink = sink
        self.at = datetime.min  # the event being folded: set by `_take`
        self.today = 0

    def result(self) -> Flow:
        return replace(self.flow, stays=self.stays, stay=self.stay, transit=self.transit)

    def day(self, at: datetime) -> int:
        return day_number(at, self.calendar.tz)

    def tally(self, agency: str, name: str, amount: int = 1, day: int | None = None) -> None:
        self.sink.tally(_agency(agency), self.today if day is None else day, name, amount)

    # -- stays -----------------------------------------------------------------------------
    def record(self, stay: Stay) -> None:
        """The stay as it stands now becomes the open stay, and its drill-down row."""
        self.stay = stay
        f = self.flow
        self.sink.record(
            StayRecord(
                dossier_id=f.dossier_id,
                stay_no=stay.no,
                agency_code=stay.agency_code,
                procedure_code=f.procedure_code,
                route_step=stay.route_step,
                receipt_code=f.receipt_code,
                entered_at=stay.entered_at,
                left_at=stay.left_at,
                left_day=self.day(stay.left_at) if stay.left_at else None,
                working_ms=_hours_ms(stay.carried_hours + stay.used_hours),
                calendar_ms=stay.calendar_ms,
                running_since=stay.working_since,
            )
        )

    def samples(self, stay: Stay, weight: int) -> None:
        """A finished stay's completion and dwell sample (weight -1: taken back)."""
        assert stay.left_at is not None
        day = self.day(stay.left_at)
        working = _hours_ms(stay.carried_hours + stay.used_hours)
        self.sink.sample(_agency(stay.agency_code), day, working, stay.calendar_ms, weight)
        if stay.route_step is not None:
            step = Subject(Kind.STEP, stay.agency_code, self.flow.procedure_code, stay.route_step)
            self.sink.sample(step, day, working, stay.calendar_ms, weight)
        self.tally(stay.agency_code, COMPLETIONS, weight, day)

    def open(
        self, agency: str, route_step: int | None, due: datetime | None, counting_from: datetime | None = None
    ) -> None:
        self.stays += 1
        stay = Stay(no=self.stays, agency_code=agency, route_step=route_step, entered_at=self.at)
        self.tally(agency, ARRIVALS)
        self.tally(agency, WIP)
        self.record(self.running(stay, due, counting_from))

    def running(self, stay: Stay, due: datetime | None, counting_from: datetime | None = None) -> Stay:
        """The stay's clock runs from now, against `due` (a step due instant or None)."""
        overdue_from = stay.overdue_from
        if overdue_from is not None and (due is None or due > self.at):
            self.end_overdue(stay)  # a restarted budget is no longer overrun
            overdue_from = None
        if overdue_from is None and due is not None:
            overdue_from = max(due, self.at)
            self.tally(stay.agency_code, OVERDUE, 1, self.day(overdue_from))
        working_since = max(counting_from, self.at) if counting_from else self.at
        return replace(stay, running_since=self.at, working_since=working_since, overdue_from=overdue_from)

    def end_overdue(self, stay: Stay) -> None:
        if stay.overdue_from is None:
            return
        if self.at < stay.overdue_from:
            # It never became overdue: take back the +1 put on its future day.
            self.tally(stay.agency_code, OVERDUE, -1, self.day(stay.overdue_from))
        else:
            self.tally(stay.agency_code, OVERDUE, -1)

    def stopped(self, stay: Stay, used_hours: float, left: bool) -> Stay:
        """The running segment ends now (the stay too if `left`); the step reported `used_hours`."""
        calendar_ms = stay.calendar_ms
        if stay.running_since is not None:
            calendar_ms += _ms(self.at - stay.running_since)
        overdue_from = stay.overdue_from
        if overdue_from is not None and (left or self.at < overdue_from):
            self.end_overdue(stay)  # a stopped clock cannot overrun; a left stay is no one's
            overdue_from = None
        return replace(
            stay,
            used_hours=used_hours,
            calendar_ms=calendar_ms,
            running_since=None,
            working_since=None,
            overdue_from=overdue_from,
            left_at=self.at if left else None,
        )

    def open_stay(self) -> Stay | None:
        """The stay held now: not handed off, not closed."""
        return self.stay if self.stay is not None and self.stay.left_at is None else None

    def leave(self, used_hours: float) -> None:
        """The open stay ends now (handed off or closed): a completion and a dwell sample."""
        stay = self.open_stay()
        if stay is None:
            return
        stay = self.stopped(stay, used_hours, left=True)
        self.tally(stay.agency_code, WIP, -1)
        self.samples(stay, 1)
        self.record(stay)

    # -- transit -----------------------------------------------------------------------------
    def transit_record(
        self, t: Transit, outcome: str | None = None, times: tuple[int, int] | None = None
    ) -> None:
        ended = self.at if outcome else None
        self.sink.record(
            TransitRecord(
                dossier_id=self.flow.dossier_id,
                handoff_seq=t.seq,
                from_agency_code=t.from_agency_code,
                to_agency_code=t.to_agency_code,
                receipt_code=self.flow.receipt_code,
                handed_at=t.handed_at,
                off_route=t.off_route,
                ended_at=ended,
                end_day=self.today if ended else None,
                outcome=outcome,
                working_ms=times[0] if times else None,
                calendar_ms=times[1] if times else None,
            )
        )

    def end_transit(self, outcome: str) -> Transit | None:
        """The pending handoff ends now; accepted and returned ones are sampled on their edge."""
        t = self.transit
        if t is None:
            return None
        self.tally(t.to_agency_code, IN_TRANSIT, -1)
        times = None
        if outcome != "cancelled":
            edge = Subject(Kind.EDGE, t.from_agency_code, t.to_agency_code)
            times = (
                _hours_ms(self.calendar.working_hours_between(t.handed_at, self.at)),
                _ms(self.at - t.handed_at),
            )
            self.sink.sample(edge, self.today, times[0], times[1], 1)
            if outcome == "returned":
                self.sink.tally(edge, self.today, RETURNS, 1)
        self.transit_record(t, outcome, times)
        self.transit = None
        return t


def _start(dossier_id: str, event: ev.DossierEvent) -> Flow | None:
    if isinstance(event, ev.DossierReceived) and event.imported:
        return None  # imported legacy history is no live work (decision 190): never a flow
    if isinstance(event, ev.DossierSubmittedOnline | ev.DossierReceived):
        return Flow(
            dossier_id=dossier_id, receipt_code=event.receipt_code, procedure_code=event.procedure_code
        )
    return None


def _take(fold: _Fold, seq: int, event: ev.DossierEvent) -> bool:
    """Fold one event into the dossier's flow; False once the dossier is closed (no flow)."""
    if isinstance(event, ev.DossierReceived):
        if event.imported:
            return False  # an exported online submission received by the import: history
        fold.flow = replace(
            fold.flow,
            receipt_code=event.receipt_code,
            procedure_code=event.procedure_code,
            restart_on_supplement=event.supplement_policy == SupplementPolicy.RESTART,
        )
    fold.at = event.occurred_at
    fold.today = day_number(fold.at, fold.calendar.tz)
    match event:
        case ev.DossierReceived():
            fold.open(event.receiving_agency_code, 0, event.step_due_at, event.counting_from)
        case ev.HandedOff():
            fold.end_transit("cancelled")  # only imported history hands off twice
            fold.leave(event.step_used_working_hours)
            to = event.to_agency_code
            fold.transit = Transit(seq, event.from_agency_code, to, fold.at, event.route_step is None)
            fold.tally(to, IN_TRANSIT, 1)
            fold.transit_record(fold.transit)
        case ev.HandoffAccepted():
            fold.end_transit("accepted")
            if (held := fold.open_stay()) is not None:
                fold.leave(held.used_hours)  # imported history: accepted without a handoff
            fold.open(event.to_agency_code, event.route_step, event.step_due_at)
        case ev.HandoffReturned():
            fold.end_transit("returned")
            stay = fold.stay
            if stay is not None and stay.left_at is not None and stay.agency_code != event.to_agency_code:
                # The giver ended in transit: its successor takes the dossier back, a new stay.
                fold.tally(event.to_agency_code, RETURNS)
                heir_step = stay.route_step if event.step_due_at is not None else None
                fold.open(event.to_agency_code, heir_step, event.step_due_at)
            elif stay is not None and stay.left_at is not None:
                # The giver's step reopens: its completion and dwell sample are taken back.
                fold.samples(stay, -1)
                fold.tally(stay.agency_code, RETURNS)
                fold.tally(stay.agency_code, WIP)
                fold.record(fold.running(replace(stay, left_at=None), event.step_due_at))
        case ev.SupplementRequested() | ev.FeeRequested():
            if isinstance(event, ev.SupplementRequested):
                fold.tally(event.actor.agency_code, SUPPLEMENTS)
            if (held := fold.open_stay()) is not None:
                fold.record(fold.stopped(held, event.step_used_working_hours, left=False))
        case ev.SupplementReceived() | ev.FeePaid():
            if (held := fold.open_stay()) is not None:
                if isinstance(event, ev.SupplementReceived) and fold.flow.restart_on_supplement:
                    # The step's budget starts again; the hours spent stay the agency's dwell.
                    held = replace(held, carried_hours=held.carried_hours + held.used_hours, used_hours=0.0)
                fold.record(fold.running(held, event.step_due_at))
        case ev.ConsultationRequested():
            fold.tally(event.actor.agency_code, CONSULTATIONS)
        case ev.ResultReady():
            fold.leave(event.step_used_working_hours)
            fold.stay = None
        case ev.DossierWithdrawn() | ev.ProcessingStopped():
            fold.end_transit("cancelled")
            fold.leave(event.step_used_working_hours)
            return False
        case ev.DossierRefusedAtIntake() | ev.ResultReturned():
            return False
        case ev.HolderSucceeded():
            _succeeded(fold, event)
        case _:
            pass  # online submission, consultation answers, apologies, decisions, legacy activities
    return True


def _succeeded(fold: _Fold, event: ev.HolderSucceeded) -> None:
    """The ended agency's open stay ends at the cutover and the successor's begins (stopped
    if the clock was); a pending handoff now awaits the successor."""
    new = event.to_agency_code
    if event.step_split and (held := fold.open_stay()) is not None:
        was_running = held.running_since is not None
        fold.leave(event.step_used_working_hours)
        budget = event.successor_budget_working_hours
        route_step = held.route_step if budget is not None else None
        fold.open(new, route_step, event.step_due_at if budget is not None else None)
        if not was_running and (stay := fold.open_stay()) is not None:
            fold.record(fold.stopped(stay, 0.0, left=False))
    if event.pending and (t := fold.transit) is not None:
        fold.tally(t.to_agency_code, IN_TRANSIT, -1)
        fold.tally(new, IN_TRANSIT, 1)
        fold.transit = replace(t, to_agency_code=new)
        fold.transit_record(fold.transit)


def apply(
    flow: Flow | None, dossier_id: str, seq: int, event: ev.DossierEvent, calendar: WorkingCalendar
) -> tuple[Flow | None, list[Fact]]:
    """The flow after `event` (None once the dossier is closed) and the facts it produces."""
    if flow is None:
        flow = _start(dossier_id, event)
        if flow is None:
            return None, []
    sink = FactList()
    fold = _Fold(flow, calendar, sink)
    alive = _take(fold, seq, event)
    return (fold.result() if alive else None), sink.facts


def fold_batch(
    flows: Mapping[str, Flow | None],
    batch: Iterable[tuple[str, int, ev.DossierEvent]],
    calendar: WorkingCalendar,
    totals: Totals | None = None,
) -> tuple[dict[str, Flow | None], Totals]:
    """The flows after `batch` ((dossier_id, seq, event), in per-dossier order) for every dossier
    it names, from the flows before it (absent: none), and the batch's facts summed in `totals`.

    Each dossier is folded in one working copy and frozen once: the flows equal `apply`
    event by event, and the totals the sums of its facts.
    """
    totals = totals if totals is not None else Totals()
    folds: dict[str, _Fold | None] = {}
    for dossier_id, seq, event in batch:
        if dossier_id in folds:
            fold = folds[dossier_id]
        else:
            known = flows.get(dossier_id)
            fold = None if known is None else _Fold(known, calendar, totals)
        if fold is None:
            started = _start(dossier_id, event)
            if started is None:
                folds[dossier_id] = None
                continue
            fold = _Fold(started, calendar, totals)
        folds[dossier_id] = fold if _take(fold, seq, event) else None
    return {d: (f.result() if f is not None else None) for d, f in folds.items()}, totals
