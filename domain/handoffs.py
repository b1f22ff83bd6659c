"""Holding a dossier between agencies: handoffs (and their acceptance or return) and
consultations. Only the holder hands off or consults; only the agency a pending handoff
names accepts or returns it; only the consulted agency answers."""

from __future__ import annotations

from domain import commands as cmd
from domain import events as ev
from domain import guards as g
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated


def hand_off(state: Dossier, c: cmd.HandOff, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "hand off this dossier")
    g.require_not_in_transit(state)
    g.require_running(state, "hand off")
    to = c.to_agency_code.strip()
    if not to:
        raise InvalidValue("to_agency_code must not be empty")
    if to == state.holder_agency_code:
        raise InvalidValue("a dossier cannot be handed off to the agency that holds it")
    used, timeliness = g.step_outcome(state, cal, c.occurred_at)
    return [
        ev.HandedOff(
            occurred_at=c.occurred_at,
            actor=actor,
            from_agency_code=state.holder_agency_code,
            to_agency_code=to,
            route_step=state.next_route_step_for(to, c.succeeds),
            note=c.note.strip(),
            step_used_working_hours=used,
            step_timeliness=timeliness,
        )
    ]


def _pending_receiver(state: Dossier, actor: ev.Actor, what: str) -> ev.Actor:
    g.require_open(state)
    if state.pending_handoff_to is None:
        raise RuleViolated("there is no pending handoff to " + what)
    return g.act_as(actor, state.pending_handoff_to, what)


def accept(state: Dossier, c: cmd.AcceptHandoff, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = _pending_receiver(state, c.actor, "accept")
    index = state.pending_route_step
    step_due = (
        cal.add_working_hours(c.occurred_at, state.route[index].budget_working_hours)
        if index is not None
        else None
    )
    return [
        ev.HandoffAccepted(
            occurred_at=c.occurred_at,
            actor=actor,
            from_agency_code=state.holder_agency_code,
            to_agency_code=actor.agency_code,
            route_step=index,
            step_due_at=step_due,
        )
    ]


def give_back(state: Dossier, c: cmd.ReturnHandoff, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = _pending_receiver(state, c.actor, "return")
    step_due = None
    if state.steps:
        giver = state.steps[-1]
        if giver.budget_working_hours is not None:
            left = giver.budget_working_hours - giver.used_before
            step_due = cal.add_working_hours(c.occurred_at, left) if left > 0 else giver.due_at
            if left <= 0 and giver.agency_code != state.holder_agency_code:
                step_due = None  # the ended giver's overrun stays its own: no budget for the heir
    return [
        ev.HandoffReturned(
            occurred_at=c.occurred_at,
            actor=actor,
            from_agency_code=actor.agency_code,
            to_agency_code=state.holder_agency_code,
            reason=g.text(c.reason, "reason"),
            step_due_at=step_due,
        )
    ]


def consult(state: Dossier, c: cmd.RequestConsultation, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    actor = g.holder(state, c.actor, "request a consultation")
    g.require_not_in_transit(state)
    agency = c.agency_code.strip()
    if not agency or agency == state.holder_agency_code:
        raise InvalidValue("consult another agency than the one holding the dossier")
    if agency in state.open_consultations:
        raise RuleViolated(f"a consultation of {agency} is already open")
    return [
        ev.ConsultationRequested(
            occurred_at=c.occurred_at,
            actor=actor,
            consulted_agency_code=agency,
            question=g.text(c.question, "question"),
        )
    ]


def answer(state: Dossier, c: cmd.AnswerConsultation, cal: WorkingCalendar) -> list[ev.DossierEvent]:
    g.require_open(state)
    if not state.open_consultations:
        raise RuleViolated("no consultation is open on this dossier")
    if c.actor.role == g.INTEGRATION:
        agency = sorted(state.open_consultations)[0]
    else:
        agency = c.actor.agency_code
        if agency not in state.open_consultations:
            raise ActorNotAllowed(
                f"agency {agency or '(none)'} was not consulted; open: "
                + ", ".join(sorted(state.open_consultations))
            )
    actor = g.act_as(c.actor, agency, "answer the consultation")
    return [
        ev.ConsultationAnswered(
            occurred_at=c.occurred_at,
            actor=actor,
            consulted_agency_code=agency,
            answer=g.text(c.answer, "answer"),
        )
    ]
