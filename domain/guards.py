"""The guards every decision shares: who may act for which agency, and what state a dossier
must be in. Used by `domain.decide` and the modules it delegates to (handoffs, documents,
satisfaction, legacy history)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.dossier import PAUSED, TERMINAL, Dossier, Status, classify
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated

if TYPE_CHECKING:
    # As in domain.dossier: the type checker sees `replace`, the guard runs the copy.
    from dataclasses import replace as _with
else:
    from domain.records import copy_with as _with

INTEGRATION = "integration"
WRITER_ROLES = frozenset({"officer", INTEGRATION})


def act_as(actor: ev.Actor, agency_code: str, what: str) -> ev.Actor:
    """The actor as recorded: integration acts for `agency_code`; officers must be it."""
    if actor.role == INTEGRATION:
        return _with(actor, agency_code=agency_code)
    if actor.role not in WRITER_ROLES:
        raise ActorNotAllowed(f"role '{actor.role}' may not {what}")
    if actor.agency_code != agency_code:
        raise ActorNotAllowed(
            f"only agency {agency_code} may {what}; you act for {actor.agency_code or 'no agency'}"
        )
    return actor


def require_open(state: Dossier) -> None:
    if state.status in TERMINAL:
        raise RuleViolated(
            f"dossier {state.receipt_code} is closed ({state.status.value}); no further action"
        )


def require_not_in_transit(state: Dossier) -> None:
    if state.pending_handoff_to is not None:
        raise RuleViolated(
            f"dossier is in transit to {state.pending_handoff_to}; that agency must accept or return it first"
        )


def require_running(state: Dossier, what: str) -> None:
    if state.status in PAUSED:
        raise RuleViolated(f"cannot {what} while the dossier is {state.status.value}")
    if state.status in (Status.SUBMITTED, Status.RESULT_READY):
        raise RuleViolated(f"cannot {what} while the dossier is {state.status.value}")


def holder(state: Dossier, actor: ev.Actor, what: str) -> ev.Actor:
    require_open(state)
    return act_as(actor, state.holder_agency_code, what)


def desk(state: Dossier, actor: ev.Actor, what: str) -> ev.Actor:
    require_open(state)
    return act_as(actor, state.receiving_agency_code, what)


def text(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidValue(f"{what} must not be empty")
    return value.strip()


def step_so_far(state: Dossier, calendar: WorkingCalendar, at: datetime) -> float:
    step = state.current_step
    return step.used_working_hours(calendar, at) if step is not None else 0.0


def step_outcome(
    state: Dossier, calendar: WorkingCalendar, at: datetime
) -> tuple[float, ev.Timeliness | None]:
    step = state.current_step
    if step is None:
        return 0.0, None
    used = step.used_working_hours(calendar, at)
    timeliness = classify(at, step.due_at, calendar.tz) if step.due_at is not None else None
    return used, timeliness
