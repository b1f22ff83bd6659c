"""SLA view (Biểu 06 of Circular 01/2020): dossier and step facts folded from events.

Three parts, all pure:

- **the fold** — `apply(facts, dossier_id, seq, event)` keeps what Biểu 06 and delay
  attribution need: receipt, due instant, resolution or closure, pauses, and each step with
  its budget, its due instant and the spans during which it was over budget. Every
  working-time fact comes from the events (docs/decisions.md, entry 1), so the fold needs no
  calendar and catalogue edits never need a rebuild: levels and subtrees are looked up in the
  hierarchy when a report is asked for.
- **tallies** — every fact a report counts is one `Tally` (which column, for which agency and
  procedure, at which instant). Stores keep running sums of tallies per local day, month and
  year; any report is then a sum over a few buckets.
- **reports** — `bieu06(before, during)` turns the sums before a window and inside it into the
  form's columns; `bieu06_of` and `late_attributed_of` compute the same straight from facts.

Overdue spans. A dossier (or step) is overdue at instant E when E is past its due instant and
it is neither finished nor waiting for the citizen with time left. Because a restart after a
supplement moves the due instant, "overdue" can begin and end more than once; the fold keeps
the spans `(start, end]` so a report can judge any past instant: overdue at E iff
`start < E <= end` (an open span has no end). A span that never began (the dossier finished
or paused before its due instant) is dropped, so the spans are exactly the real overruns, plus
at most one open span that begins at the current due instant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta, tzinfo

from domain import events as ev
from domain.agencies import Hierarchy
from domain.calendar import WorkingCalendar
from domain.procedures import SupplementPolicy

RECEIVED = "received"  # Biểu 06 proper: dossiers by the desk that received them
HANDLED = "handled"  # each agency's own steps (lượt xử lý), judged against the step budgets
SCOPES = (RECEIVED, HANDLED)

# A step's used hours are sums of float working hours; anything below this is rounding noise.
_EPSILON_HOURS = 1e-9
_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


# --- facts ---------------------------------------------------------------------------------


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


# --- the fold ------------------------------------------------------------------------------


def _end_span(spans: tuple[Span, ...], at: datetime) -> tuple[Span, ...]:
    """Close the open span at `at`; drop it if it had not begun."""
    if not spans or spans[-1].end is not None:
        return spans
    last = spans[-1]
    if last.start < at:
        return (*spans[:-1], Span(last.start, at))
    return spans[:-1]


def _run_towards(spans: tuple[Span, ...], due: datetime | None, at: datetime) -> tuple[Span, ...]:
    """The clock runs from `at` towards `due`: overdue from `due` on, unless it already is."""
    if due is None:
        return _end_span(spans, at)
    if spans and spans[-1].end is None:
        if due >= at:  # a new due instant ahead: the overrun so far ends here
            return (*_end_span(spans, at), Span(due))
        return spans  # the due instant stayed behind: still overdue
    return (*spans, Span(max(due, at)))


def _pause(spans: tuple[Span, ...], at: datetime, overdue: bool) -> tuple[Span, ...]:
    # Paused while overdue stays overdue (the lateness is not erased); otherwise the wait
    # for the citizen is no one's overrun.
    return spans if overdue else _end_span(spans, at)


# Each handler returns only the fields an event changes: one `replace` per event keeps the
# fold cheap enough for rebuilds of millions of events.
Change = dict[str, object]


def _current_changed(facts: DossierFacts, change: Change) -> Change:
    """The `steps` change that applies `change` to the open step (none if no step is open)."""
    current = facts.current_step
    if current is None:
        return {}
    return {"steps": (*facts.steps[:-1], replace(current, **change))}  # type: ignore[arg-type]


def _leave(
    at: datetime, used: float, timeliness: ev.Timeliness | None, closed: bool, spans: tuple[Span, ...]
) -> Change:
    return {
        "left_at": at,
        "used_working_hours": used,
        "running_since": None,
        "timeliness": timeliness.value if timeliness is not None else None,
        "closed_without_result": closed,
        "spans": _end_span(spans, at),
    }


def _left(
    facts: DossierFacts, at: datetime, used: float, timeliness: ev.Timeliness | None, closed: bool
) -> Change:
    current = facts.current_step
    if current is None:
        return {}
    return _current_changed(facts, _leave(at, used, timeliness, closed, current.spans))


def _new_step(
    n: int,
    budgets: tuple[float, ...],
    agency: str,
    route_index: int | None,
    at: datetime,
    due: datetime | None,
    since: datetime,
) -> StepFacts:
    budget = budgets[route_index] if route_index is not None and route_index < len(budgets) else None
    return StepFacts(
        n=n,
        agency_code=agency,
        route_index=route_index,
        entered_at=at,
        budget_working_hours=budget,
        due_at=due,
        running_since=since,
        spans=_run_towards((), due, at),
    )


def _received(event: ev.DossierReceived) -> Change:
    at = event.occurred_at
    budgets = tuple(step.budget_working_hours for step in event.route)
    desk = event.receiving_agency_code
    return {
        "receipt_code": event.receipt_code,
        "procedure_code": event.procedure_code,
        "receiving_agency_code": desk,
        "holder_agency_code": desk,
        "channel": event.channel.value,
        "imported": event.imported,
        "supplement_policy": event.supplement_policy.value,
        "route_budgets": budgets,
        "received_at": at,
        "due_at": event.due_at,
        "spans": _run_towards((), event.due_at, at),
        "steps": (_new_step(0, budgets, desk, 0, at, event.step_due_at, event.counting_from),),
    }


def _paused(facts: DossierFacts, at: datetime, kind: str, step_used: float, remaining: float) -> Change:
    current = facts.current_step
    change: Change = {
        "paused": kind,
        "remaining_at_pause": remaining,
        "spans": _pause(facts.spans, at, remaining < 0),
    }
    if current is not None:
        budget = current.budget_working_hours
        over = budget is not None and step_used > budget + _EPSILON_HOURS
        change |= _current_changed(
            facts,
            {
                "used_working_hours": step_used,
                "running_since": None,
                "spans": _pause(current.spans, at, over),
            },
        )
    return change


def _resumed(facts: DossierFacts, at: datetime, due: datetime, step_due: datetime | None) -> Change:
    restart = facts.paused == "supplement" and facts.supplement_policy == SupplementPolicy.RESTART.value
    current = facts.current_step
    change: Change = {
        "paused": None,
        "remaining_at_pause": None,
        "due_at": due,
        "spans": _run_towards(facts.spans, due, at),
    }
    if current is not None:
        change |= _current_changed(
            facts,
            {
                # Under `restart` the step's budget starts again; under `pause` it resumes.
                "used_working_hours": 0.0 if restart else current.used_working_hours,
                "running_since": at,
                "due_at": step_due,
                "spans": _run_towards(current.spans, step_due, at),
            },
        )
    return change


def _reopened(facts: DossierFacts, event: ev.HandoffReturned) -> Change:
    """The giver's step reopens and runs towards its (recomputed) due instant."""
    change: Change = {"holder_agency_code": event.to_agency_code, "pending_handoff_to": None}
    if facts.steps:
        last = facts.steps[-1]
        reopened = replace(
            last,
            left_at=None,
            timeliness=None,
            closed_without_result=False,
            running_since=event.occurred_at,
            due_at=event.step_due_at,
            spans=_run_towards(last.spans, event.step_due_at, event.occurred_at),
        )
        change["steps"] = (*facts.steps[:-1], reopened)
    return change


def _start(dossier_id: str, seq: int, event: ev.DossierEvent) -> DossierFacts | None:
    match event:
        case ev.DossierSubmittedOnline():
            return DossierFacts(
                dossier_id=dossier_id,
                last_seq=seq,
                receipt_code=event.receipt_code,
                procedure_code=event.procedure_code,
                receiving_agency_code=event.receiving_agency_code,
                holder_agency_code=event.receiving_agency_code,
                submitted_at=event.occurred_at,
            )
        case ev.DossierReceived():
            blank = DossierFacts(
                dossier_id=dossier_id,
                last_seq=seq,
                receipt_code=event.receipt_code,
                procedure_code=event.procedure_code,
                receiving_agency_code=event.receiving_agency_code,
                holder_agency_code=event.receiving_agency_code,
            )
            return replace(blank, **_received(event))  # type: ignore[arg-type]
    return None  # a stream never starts otherwise; nothing to count


def _change(facts: DossierFacts, event: ev.DossierEvent) -> Change:
    at = event.occurred_at
    match event:
        case ev.DossierReceived():
            return _received(event)
        case ev.DossierRefusedAtIntake():
            return {"received_at": at, "closed_at": at, "closed_as": "refused"}
        case ev.HandedOff():
            left = _left(facts, at, event.step_used_working_hours, event.step_timeliness, closed=False)
            return {**left, "pending_handoff_to": event.to_agency_code}
        case ev.HandoffAccepted():
            step = _new_step(
                len(facts.steps),
                facts.route_budgets,
                event.to_agency_code,
                event.route_step,
                at,
                event.step_due_at,
                at,
            )
            return {
                "steps": (*facts.steps, step),
                "holder_agency_code": event.to_agency_code,
                "pending_handoff_to": None,
            }
        case ev.HandoffReturned():
            return _reopened(facts, event)
        case ev.SupplementRequested():
            change = _paused(
                facts, at, "supplement", event.step_used_working_hours, event.remaining_working_hours
            )
            return {**change, "supplement_policy": event.policy.value}
        case ev.FeeRequested():
            return _paused(facts, at, "fee", event.step_used_working_hours, event.remaining_working_hours)
        case ev.SupplementReceived() | ev.FeePaid():
            return _resumed(facts, at, event.due_at, event.step_due_at)
        case ev.ApologyIssued():
            return {"promised_at": event.new_due_at}
        case ev.ResultReady():
            left = _left(facts, at, event.step_used_working_hours, event.step_timeliness, closed=False)
            return {
                **left,
                "resolved_at": at,
                "timeliness": event.timeliness.value,
                "paused": None,
                "spans": _end_span(facts.spans, at),
            }
        case ev.ResultReturned():
            return {"returned_at": at}
        case ev.DossierWithdrawn() | ev.ProcessingStopped():
            left = _left(facts, at, event.step_used_working_hours, None, closed=True)
            return {
                **left,
                "closed_at": at,
                "closed_as": "withdrawn" if isinstance(event, ev.DossierWithdrawn) else "stopped",
                "pending_handoff_to": None,
                "spans": _end_span(facts.spans, at),
            }
    return {}  # consultations, decisions, legacy activities: nothing Biểu 06 counts


def apply(
    facts: DossierFacts | None, dossier_id: str, seq: int, event: ev.DossierEvent
) -> DossierFacts | None:
    """The facts after `event` (the `seq`-th of the dossier); a replayed event changes nothing."""
    if facts is None:
        return _start(dossier_id, seq, event)
    if seq <= facts.last_seq:
        return facts
    return replace(facts, last_seq=seq, **_change(facts, event))  # type: ignore[arg-type]


def fold(dossier_id: str, events: Iterable[ev.DossierEvent]) -> DossierFacts | None:
    facts: DossierFacts | None = None
    for seq, event in enumerate(events, start=1):
        facts = apply(facts, dossier_id, seq, event)
    return facts


# --- a batch at a time ----------------------------------------------------------------------

_FACT_FIELDS = tuple(f.name for f in fields(DossierFacts))
_STEP_FIELDS = tuple(f.name for f in fields(StepFacts))
Thawed = dict[str, object]


def _thaw_step(step: StepFacts) -> Thawed:
    return {name: getattr(step, name) for name in _STEP_FIELDS}


class _Builder:
    """One dossier's facts while a batch is folded: changed in place, frozen once.

    Each handler mirrors the one of `_change` above, on dicts of the same fields.
    """

    __slots__ = ("facts", "steps")

    def __init__(self, facts: DossierFacts) -> None:
        self.facts: Thawed = {name: getattr(facts, name) for name in _FACT_FIELDS}
        self.steps: list[Thawed] = [_thaw_step(step) for step in facts.steps]

    def freeze(self) -> DossierFacts:
        steps = tuple(StepFacts(**step) for step in self.steps)  # type: ignore[arg-type]
        return DossierFacts(**{**self.facts, "steps": steps})  # type: ignore[arg-type]

    def current(self) -> Thawed | None:
        if self.steps and self.steps[-1]["left_at"] is None:
            return self.steps[-1]
        return None

    def spans(self, owner: Thawed) -> tuple[Span, ...]:
        return owner["spans"]  # type: ignore[return-value]

    def left(self, at: datetime, used: float, timeliness: ev.Timeliness | None, closed: bool) -> None:
        current = self.current()
        if current is not None:
            current.update(_leave(at, used, timeliness, closed, self.spans(current)))

    def paused(self, at: datetime, kind: str, step_used: float, remaining: float) -> None:
        facts, current = self.facts, self.current()
        facts["paused"] = kind
        facts["remaining_at_pause"] = remaining
        facts["spans"] = _pause(self.spans(facts), at, remaining < 0)
        if current is not None:
            budget = current["budget_working_hours"]
            over = budget is not None and step_used > budget + _EPSILON_HOURS  # type: ignore[operator]
            current["used_working_hours"] = step_used
            current["running_since"] = None
            current["spans"] = _pause(self.spans(current), at, over)

    def resumed(self, at: datetime, due: datetime, step_due: datetime | None) -> None:
        facts, current = self.facts, self.current()
        restart = (
            facts["paused"] == "supplement" and facts["supplement_policy"] == SupplementPolicy.RESTART.value
        )
        facts["paused"] = None
        facts["remaining_at_pause"] = None
        facts["due_at"] = due
        facts["spans"] = _run_towards(self.spans(facts), due, at)
        if current is not None:
            if restart:
                current["used_working_hours"] = 0.0
            current["running_since"] = at
            current["due_at"] = step_due
            current["spans"] = _run_towards(self.spans(current), step_due, at)

    def apply(self, event: ev.DossierEvent) -> None:
        facts = self.facts
        at = event.occurred_at
        match event:
            case ev.DossierReceived():
                change = _received(event)
                self.steps = [_thaw_step(step) for step in change.pop("steps")]  # type: ignore[attr-defined]
                facts.update(change)
            case ev.DossierRefusedAtIntake():
                facts.update(received_at=at, closed_at=at, closed_as="refused")
            case ev.HandedOff():
                self.left(at, event.step_used_working_hours, event.step_timeliness, closed=False)
                facts["pending_handoff_to"] = event.to_agency_code
            case ev.HandoffAccepted():
                budgets: tuple[float, ...] = facts["route_budgets"]  # type: ignore[assignment]
                step = _new_step(
                    len(self.steps),
                    budgets,
                    event.to_agency_code,
                    event.route_step,
                    at,
                    event.step_due_at,
                    at,
                )
                self.steps.append(_thaw_step(step))
                facts["holder_agency_code"] = event.to_agency_code
                facts["pending_handoff_to"] = None
            case ev.HandoffReturned():
                facts["holder_agency_code"] = event.to_agency_code
                facts["pending_handoff_to"] = None
                if self.steps:
                    last = self.steps[-1]
                    last.update(
                        left_at=None,
                        timeliness=None,
                        closed_without_result=False,
                        running_since=at,
                        due_at=event.step_due_at,
                        spans=_run_towards(self.spans(last), event.step_due_at, at),
                    )
            case ev.SupplementRequested():
                self.paused(at, "supplement", event.step_used_working_hours, event.remaining_working_hours)
                facts["supplement_policy"] = event.policy.value
            case ev.FeeRequested():
                self.paused(at, "fee", event.step_used_working_hours, event.remaining_working_hours)
            case ev.SupplementReceived() | ev.FeePaid():
                self.resumed(at, event.due_at, event.step_due_at)
            case ev.ApologyIssued():
                facts["promised_at"] = event.new_due_at
            case ev.ResultReady():
                self.left(at, event.step_used_working_hours, event.step_timeliness, closed=False)
                facts.update(
                    resolved_at=at,
                    timeliness=event.timeliness.value,
                    paused=None,
                    spans=_end_span(self.spans(facts), at),
                )
            case ev.ResultReturned():
                facts["returned_at"] = at
            case ev.DossierWithdrawn() | ev.ProcessingStopped():
                self.left(at, event.step_used_working_hours, None, closed=True)
                facts.update(
                    closed_at=at,
                    closed_as="withdrawn" if isinstance(event, ev.DossierWithdrawn) else "stopped",
                    pending_handoff_to=None,
                    spans=_end_span(self.spans(facts), at),
                )
            case _:
                pass


def fold_batch(
    before: Mapping[str, DossierFacts | None], batch: Iterable[tuple[str, int, ev.DossierEvent]]
) -> dict[str, DossierFacts | None]:
    """The facts after `batch` ((dossier_id, seq, event), in per-dossier order) for every dossier
    it names, from the facts `before` it (absent: none yet). Each dossier is thawed once and
    frozen once; the result equals `apply` event by event."""
    open_facts: dict[str, _Builder | None] = {}
    for dossier_id, seq, event in batch:
        if dossier_id in open_facts:
            builder = open_facts[dossier_id]
        else:
            known = before.get(dossier_id)
            builder = None if known is None else _Builder(known)
            open_facts[dossier_id] = builder
        if builder is None:
            started = _start(dossier_id, seq, event)
            if started is not None:
                open_facts[dossier_id] = _Builder(started)
            continue
        if seq <= builder.facts["last_seq"]:  # type: ignore[operator]
            continue
        builder.facts["last_seq"] = seq
        builder.apply(event)
    return {d: (None if b is None else b.freeze()) for d, b in open_facts.items()}


# --- tallies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    scope: str
    agency_code: str
    procedure_code: str
    imported: bool
    column: str
    at: datetime


def tallies(facts: DossierFacts) -> list[Tally]:
    """Everything `facts` contributes to the reports, each at the instant it happened."""
    out: list[Tally] = []
    proc, imported = facts.procedure_code, facts.imported

    def add(scope: str, agency: str, column: str, at: datetime) -> None:
        out.append(Tally(scope, agency, proc, imported, column, at))

    def spans(scope: str, agency: str, items: tuple[Span, ...]) -> None:
        for span in items:
            add(scope, agency, "ov_start", span.start)
            if span.end is not None:
                add(scope, agency, "ov_end", span.end)

    if facts.received_at is not None:
        desk = facts.receiving_agency_code
        add(RECEIVED, desk, f"rcv_{facts.channel}", facts.received_at)
        if facts.resolved_at is not None and facts.timeliness is not None:
            add(RECEIVED, desk, f"res_{facts.timeliness}", facts.resolved_at)
        if facts.closed_at is not None:
            add(RECEIVED, desk, "closed", facts.closed_at)
        spans(RECEIVED, desk, facts.spans)
    for step in facts.steps:
        if not step.on_route:
            continue  # no budget of its own: Biểu 06's columns do not apply
        add(HANDLED, step.agency_code, f"rcv_{facts.channel}", step.entered_at)
        if step.left_at is not None:
            if step.closed_without_result:
                add(HANDLED, step.agency_code, "closed", step.left_at)
            elif step.timeliness is not None:
                add(HANDLED, step.agency_code, f"res_{step.timeliness}", step.left_at)
        spans(HANDLED, step.agency_code, step.spans)
        if step.overrun_at is not None:
            add(HANDLED, step.agency_code, "overrun", step.overrun_at)
    return out


# --- sums and the form ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sums:
    """Counts of each tally column over some buckets.

    What a report counts: `rcv_*` by channel; `res_*` by timeliness; `closed` without
    result; `ov_start` / `ov_end` begin and end overdue spans (overdue at E = spans begun
    before E minus spans ended before E); `overrun` is a step's first instant over budget.
    """

    rcv_online: int = 0
    rcv_direct: int = 0
    rcv_postal: int = 0
    res_early: int = 0
    res_on_time: int = 0
    res_late: int = 0
    closed: int = 0
    ov_start: int = 0
    ov_end: int = 0
    overrun: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Sums:
        return cls(**{name: int(counts.get(name) or 0) for name in COLUMNS})

    def __add__(self, other: Sums) -> Sums:
        return Sums(*(getattr(self, name) + getattr(other, name) for name in COLUMNS))

    @property
    def received(self) -> int:
        return self.rcv_online + self.rcv_direct + self.rcv_postal

    @property
    def ended(self) -> int:
        return self.res_early + self.res_on_time + self.res_late + self.closed

    @property
    def overdue(self) -> int:
        return self.ov_start - self.ov_end


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Sums))  # the tally columns, in store order


@dataclass(frozen=True)
class Bieu06:
    """The columns of Biểu 06 for one agency (or group) and one window."""

    online: int = 0
    direct: int = 0
    postal: int = 0
    carried_over: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    within_due: int = 0
    overdue: int = 0
    closed_without_result: int = 0

    @property
    def received_total(self) -> int:
        return self.online + self.direct + self.postal + self.carried_over

    @property
    def resolved_total(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def in_process_total(self) -> int:
        return self.within_due + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        resolved = self.resolved_total
        return (self.early + self.on_time) / resolved if resolved else None

    def __add__(self, other: Bieu06) -> Bieu06:
        return Bieu06(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Bieu06)))

    def as_json(self) -> dict[str, object]:
        return {
            "received": {
                "online": self.online,
                "direct": self.direct,
                "postal": self.postal,
                "carried_over": self.carried_over,
                "total": self.received_total,
            },
            "resolved": {
                "early": self.early,
                "on_time": self.on_time,
                "late": self.late,
                "total": self.resolved_total,
            },
            "in_process": {
                "within_due": self.within_due,
                "overdue": self.overdue,
                "total": self.in_process_total,
            },
            "closed_without_result": self.closed_without_result,
            "on_time_rate": self.on_time_rate,
        }


def bieu06(before: Sums, during: Sums) -> Bieu06:
    """The form from the sums before the window's start and inside the window.

    Carried over = received before the start and not ended before it. Everything carried
    over or received in the window ends in exactly one place: resolved, closed without
    result, or still in process at the window's end — overdue there if a span covers it.
    """
    carried_over = before.received - before.ended
    in_process = carried_over + during.received - during.ended
    overdue = before.overdue + during.overdue
    return Bieu06(
        online=during.rcv_online,
        direct=during.rcv_direct,
        postal=during.rcv_postal,
        carried_over=carried_over,
        early=during.res_early,
        on_time=during.res_on_time,
        late=during.res_late,
        within_due=in_process - overdue,
        overdue=overdue,
        closed_without_result=during.closed,
    )


# --- windows and reporting periods ---------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """`[start, end)`: counts what happened from `start` on, judged at the instant `end`."""

    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def days(self, tz: tzinfo) -> tuple[date, date]:
        """First and last local day the window touches."""
        last = max(self.end - _ONE_MICROSECOND, self.start)
        return self.start.astimezone(tz).date(), last.astimezone(tz).date()


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def window(first: date | datetime, last: date | datetime, tz: tzinfo) -> Window:
    """A report range: a date is the whole local day (`last` inclusive); an instant is itself."""
    if isinstance(first, datetime):
        if first.tzinfo is None:
            raise ValueError("an instant needs an offset, e.g. 2026-03-02T09:00:00+07:00")
        start = first
    else:
        start = midnight(first, tz)
    if isinstance(last, datetime):
        if last.tzinfo is None:
            raise ValueError("an instant needs an offset, e.g. 2026-03-02T09:00:00+07:00")
        end = last + _ONE_MICROSECOND
    else:
        end = midnight(last + _ONE_DAY, tz)
    if end <= start:
        raise ValueError("the range ends before it starts")
    return Window(start, end)


def capped(w: Window, now: datetime) -> Window:
    """A window judged no later than `now`: nothing after now has happened yet."""
    return Window(min(w.start, now), min(w.end, now))


def reporting_period(year: int, month: int) -> tuple[date, date]:
    """Kỳ báo cáo: the 15th of the previous month to the 14th of `month`."""
    previous = date(year, month, 1) - _ONE_DAY
    return previous.replace(day=15), date(year, month, 14)


def period_of(day: date) -> tuple[int, int]:
    """The (year, month) of the reporting period containing `day`."""
    if day.day < 15:
        return day.year, day.month
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def bucket_ranges(first: date, stop: date) -> list[tuple[str, str, str]]:
    """`[first, stop)` as few buckets as possible: `(grain, low, high)`, bucket keys inclusive.

    Grains: `d` ("2025-07-14"), `m` ("2025-07"), `y` ("2025"). Leading days up to a month
    boundary, months up to a year boundary, whole years, then months and days again: at most
    five ranges, however long the range (a report "since ever" starts at year 1).
    """
    ranges: list[tuple[str, str, str]] = []

    def add(grain: str, low: date, end: date) -> None:
        width = {"d": 10, "m": 7, "y": 4}[grain]
        low_key, high_key = low.isoformat()[:width], (end - _ONE_DAY).isoformat()[:width]
        if ranges and ranges[-1][0] == grain:  # contiguous with the previous range
            low_key = ranges.pop()[1]
        ranges.append((grain, low_key, high_key))

    day = first
    if day < stop and day.day != 1:
        end = min(_next_month(day), stop)
        add("d", day, end)
        day = end
    if day < stop and day.month != 1:
        end = min(date(day.year + 1, 1, 1), _month_start(stop))
        if end > day:
            add("m", day, end)
            day = end
    if day < stop and day.month == 1 and day.day == 1 and day.year < stop.year:
        end = date(stop.year, 1, 1)
        add("y", day, end)
        day = end
    if day < _month_start(stop):
        add("m", day, _month_start(stop))
        day = _month_start(stop)
    if day < stop:
        add("d", day, stop)
    return ranges


def buckets_of(day: date) -> tuple[tuple[str, str], ...]:
    """The day, month and year buckets a tally on `day` is added to."""
    key = day.isoformat()
    return (("d", key), ("m", key[:7]), ("y", key[:4]))


# --- the hierarchy, as of the report --------------------------------------------------------


def boundary_days(hierarchy: Hierarchy, codes: Collection[str], first: date, last: date) -> list[date]:
    """Days in `(first, last]` on which a version of one of `codes` starts or ends."""
    days: set[date] = set()
    for code in codes:
        for version in hierarchy.history(code):
            if version.valid_from is not None and first < version.valid_from <= last:
                days.add(version.valid_from)
            if version.valid_to is not None and first < version.valid_to + _ONE_DAY <= last:
                days.add(version.valid_to + _ONE_DAY)
    return sorted(days)


def agencies_during(
    hierarchy: Hierarchy, root: str, first: date, last: date, include_children: bool
) -> frozenset[str]:
    """`root`, and with `include_children` every agency below it on some day of `[first, last]`."""
    if not include_children:
        return frozenset({root})
    candidates = hierarchy.subtree_ever(root)
    found: set[str] = {root}
    for day in [first, *boundary_days(hierarchy, hierarchy.codes(), first, last)]:
        found |= {code for code in candidates if hierarchy.is_within(code, root, day)}
    return frozenset(found)


def level_on(hierarchy: Hierarchy, code: str, day: date) -> str:
    level = hierarchy.level_on(code, day)
    return level.value if level is not None else "unknown"


def level_during(hierarchy: Hierarchy, code: str, first: date, last: date) -> str:
    """The level an agency had in `[first, last]`: its last version in force there.

    One level per agency per report keeps each level's row consistent (carried over +
    received = resolved + closed + in process); levels change at reforms, at period edges.
    """
    history = hierarchy.history(code)
    in_force = [
        v for v in history if (v.valid_from or date.min) <= last and (v.valid_to or date.max) >= first
    ]
    version = in_force[-1] if in_force else (history[-1] if history else None)
    return version.level.value if version is not None else "unknown"


# --- reports straight from facts (the definition the stores' sums must agree with) ----------


def sums_between(
    items: Iterable[Tally],
    start: datetime | None,
    end: datetime,
    *,
    scope: str,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> Sums:
    counts: Counter[str] = Counter()
    for t in items:
        if t.scope != scope or (t.imported and not include_imported):
            continue
        if agencies is not None and t.agency_code not in agencies:
            continue
        if (start is None or start <= t.at) and t.at < end:
            counts[t.column] += 1
    return Sums.of(counts)


def bieu06_of(
    facts: Iterable[DossierFacts],
    w: Window,
    *,
    scope: str = RECEIVED,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> Bieu06:
    items = [t for f in facts for t in tallies(f)]

    def between(start: datetime | None, end: datetime) -> Sums:
        return sums_between(
            items, start, end, scope=scope, agencies=agencies, include_imported=include_imported
        )

    return bieu06(between(None, w.start), between(w.start, w.end))


def late_attributed_of(
    facts: Iterable[DossierFacts],
    w: Window,
    hierarchy: Hierarchy,
    tz: tzinfo,
    *,
    group_by: str,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> dict[str, int]:
    """Steps that went over budget in the window, charged to the agency holding each step,
    to that agency's level on the day it went over, or to the dossier's procedure."""
    counts: Counter[str] = Counter()
    for f in facts:
        if f.imported and not include_imported:
            continue
        for step in f.steps:
            at = step.overrun_at
            if at is None or not step.on_route or not w.contains(at):
                continue
            if agencies is not None and step.agency_code not in agencies:
                continue
            if group_by == "agency":
                counts[step.agency_code] += 1
            elif group_by == "level":
                counts[level_on(hierarchy, step.agency_code, at.astimezone(tz).date())] += 1
            else:
                counts[f.procedure_code] += 1
    return dict(counts)
