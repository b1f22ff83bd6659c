"""Succession at a cutover (kế thừa khi sắp xếp tổ chức): what an ended agency's open
dossiers become.

At the cutover instant (the successor's `valid_from`, 00:00 local) every open dossier that
the ended agency holds, is in transit to, received at its desk, or consulted it on gets one
`HolderSucceeded` per ended agency, recorded by the system. Which successor takes a dossier
is the gateway's choice from the catalogue (`Hierarchy.heir_on`); this module decides the
events on the dossier's state and is idempotent: a dossier that no longer involves the ended
agency gets none.

The open step is split at the cutover (DOMAIN.md, precise rules): the ended agency's part
closes with the working hours it used, judged late only if it had already overrun its
budget; the successor's part keeps the route step and its due instant, with what is left of
the budget (none of its own when nothing is left: the overrun is charged to the ended agency
only). The dossier's `due_at` never changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier, evolve
from domain.errors import ActorNotAllowed, InvalidValue

SYSTEM = "system"  # the role the succession events are recorded under
_EPSILON_HOURS = 1 / 3600


@dataclass(frozen=True)
class Heir:
    """`ended` is succeeded by `successor` for this dossier, on `basis` (legal text)."""

    ended: str
    successor: str
    basis: str = ""

    def __post_init__(self) -> None:
        if not self.ended.strip() or not self.successor.strip():
            raise InvalidValue("a succession names the ended agency and its successor")
        if self.ended == self.successor:
            raise InvalidValue(f"agency {self.ended} cannot succeed itself")


def involves(state: Dossier, agency_code: str) -> bool:
    """Whether an open dossier still has a part at `agency_code` that a succession moves."""
    if state.is_terminal:
        return False
    return agency_code in (
        state.holder_agency_code,
        state.pending_handoff_to,
        state.receiving_agency_code,
    ) or (agency_code in state.open_consultations)


def decide_succession(
    state: Dossier,
    heirs: Sequence[Heir],
    at: datetime,
    calendar: WorkingCalendar,
    actor: ev.Actor,
    reason: str = "",
) -> list[ev.DossierEvent]:
    """The `HolderSucceeded` events that move `state`'s parts at ended agencies to their
    heirs at `at` (in the order of `heirs`); [] when there is nothing left to move."""
    if actor.role != SYSTEM:
        raise ActorNotAllowed("succession events are recorded by the system only")
    # The dossier moved on after the cutover instant (a late cutover run): the succession is
    # recorded at its last event's time, never earlier.
    at = max(at, state.last_occurred_at)
    out: list[ev.DossierEvent] = []
    current = state
    for heir in heirs:
        if not involves(current, heir.ended):
            continue
        event = _succession(current, heir, at, calendar, actor, reason)
        out.append(event)
        current = evolve(current, event)
    return out


def _succession(
    state: Dossier, heir: Heir, at: datetime, calendar: WorkingCalendar, actor: ev.Actor, reason: str
) -> ev.HolderSucceeded:
    holder = state.holder_agency_code == heir.ended
    step = state.current_step if holder else None
    used = 0.0
    timeliness: ev.Timeliness | None = None
    remaining: float | None = None
    step_due: datetime | None = None
    if step is not None:
        used = step.used_working_hours(calendar, at)
        step_due = step.due_at
        if step.budget_working_hours is not None:
            overrun = used > step.budget_working_hours + _EPSILON_HOURS
            left = step.budget_working_hours - used
            remaining = left if left > _EPSILON_HOURS else None
            timeliness = ev.Timeliness.LATE if overrun else _unfinished(at, step_due, calendar)
    return ev.HolderSucceeded(
        occurred_at=at,
        actor=ev.Actor(agency_code=heir.successor, user=actor.user, role=SYSTEM),
        from_agency_code=heir.ended,
        to_agency_code=heir.successor,
        basis=heir.basis,
        reason=reason,
        holder=holder,
        pending=state.pending_handoff_to == heir.ended,
        desk=state.receiving_agency_code == heir.ended,
        consulted=heir.ended in state.open_consultations,
        step_split=step is not None,
        step_used_working_hours=used,
        step_timeliness=timeliness,
        successor_budget_working_hours=remaining,
        step_due_at=step_due,
    )


def _unfinished(at: datetime, due: datetime | None, calendar: WorkingCalendar) -> ev.Timeliness:
    """A part that had not overrun its budget: early if the cutover is before the step's due
    day, else on time (never late: the ended agency did not overrun)."""
    if due is not None and at.astimezone(calendar.tz).date() < due.astimezone(calendar.tz).date():
        return ev.Timeliness.EARLY
    return ev.Timeliness.ON_TIME
