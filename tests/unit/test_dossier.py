"""The dossier aggregate: each invariant of DOMAIN.md broken once, and the clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import commands as c
from domain.calendar import WorkingCalendar
from domain.decide import allowed_actions, decide
from domain.dossier import Dossier, Status, evolve, fold
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated, UnknownDossier
from domain.events import Actor, Channel, Outcome, Timeliness
from domain.procedures import Procedure, RouteStep, SupplementPolicy

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar(tz=VN)
WARD, DISTRICT, DEPT = "W", "D", "S"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def officer(agency: str) -> Actor:
    return Actor(agency_code=agency, user=f"u@{agency}", role="officer")


def procedure(policy: SupplementPolicy = SupplementPolicy.RESTART) -> Procedure:
    # ward intake 4 h -> district 16 h -> department 16 h -> ward return 4 h = 40 h
    return Procedure(
        "P",
        "Cấp phép",
        "test",
        40,
        policy,
        (RouteStep(WARD, 4), RouteStep(DISTRICT, 16), RouteStep(DEPT, 16), RouteStep(WARD, 4)),
    )


def receive(at: str, dossier_id: str = "d1", proc: Procedure | None = None) -> c.ReceiveDossier:
    return c.ReceiveDossier(
        actor=officer(WARD),
        occurred_at=t(at),
        dossier_id=dossier_id,
        receipt_code="R-" + dossier_id,
        procedure=proc or procedure(),
        channel=Channel.DIRECT,
        receiving_agency_code=WARD,
        applicant={},
        lookup_secret_hash="h",
    )


class Walk:
    """Applies commands through decide+evolve, like the service does."""

    def __init__(
        self, policy: SupplementPolicy = SupplementPolicy.RESTART, at: str = "2026-03-02T08:00"
    ) -> None:
        self.state: Dossier | None = None
        self.run(
            c.ReceiveDossier(
                actor=officer(WARD),
                occurred_at=t(at),
                dossier_id="d1",
                receipt_code="R1",
                procedure=procedure(policy),
                channel=Channel.DIRECT,
                receiving_agency_code=WARD,
                applicant={"sealed": "x"},
                lookup_secret_hash="h",
            )
        )

    def run(self, command: c.Command) -> Dossier:
        for event in decide(self.state, command, CAL):
            self.state = evolve(self.state, event)
        assert self.state is not None
        return self.state

    def handoff(self, src: str, dst: str, at: str, accept_at: str | None = None) -> Dossier:
        self.run(c.HandOff(actor=officer(src), occurred_at=t(at), to_agency_code=dst))
        if accept_at:
            return self.run(c.AcceptHandoff(actor=officer(dst), occurred_at=t(accept_at)))
        assert self.state is not None
        return self.state


def test_received_dossier_gets_its_due_time_and_first_step() -> None:
    s = Walk().state
    assert s is not None
    # Mon 08:00 + 40 working hours: Mon 7.5 h (08:00-11:30 = 3.5, 13-17 = 4),
    # Tue-Fri 32 h -> 39.5, then Mon 9 Mar 07:30 + 0.5 h -> 08:00.
    assert s.due_at == t("2026-03-09T08:00")
    assert s.status == Status.RECEIVED and s.status_code == 2
    assert s.steps[0].due_at == t("2026-03-02T13:30")  # 08:00 + 3.5 h to 11:30, + 0.5 h after lunch


def test_only_the_holder_acts() -> None:
    w = Walk()
    with pytest.raises(ActorNotAllowed):
        w.run(c.HandOff(actor=officer(DISTRICT), occurred_at=t("2026-03-02T09:00"), to_agency_code=DEPT))


def test_inspector_role_never_writes() -> None:
    w = Walk()
    with pytest.raises(ActorNotAllowed):
        w.run(
            c.HandOff(
                actor=Actor(WARD, "i", "inspector"), occurred_at=t("2026-03-02T09:00"), to_agency_code=DEPT
            )
        )


def test_integration_acts_for_the_holder_and_is_recorded_as_it() -> None:
    w = Walk()
    events = decide(
        w.state,
        c.HandOff(
            actor=Actor("", "portal", "integration"),
            occurred_at=t("2026-03-02T09:00"),
            to_agency_code=DISTRICT,
        ),
        CAL,
    )
    assert events[0].actor.agency_code == WARD


def test_a_handoff_must_be_accepted_or_returned_before_the_next() -> None:
    w = Walk()
    w.handoff(WARD, DISTRICT, "2026-03-02T09:00")
    with pytest.raises(RuleViolated, match="in transit"):
        w.run(c.HandOff(actor=officer(WARD), occurred_at=t("2026-03-02T09:30"), to_agency_code=DEPT))


def test_only_the_named_receiver_accepts() -> None:
    w = Walk()
    w.handoff(WARD, DISTRICT, "2026-03-02T09:00")
    with pytest.raises(ActorNotAllowed):
        w.run(c.AcceptHandoff(actor=officer(DEPT), occurred_at=t("2026-03-02T10:00")))


def test_no_event_after_a_terminal_state() -> None:
    w = Walk()
    w.run(c.Withdraw(actor=officer(WARD), occurred_at=t("2026-03-02T09:00"), reason="citizen asked"))
    for command in (
        c.HandOff(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), to_agency_code=DISTRICT),
        c.StopProcessing(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), reason="x"),
    ):
        with pytest.raises(RuleViolated, match="closed"):
            w.run(command)


def test_apology_only_before_due_and_it_still_counts_late() -> None:
    w = Walk()
    due = w.state.due_at if w.state else None
    assert due is not None
    with pytest.raises(RuleViolated, match="before the due time"):
        w.run(
            c.IssueApology(
                actor=officer(WARD),
                occurred_at=due + timedelta(minutes=1),
                new_due_at=due + timedelta(days=3),
                reason="late",
            )
        )
    w.run(
        c.IssueApology(
            actor=officer(WARD),
            occurred_at=t("2026-03-06T09:00"),
            new_due_at=t("2026-03-12T09:00"),
            reason="verification at another agency",
        )
    )
    w.run(c.DecideDossier(actor=officer(WARD), occurred_at=t("2026-03-10T09:00"), outcome=Outcome.APPROVED))
    s = w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-10T10:00")))
    assert s.promised_at == t("2026-03-12T09:00")
    assert s.timeliness == Timeliness.LATE  # against the original due (Mon 09 08:00), not the promise


def test_apology_needs_a_later_appointment() -> None:
    w = Walk()
    with pytest.raises(InvalidValue):
        w.run(
            c.IssueApology(
                actor=officer(WARD),
                occurred_at=t("2026-03-03T09:00"),
                new_due_at=t("2026-03-04T09:00"),
                reason="x",
            )
        )


def test_event_times_never_go_backwards() -> None:
    w = Walk()
    with pytest.raises(RuleViolated, match="backwards"):
        w.run(c.HandOff(actor=officer(WARD), occurred_at=t("2026-03-02T07:59"), to_agency_code=DISTRICT))


def test_commands_on_unknown_dossier() -> None:
    with pytest.raises(UnknownDossier):
        decide(None, c.AcceptHandoff(actor=officer(WARD), occurred_at=t("2026-03-02T08:00")), CAL)


def test_a_dossier_cannot_be_received_twice() -> None:
    w = Walk()
    with pytest.raises(RuleViolated):
        w.run(receive("2026-03-02T09:00", "d1"))


def test_result_ready_needs_a_decision() -> None:
    w = Walk()
    with pytest.raises(RuleViolated, match="no decision"):
        w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-02T09:00")))


def test_full_inter_level_walk_and_delay_attribution() -> None:
    w = Walk()
    w.handoff(WARD, DISTRICT, "2026-03-02T11:00", "2026-03-02T14:00")  # ward used 3 h of 4 -> early? same day
    # district budget 16 h from Mon 14:00: Mon 3 h, Tue 8 h, Wed 07:30 + 5 h -> Wed 14:00
    assert w.state and w.state.steps[1].due_at == t("2026-03-04T14:00")
    w.handoff(DISTRICT, DEPT, "2026-03-05T09:00", "2026-03-05T10:00")  # Thu: district over its budget -> late
    w.run(c.DecideDossier(actor=officer(DEPT), occurred_at=t("2026-03-06T09:00"), outcome=Outcome.APPROVED))
    w.handoff(DEPT, WARD, "2026-03-06T09:30", "2026-03-06T10:00")
    s = w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-06T11:00")))
    # ward 08:00-11:00 vs due 13:30 same day: on time; district due Wed 14:00, left Thu: late;
    # department due Mon 10:00 (Thu 5.5 h + Fri 8 h + Mon 2.5 h), left Fri: early;
    # ward return due Fri 15:00 (10:00 + 4 h), ready Fri 11:00 the same day: on time.
    assert [st.timeliness for st in s.steps] == [
        Timeliness.ON_TIME,
        Timeliness.LATE,
        Timeliness.EARLY,
        Timeliness.ON_TIME,
    ]
    # the dossier itself is early: ready Fri 06, due Mon 09
    assert s.timeliness == Timeliness.EARLY and s.status == Status.RESULT_READY and s.status_code == 9
    s = w.run(c.ReturnResult(actor=officer(WARD), occurred_at=t("2026-03-06T14:00")))
    assert (
        s.status == Status.RETURNED
        and s.status_code == 10
        and allowed_actions(s, WARD, t("2026-03-06T15:00")) == ["satisfaction"]  # only the rating is left
    )


def test_return_reopens_the_givers_step_and_transit_is_nobodys() -> None:
    w = Walk()
    w.handoff(WARD, DISTRICT, "2026-03-02T09:00")
    s = w.run(
        c.ReturnHandoff(actor=officer(DISTRICT), occurred_at=t("2026-03-02T14:00"), reason="incomplete")
    )
    assert s.holder_agency_code == WARD and s.pending_handoff_to is None and s.steps[-1].is_open
    # ward used 1 h before handing off; the transit (09:00-14:00) is not charged to it
    assert s.steps[-1].used_working_hours(CAL, t("2026-03-02T15:00")) == pytest.approx(2.0)
    # and the next route step for the district is still step 1
    s = w.handoff(WARD, DISTRICT, "2026-03-02T15:00", "2026-03-02T15:30")
    assert s.steps[-1].route_index == 1


def test_off_route_handoff_has_no_budget() -> None:
    w = Walk()
    s = w.handoff(WARD, "X", "2026-03-02T09:00", "2026-03-02T09:30")
    assert s.steps[-1].route_index is None and s.steps[-1].budget_working_hours is None


def test_pause_supplement_is_charged_to_nobody() -> None:
    w = Walk(SupplementPolicy.PAUSE)
    due_before = w.state.due_at if w.state else None
    w.run(c.RequestSupplement(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), reason="missing copy"))
    assert w.state and w.state.status == Status.AWAITING_SUPPLEMENT and w.state.status_code == 5
    with pytest.raises(RuleViolated):
        w.run(c.HandOff(actor=officer(WARD), occurred_at=t("2026-03-03T10:00"), to_agency_code=DISTRICT))
    s = w.run(c.ReceiveSupplement(actor=officer(WARD), occurred_at=t("2026-03-04T10:00")))
    # paused Mon 10:00 -> Wed 10:00 = 16 working hours not charged: due moves by exactly that
    assert due_before is not None and s.due_at == CAL.add_working_hours(due_before, 16)
    assert s.steps[0].used_working_hours(CAL, t("2026-03-04T10:00")) == pytest.approx(2.0)


def test_restart_supplement_counts_the_full_deadline_again() -> None:
    w = Walk(SupplementPolicy.RESTART)
    w.run(c.RequestSupplement(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), reason="missing copy"))
    s = w.run(c.ReceiveSupplement(actor=officer(WARD), occurred_at=t("2026-03-04T10:00")))
    assert s.due_at == CAL.add_working_hours(t("2026-03-04T10:00"), 40)
    assert s.steps[0].used_before == 0.0


def test_fee_wait_stops_the_clock() -> None:
    w = Walk()
    w.run(c.RequestFee(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), amount_vnd=50_000))
    assert w.state and w.state.status_code == 6
    with pytest.raises(InvalidValue):
        Walk().run(c.RequestFee(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), amount_vnd=0))
    s = w.run(c.PayFee(actor=officer(WARD), occurred_at=t("2026-03-03T10:00")))
    assert s.status == Status.IN_PROCESS and s.due_at == CAL.add_working_hours(t("2026-03-09T08:00"), 8)


def test_consultation_is_answered_by_the_consulted_agency_only() -> None:
    w = Walk()
    w.run(
        c.RequestConsultation(
            actor=officer(WARD), occurred_at=t("2026-03-02T09:00"), agency_code=DEPT, question="ý kiến?"
        )
    )
    with pytest.raises(ActorNotAllowed):
        w.run(c.AnswerConsultation(actor=officer(DISTRICT), occurred_at=t("2026-03-02T10:00"), answer="x"))
    s = w.run(c.AnswerConsultation(actor=officer(DEPT), occurred_at=t("2026-03-02T10:00"), answer="đồng ý"))
    assert s.open_consultations == frozenset() and s.holder_agency_code == WARD


def test_online_submission_intake_and_refusal() -> None:
    portal = Actor("", "portal", "integration")
    submit = c.SubmitOnline(
        actor=portal,
        occurred_at=t("2026-03-02T20:00"),
        dossier_id="d2",
        receipt_code="R2",
        procedure=procedure(),
        receiving_agency_code=WARD,
        applicant={},
        lookup_secret_hash="h",
    )
    s = fold(decide(None, submit, CAL))
    assert s and s.status == Status.SUBMITTED and s.status_code == 1
    # Awaiting intake, it already says what it asks for (the name the catalogue gave).
    assert s.procedure_name == procedure().name != ""
    with pytest.raises(ActorNotAllowed):
        decide(None, c.SubmitOnline(**{**submit.__dict__, "actor": officer(WARD)}), CAL)
    received = fold(
        [
            *decide(None, submit, CAL),
            *decide(
                s,
                c.AcceptIntake(actor=officer(WARD), occurred_at=t("2026-03-03T08:00"), procedure=procedure()),
                CAL,
            ),
        ]
    )
    assert received and received.status == Status.RECEIVED and received.channel == Channel.ONLINE
    refused = fold(
        [
            *decide(None, submit, CAL),
            *decide(
                s,
                c.RefuseIntake(actor=officer(WARD), occurred_at=t("2026-03-03T08:00"), reason="sai thủ tục"),
                CAL,
            ),
        ]
    )
    assert refused and refused.status_code == 3 and refused.is_terminal


def test_same_day_procedure_after_15h_counts_from_next_morning() -> None:
    p = Procedure("C", "Chứng thực", "t", 4, SupplementPolicy.RESTART, (RouteStep(WARD, 4),))
    s = fold(
        decide(
            None,
            receive("2026-03-02T15:30", "d3", p),
            CAL,
        )
    )
    assert s and s.due_at == t("2026-03-03T11:30")


def test_as_of_folds_only_earlier_events() -> None:
    w = Walk()
    w.handoff(WARD, DISTRICT, "2026-03-02T11:00", "2026-03-02T14:00")
    events = decide(
        None,
        receive("2026-03-02T08:00", "d1"),
        CAL,
    )
    assert fold(events, as_of=t("2026-03-02T07:00")) is None


def test_the_desk_is_offered_refusal_exactly_while_the_rules_allow_it() -> None:
    """A dossier brought to the desk may be refused there until it is handed on (decision 3):
    the actions offered say so, as they do for an online submission at intake."""
    walk = Walk()
    at = t("2026-03-02T09:00")
    assert walk.state is not None and "refuse" in allowed_actions(walk.state, WARD, at)
    assert "refuse" not in allowed_actions(walk.state, DEPT, at)  # only the desk
    refused = decide(
        walk.state, c.RefuseIntake(actor=officer(WARD), occurred_at=at, reason="thiếu giấy tờ"), CAL
    )
    assert [type(e).__name__ for e in refused] == ["DossierRefusedAtIntake"]
    handed = walk.handoff(WARD, DEPT, "2026-03-02T10:00", accept_at="2026-03-02T11:00")
    later = t("2026-03-02T12:00")
    assert "refuse" not in allowed_actions(handed, WARD, later) + allowed_actions(handed, DEPT, later)
    with pytest.raises(RuleViolated):
        decide(handed, c.RefuseIntake(actor=officer(WARD), occurred_at=later, reason="x"), CAL)
