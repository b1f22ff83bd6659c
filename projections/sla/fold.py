"""The SLA fold: events -> `DossierFacts`, one event at a time (`apply`) or a batch at a time
(`fold_batch`, mutable builders frozen once; equal to `apply` event by event)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING

from domain import events as ev
from domain.procedures import SupplementPolicy
from projections.sla.facts import _EPSILON_HOURS, DossierFacts, Span, StepFacts

if TYPE_CHECKING:
    from dataclasses import replace
else:  # the folds' copies: domain/records.py
    from domain.records import copy_with as replace


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


def _heir_takes_back(last: StepFacts, n: int, event: ev.HandoffReturned) -> StepFacts:
    """A handoff returned to a giver that ended in transit: its successor gets the step back with
    what was left of the budget (the ended agency's part stays as it was judged)."""
    left = None if last.budget_working_hours is None else last.budget_working_hours - last.used_working_hours
    budgeted = left is not None and left > 0
    due = event.step_due_at if budgeted else None
    return StepFacts(
        n=n,
        agency_code=event.to_agency_code,
        route_index=last.route_index if budgeted else None,
        entered_at=event.occurred_at,
        budget_working_hours=left if budgeted else None,
        due_at=due,
        running_since=event.occurred_at,
        spans=_run_towards((), due, event.occurred_at),
    )


def _reopened(facts: DossierFacts, event: ev.HandoffReturned) -> Change:
    """The giver's step reopens and runs towards its (recomputed) due instant."""
    change: Change = {"holder_agency_code": event.to_agency_code, "pending_handoff_to": None}
    if facts.steps and facts.steps[-1].agency_code != event.to_agency_code:
        change["steps"] = (*facts.steps, _heir_takes_back(facts.steps[-1], len(facts.steps), event))
    elif facts.steps:
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


def _successor_part(n: int, current: StepFacts, event: ev.HolderSucceeded, paused: bool) -> StepFacts:
    """The successor's part of a step split at the cutover: the rest of the budget, the same due
    instant (no budget of its own when nothing was left); stopped while the citizen is awaited."""
    at, budget = event.occurred_at, event.successor_budget_working_hours
    due = event.step_due_at if budget is not None else None
    return StepFacts(
        n=n,
        agency_code=event.to_agency_code,
        route_index=current.route_index if budget is not None else None,
        entered_at=at,
        budget_working_hours=budget,
        due_at=due,
        running_since=None if paused else at,
        spans=() if paused else _run_towards((), due, at),
    )


def _succeeded(facts: DossierFacts, event: ev.HolderSucceeded) -> Change:
    """Biểu 06 stays with the desk that received the dossier; the holding moves, and an open
    step splits at the cutover: the ended agency's part is judged, the successor's opens."""
    change: Change = {}
    if event.holder:
        change["holder_agency_code"] = event.to_agency_code
    if event.pending:
        change["pending_handoff_to"] = event.to_agency_code
    current = facts.current_step
    if event.step_split and current is not None:
        closed = replace(
            current,
            **_leave(  # type: ignore[arg-type]
                event.occurred_at, event.step_used_working_hours, event.step_timeliness, False, current.spans
            ),
        )
        part = _successor_part(len(facts.steps), current, event, facts.paused is not None)
        change["steps"] = (*facts.steps[:-1], closed, part)
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
            # A dossier received earlier stays received then (a closed period never changes);
            # its desk step and its clock close at the refusal, as at a withdrawal.
            left = _left(facts, at, event.step_used_working_hours, None, closed=True)
            return {
                **left,
                "received_at": facts.received_at or at,
                "closed_at": at,
                "closed_as": "refused",
                "spans": _end_span(facts.spans, at),
            }
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
        case ev.HolderSucceeded():
            return _succeeded(facts, event)
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
                self.left(at, event.step_used_working_hours, None, closed=True)
                facts.update(
                    received_at=facts["received_at"] or at,
                    closed_at=at,
                    closed_as="refused",
                    spans=_end_span(self.spans(facts), at),
                )
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
                if self.steps and self.steps[-1]["agency_code"] != event.to_agency_code:
                    frozen = StepFacts(**self.steps[-1])  # type: ignore[arg-type]
                    self.steps.append(_thaw_step(_heir_takes_back(frozen, len(self.steps), event)))
                elif self.steps:
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
            case ev.HolderSucceeded():
                if event.holder:
                    facts["holder_agency_code"] = event.to_agency_code
                if event.pending:
                    facts["pending_handoff_to"] = event.to_agency_code
                current = self.current()
                if event.step_split and current is not None:
                    frozen = StepFacts(**current)  # type: ignore[arg-type]
                    self.left(at, event.step_used_working_hours, event.step_timeliness, closed=False)
                    part = _successor_part(len(self.steps), frozen, event, facts["paused"] is not None)
                    self.steps.append(_thaw_step(part))
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
