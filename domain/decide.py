"""`decide(state, command, calendar) -> events`: every rule a dossier obeys.

Who may act (DOMAIN.md): the receiving desk receives, accepts/refuses intake,
takes supplements and fees, returns the result and records withdrawals; the
current holder hands off, consults, requests, apologises, decides, marks the
result ready and stops; the agency a pending handoff names accepts or returns
it; the consulted agency answers. The `integration` role acts for whichever
agency the rule names, and the event records that agency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain import commands as cmd
from domain import documents, handoffs, legacy
from domain import events as ev
from domain import guards as g
from domain.calendar import WorkingCalendar
from domain.dossier import TERMINAL, Dossier, Status, classify
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated, UnknownDossier
from domain.procedures import Procedure, RouteStep
from domain.satisfaction import record_satisfaction, satisfaction_actions
from domain.succession import decide_succession

if TYPE_CHECKING:
    # As in domain.dossier: the type checker sees `replace`, `decide` runs the copy (records
    # without `__post_init__` only: a route step's is kept, through `replace`).
    from dataclasses import replace as _with
else:
    from domain.records import copy_with as _with


def _route_for(procedure: Procedure, receiving_agency_code: str) -> tuple[RouteStep, ...]:
    """Snapshot the route; a desk other than the first step's agency takes its place.

    The receiving office need not be the deciding one (Decree 118/2025): the desk
    that received does the intake step, and the return step if the route returns
    where it started.
    """
    route = procedure.route
    first = route[0].agency_code
    if receiving_agency_code == first:
        return route
    return tuple(
        replace(step, agency_code=receiving_agency_code)
        if step.agency_code == first and index in (0, len(route) - 1)
        else step
        for index, step in enumerate(route)
    )


def _received_event(
    *,
    dossier_id: str,
    receipt_code: str,
    procedure: Procedure,
    channel: ev.Channel,
    receiving_agency_code: str,
    applicant: dict[str, object] | None,
    lookup_secret_hash: str,
    imported: bool,
    actor: ev.Actor,
    at: datetime,
    calendar: WorkingCalendar,
) -> ev.DossierReceived:
    route = _route_for(procedure, receiving_agency_code)
    counting_from = calendar.counting_start(at, procedure.deadline_working_hours)
    return ev.DossierReceived(
        occurred_at=at,
        actor=actor,
        dossier_id=dossier_id,
        receipt_code=receipt_code,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        channel=channel,
        receiving_agency_code=receiving_agency_code,
        applicant=applicant,
        lookup_secret_hash=lookup_secret_hash,
        route=route,
        deadline_working_hours=procedure.deadline_working_hours,
        supplement_policy=procedure.supplement_policy,
        counting_from=counting_from,
        due_at=calendar.add_working_hours(counting_from, procedure.deadline_working_hours),
        step_due_at=calendar.add_working_hours(counting_from, route[0].budget_working_hours),
        imported=imported,
        procedure_version=procedure.valid_from,
    )


def _resume_dues(
    state: Dossier, calendar: WorkingCalendar, at: datetime, restart: bool
) -> tuple[datetime, datetime | None]:
    """New dossier and step due instants when the citizen's wait ends."""
    step = state.current_step
    if restart:
        start = calendar.next_opening(at)
        due = calendar.add_working_hours(start, state.deadline_working_hours)
        step_due = (
            calendar.add_working_hours(at, step.budget_working_hours)
            if step is not None and step.budget_working_hours is not None
            else None
        )
        return due, step_due
    remaining = state.remaining_working_hours or 0.0
    if remaining > 0 or state.due_at is None:
        due = calendar.add_working_hours(at, max(remaining, 0.0))
    else:
        # Already overdue when paused: the wait is not charged, the lateness stays.
        due = state.due_at
    step_due = None
    if step is not None and step.budget_working_hours is not None:
        left = step.budget_working_hours - step.used_before
        step_due = calendar.add_working_hours(at, left) if left > 0 else step.due_at
    return due, step_due


def _remaining(state: Dossier, calendar: WorkingCalendar, at: datetime) -> float:
    remaining = state.remaining_at(calendar, at)
    return 0.0 if remaining is None else remaining


# --- one handler per command -------------------------------------------------------


def _submit(state: Dossier | None, c: cmd.SubmitOnline, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    if state is not None:
        raise RuleViolated(f"dossier {c.dossier_id} already exists")
    if c.actor.role != g.INTEGRATION:
        raise ActorNotAllowed("only the integration role (the national portal) records online submissions")
    return [
        ev.DossierSubmittedOnline(
            occurred_at=c.occurred_at,
            actor=_with(c.actor, agency_code=c.receiving_agency_code),
            dossier_id=c.dossier_id,
            receipt_code=c.receipt_code,
            procedure_code=c.procedure.code,
            receiving_agency_code=c.receiving_agency_code,
            applicant=dict(c.applicant),
            lookup_secret_hash=c.lookup_secret_hash,
            procedure_name=c.procedure.name,
        )
    ]


def _receive(state: Dossier | None, c: cmd.ReceiveDossier, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    if state is not None:
        raise RuleViolated(f"dossier {c.dossier_id} already exists")
    actor = g.act_as(c.actor, c.receiving_agency_code, "receive dossiers at this desk")
    return [
        _received_event(
            dossier_id=c.dossier_id,
            receipt_code=c.receipt_code,
            procedure=c.procedure,
            channel=c.channel,
            receiving_agency_code=c.receiving_agency_code,
            applicant=dict(c.applicant),
            lookup_secret_hash=c.lookup_secret_hash,
            imported=c.imported,
            actor=actor,
            at=c.occurred_at,
            calendar=cal,
        )
    ]


def _intake(state: Dossier, c: cmd.AcceptIntake, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.desk(state, c.actor, "accept this online submission")
    if state.status != Status.SUBMITTED:
        raise RuleViolated("only an online submission awaiting intake can be accepted")
    if c.procedure.code != state.procedure_code:
        raise InvalidValue("the procedure does not match the submission")
    return [
        _received_event(
            dossier_id=state.id,
            receipt_code=state.receipt_code,
            procedure=c.procedure,
            channel=ev.Channel.ONLINE,
            receiving_agency_code=state.receiving_agency_code,
            applicant=None,
            lookup_secret_hash=state.lookup_secret_hash,
            imported=state.imported,
            actor=actor,
            at=c.occurred_at,
            calendar=cal,
        )
    ]


def _refusable(state: Dossier) -> bool:
    """An online submission at intake, or a dossier still at the desk that received it."""
    return state.status == Status.SUBMITTED or (
        state.status == Status.RECEIVED
        and state.holder_agency_code == state.receiving_agency_code
        and len(state.steps) <= 1
        and state.pending_handoff_to is None
    )


def _refuse(state: Dossier, c: cmd.RefuseIntake, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    """Từ chối tiếp nhận: an online submission at intake, or a dossier brought to the desk
    while it is still there, before any handoff (DOMAIN.md, desk rules)."""
    actor = g.desk(state, c.actor, "refuse this dossier")
    if not _refusable(state):
        raise RuleViolated(
            "a dossier can be refused only at the desk that received it, before it was handed on "
            f"(it is {state.status.value})"
        )
    used, timeliness = g.step_outcome(state, cal, c.occurred_at)
    return [
        ev.DossierRefusedAtIntake(
            occurred_at=c.occurred_at,
            actor=actor,
            reason=g.text(c.reason, "reason"),
            missing_components=documents.missing_components(c.missing_components, c.required_components),
            step_used_working_hours=used,
            step_timeliness=timeliness,
        )
    ]


def _request_supplement(
    state: Dossier, c: cmd.RequestSupplement, cal: WorkingCalendar
) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "request a supplement")
    g.require_not_in_transit(state)
    g.require_running(state, "request a supplement")
    if state.supplement_requests:
        raise RuleViolated("a supplement may be requested once per dossier, and it already was")
    if c.within_working_hours is not None and state.received_at is not None:
        spent = cal.working_hours_between(state.received_at, c.occurred_at)
        if spent > c.within_working_hours:
            raise RuleViolated(
                f"a supplement must be requested within {c.within_working_hours:g} working hours of "
                f"receipt; {spent:.1f} have passed"
            )
    return [
        ev.SupplementRequested(
            occurred_at=c.occurred_at,
            actor=actor,
            reason=g.text(c.reason, "reason"),
            missing_components=documents.missing_components(c.missing_components, c.required_components),
            policy=state.supplement_policy,
            step_used_working_hours=g.step_so_far(state, cal, c.occurred_at),
            remaining_working_hours=_remaining(state, cal, c.occurred_at),
        )
    ]


def _supplement_received(
    state: Dossier, c: cmd.ReceiveSupplement, cal: WorkingCalendar
) -> list[ev.DossierEvent]:
    actor = g.desk(state, c.actor, "record the supplement")
    if state.status != Status.AWAITING_SUPPLEMENT:
        raise RuleViolated("no supplement was requested")
    restart = state.supplement_policy.value == "restart"
    due, step_due = _resume_dues(state, cal, c.occurred_at, restart)
    return [ev.SupplementReceived(occurred_at=c.occurred_at, actor=actor, due_at=due, step_due_at=step_due)]


def _request_fee(state: Dossier, c: cmd.RequestFee, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "request a fee")
    g.require_not_in_transit(state)
    g.require_running(state, "request a fee")
    if c.amount_vnd <= 0:
        raise InvalidValue("amount_vnd must be a positive number of đồng")
    return [
        ev.FeeRequested(
            occurred_at=c.occurred_at,
            actor=actor,
            amount_vnd=c.amount_vnd,
            step_used_working_hours=g.step_so_far(state, cal, c.occurred_at),
            remaining_working_hours=_remaining(state, cal, c.occurred_at),
        )
    ]


def _fee_paid(state: Dossier, c: cmd.PayFee, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.desk(state, c.actor, "record the payment")
    if state.status != Status.AWAITING_FEE:
        raise RuleViolated("no fee is awaited")
    due, step_due = _resume_dues(state, cal, c.occurred_at, restart=False)
    return [ev.FeePaid(occurred_at=c.occurred_at, actor=actor, due_at=due, step_due_at=step_due)]


def _apologize(state: Dossier, c: cmd.IssueApology, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "issue an apology")
    if state.status in (Status.SUBMITTED, Status.RESULT_READY):
        raise RuleViolated(f"no apology while the dossier is {state.status.value}")
    if state.due_at is None or c.occurred_at >= state.due_at:
        raise RuleViolated(
            "an apology and new appointment must be issued before the due time "
            f"({state.due_at.isoformat() if state.due_at else 'none'})"
        )
    current = state.promised_at or state.due_at
    if c.new_due_at <= current:
        raise InvalidValue(f"the new appointment must be later than {current.isoformat()}")
    # Office hours of a working day, their closing instant included (8 h from 07:30 is 17:00).
    closing = c.new_due_at - timedelta(microseconds=1)
    if not (cal.is_working_instant(c.new_due_at) or cal.is_working_instant(closing)):
        local = c.new_due_at.astimezone(cal.tz)
        raise InvalidValue(
            f"the new appointment {local.isoformat()} is not in office hours of a working day "
            f"(next opening: {cal.next_opening(c.new_due_at).isoformat()})"
        )
    return [
        ev.ApologyIssued(
            occurred_at=c.occurred_at, actor=actor, new_due_at=c.new_due_at, reason=g.text(c.reason, "reason")
        )
    ]


def _decide(state: Dossier, c: cmd.DecideDossier, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "decide")
    g.require_not_in_transit(state)
    g.require_running(state, "decide")
    if state.outcome is not None:
        raise RuleViolated(f"the dossier was already decided ({state.outcome.value})")
    return [
        ev.DossierDecided(
            occurred_at=c.occurred_at,
            actor=actor,
            outcome=c.outcome,
            decision_number=c.decision_number.strip(),
        )
    ]


def _result_ready(state: Dossier, c: cmd.MarkResultReady, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "mark the result ready")
    g.require_not_in_transit(state)
    g.require_running(state, "mark the result ready")
    if state.outcome is None:
        raise RuleViolated("the dossier has no decision yet")
    assert state.due_at is not None  # a received dossier always has one
    used, step_timeliness = g.step_outcome(state, cal, c.occurred_at)
    return [
        ev.ResultReady(
            occurred_at=c.occurred_at,
            actor=actor,
            timeliness=classify(c.occurred_at, state.due_at, cal.tz),
            step_used_working_hours=used,
            step_timeliness=step_timeliness,
        )
    ]


def _result_returned(state: Dossier, c: cmd.ReturnResult, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.desk(state, c.actor, "return the result")
    if state.status != Status.RESULT_READY:
        raise RuleViolated("the result is not ready")
    return [ev.ResultReturned(occurred_at=c.occurred_at, actor=actor)]


def _withdraw(state: Dossier, c: cmd.Withdraw, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.desk(state, c.actor, "record the withdrawal")
    if state.status == Status.RESULT_READY:
        raise RuleViolated("the result is ready; it can only be returned")
    return [
        ev.DossierWithdrawn(
            occurred_at=c.occurred_at,
            actor=actor,
            reason=g.text(c.reason, "reason"),
            step_used_working_hours=g.step_so_far(state, cal, c.occurred_at),
        )
    ]


def _stop(state: Dossier, c: cmd.StopProcessing, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "stop processing")
    if state.status == Status.RESULT_READY:
        raise RuleViolated("the result is ready; it can only be returned")
    return [
        ev.ProcessingStopped(
            occurred_at=c.occurred_at,
            actor=actor,
            reason=g.text(c.reason, "reason"),
            step_used_working_hours=g.step_so_far(state, cal, c.occurred_at),
        )
    ]


def _legacy(state: Dossier, c: cmd.RecordLegacyActivity, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    if not state.imported:
        raise RuleViolated("legacy activities belong only to imported history")
    if c.actor.role != g.INTEGRATION:
        raise ActorNotAllowed("only the integration role imports legacy history")
    return [
        ev.LegacyActivityRecorded(
            occurred_at=c.occurred_at,
            actor=_with(c.actor, agency_code=c.agency_code),
            activity=g.text(c.activity, "activity"),
            agency_code=c.agency_code,
            resource=c.resource,
            attributes=dict(c.attributes or {}),
            original=dict(c.original or {}),
        )
    ]


def _succession(state: Dossier, c: cmd.RecordSuccession, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    return decide_succession(state, c.heirs, c.occurred_at, cal, c.actor, c.reason)


def _attach(state: Dossier, c: cmd.AttachDocument, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "attach files to this dossier")
    return documents.attach(
        state.documents,
        c,
        decided=state.outcome is not None,
        result_ready=state.status == Status.RESULT_READY,
        actor=actor,
    )


_Handler = Callable[[Dossier, cmd.Command, WorkingCalendar], list[ev.DossierEvent]]

_HANDLERS: dict[type[cmd.Command], _Handler] = {
    cmd.AcceptIntake: _intake,  # type: ignore[dict-item]
    cmd.RefuseIntake: _refuse,  # type: ignore[dict-item]
    cmd.HandOff: handoffs.hand_off,  # type: ignore[dict-item]
    cmd.AcceptHandoff: handoffs.accept,  # type: ignore[dict-item]
    cmd.ReturnHandoff: handoffs.give_back,  # type: ignore[dict-item]
    cmd.RequestConsultation: handoffs.consult,  # type: ignore[dict-item]
    cmd.AnswerConsultation: handoffs.answer,  # type: ignore[dict-item]
    cmd.RequestSupplement: _request_supplement,  # type: ignore[dict-item]
    cmd.ReceiveSupplement: _supplement_received,  # type: ignore[dict-item]
    cmd.RequestFee: _request_fee,  # type: ignore[dict-item]
    cmd.PayFee: _fee_paid,  # type: ignore[dict-item]
    cmd.IssueApology: _apologize,  # type: ignore[dict-item]
    cmd.DecideDossier: _decide,  # type: ignore[dict-item]
    cmd.MarkResultReady: _result_ready,  # type: ignore[dict-item]
    cmd.ReturnResult: _result_returned,  # type: ignore[dict-item]
    cmd.Withdraw: _withdraw,  # type: ignore[dict-item]
    cmd.StopProcessing: _stop,  # type: ignore[dict-item]
    cmd.RecordLegacyActivity: _legacy,  # type: ignore[dict-item]
    cmd.RecordSuccession: _succession,  # type: ignore[dict-item]
    cmd.AttachDocument: _attach,  # type: ignore[dict-item]
    cmd.RecordSatisfaction: record_satisfaction,  # type: ignore[dict-item]
    legacy.RecordLegacyCase: legacy.record_case,  # type: ignore[dict-item]
    legacy.RecordLegacyTrace: legacy.record_trace,  # type: ignore[dict-item]
}


def decide(state: Dossier | None, command: cmd.Command, calendar: WorkingCalendar) -> list[ev.DossierEvent]:
    """The events `command` produces on `state`, or a DomainError saying why not."""
    if state is not None and command.occurred_at < state.last_occurred_at:
        raise RuleViolated(
            f"occurred_at {command.occurred_at.isoformat()} is before the dossier's last event "
            f"({state.last_occurred_at.isoformat()}); event times never go backwards"
        )
    if isinstance(command, cmd.SubmitOnline):
        return _submit(state, command, calendar)
    if isinstance(command, cmd.ReceiveDossier):
        return _receive(state, command, calendar)
    if state is None:
        raise UnknownDossier("no dossier with that id")
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise InvalidValue(f"unknown command {type(command).__name__}")
    return handler(state, command, calendar)


# Which agency each action belongs to, for the `allowed_actions` of a representation.
_HOLDER_ACTIONS = (
    "handoff",
    "consult",
    "request_supplement",
    "request_fee",
    "apologize",
    "decide",
    "result_ready",
    "stop",
)
_DESK_ACTIONS = ("intake", "refuse", "supplement_received", "fee_paid", "result_returned", "withdraw")


def allowed_actions(state: Dossier, agency_code: str | None, now: datetime) -> list[str]:
    """Actions the agency (None: the integration role) could take now, in a stable order."""
    if state.status in TERMINAL:
        return satisfaction_actions(state, agency_code)
    actions: list[str] = []
    s = state.status
    in_transit = state.pending_handoff_to is not None
    running = s in (Status.RECEIVED, Status.IN_PROCESS)

    def mine(owner: str) -> bool:
        return agency_code is None or agency_code == owner

    possible = {
        "intake": s == Status.SUBMITTED,
        "refuse": _refusable(state),
        "handoff": running and not in_transit,
        "accept": in_transit,
        "return": in_transit,
        "consult": running and not in_transit,
        "answer": bool(state.open_consultations),
        "request_supplement": running and not in_transit,
        "supplement_received": s == Status.AWAITING_SUPPLEMENT,
        "request_fee": running and not in_transit,
        "fee_paid": s == Status.AWAITING_FEE,
        "apologize": running and state.due_at is not None and now < state.due_at,
        "decide": running and not in_transit and state.outcome is None,
        "result_ready": running and not in_transit and state.outcome is not None,
        "result_returned": s == Status.RESULT_READY,
        "withdraw": s != Status.RESULT_READY,
        "stop": s not in (Status.RESULT_READY, Status.SUBMITTED),
    }
    for name, ok in possible.items():
        if not ok:
            continue
        if name in _HOLDER_ACTIONS:
            owner_ok = mine(state.holder_agency_code)
        elif name in _DESK_ACTIONS:
            owner_ok = mine(state.receiving_agency_code)
        elif name in ("accept", "return"):
            owner_ok = mine(state.pending_handoff_to or "")
        else:  # answer
            owner_ok = agency_code is None or agency_code in state.open_consultations
        if owner_ok:
            actions.append(name)
    return actions
