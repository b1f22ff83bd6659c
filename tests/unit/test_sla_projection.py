"""SLA facts and Biểu 06 from real event histories (built through `decide`), computed by hand.

Calendar: Monday-Friday 07:30-11:30 and 13:00-17:00 (8 h a day), no holidays, so every
expectation below can be checked with a pencil. March 2026 starts on a Sunday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from domain import commands as c
from domain.agencies import Agency, AgencyLevel, Hierarchy
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.events import Actor, Channel, DossierEvent, Outcome
from domain.procedures import Procedure, RouteStep, SupplementPolicy
from projections import sla
from projections.sla import DossierFacts, Window, bieu06_of, late_attributed_of, window
from tests.unit.test_dossier import officer

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar(tz=VN)
P, D, W, B, S = "P", "D", "W", "B", "S"  # province, district, ward, land branch, department
REFORM = date(2025, 7, 1)

# 2026: province P; ward W and department S directly below it.
HIERARCHY = Hierarchy(
    [
        Agency(P, "UBND tỉnh", AgencyLevel.PROVINCE),
        Agency(W, "UBND phường", AgencyLevel.COMMUNE, parent_code=P),
        Agency(S, "Sở Nông nghiệp và Môi trường", AgencyLevel.PROVINCE_DEPARTMENT, parent_code=P),
    ]
)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def land(policy: SupplementPolicy = SupplementPolicy.RESTART) -> Procedure:
    # ward intake 4 h -> department 28 h -> ward return 8 h = 40 working hours
    return Procedure(
        "LAND", "Đăng ký đất đai", "Đất đai", 40, policy, (RouteStep(W, 4), RouteStep(S, 28), RouteStep(W, 8))
    )


class History:
    """A dossier driven through `decide` + `evolve`, keeping the events it produced."""

    def __init__(self, dossier_id: str = "d1") -> None:
        self.dossier_id = dossier_id
        self.state: Dossier | None = None
        self.events: list[DossierEvent] = []

    @classmethod
    def received(
        cls,
        procedure: Procedure,
        at: str,
        dossier_id: str = "d1",
        channel: Channel = Channel.DIRECT,
        imported: bool = False,
    ) -> History:
        return cls(dossier_id).do(
            c.ReceiveDossier(
                actor=officer(procedure.route[0].agency_code),
                occurred_at=t(at),
                dossier_id=dossier_id,
                receipt_code="R-" + dossier_id,
                procedure=procedure,
                channel=channel,
                receiving_agency_code=procedure.route[0].agency_code,
                applicant={"sealed": "x"},
                lookup_secret_hash="h",
                imported=imported,
            )
        )

    def do(self, command: c.Command) -> History:
        for event in decide(self.state, command, CAL):
            self.state = evolve(self.state, event)
            self.events.append(event)
        return self

    def handoff(self, src: str, dst: str, at: str, accept_at: str) -> History:
        self.do(c.HandOff(actor=officer(src), occurred_at=t(at), to_agency_code=dst))
        return self.do(c.AcceptHandoff(actor=officer(dst), occurred_at=t(accept_at)))

    def decided(self, agency: str, at: str) -> History:
        return self.do(c.DecideDossier(actor=officer(agency), occurred_at=t(at), outcome=Outcome.APPROVED))

    def ready(self, agency: str, at: str) -> History:
        return self.do(c.MarkResultReady(actor=officer(agency), occurred_at=t(at)))

    @property
    def facts(self) -> DossierFacts:
        facts = sla.fold(self.dossier_id, self.events)
        assert facts is not None
        return facts


def days(first: str, last: str) -> Window:
    return window(date.fromisoformat(first), date.fromisoformat(last), VN)


def late_only_because_the_department_overran() -> History:
    # Received Mon 2 Mar 08:00; due = 40 h later: Mon 7.5 h (08:00-11:30, 13-17) + Tue-Fri 32 h
    # = 39.5 h, + 0.5 h on Mon 9 Mar -> 08:00. Ward step due 08:00 + 3.5 h + 0.5 h -> 13:30 Mon.
    h = History.received(land(), "2026-03-02T08:00")
    # Ward hands off at 10:00 (2 h, on the due day, before 13:30: on time). Department accepts
    # at 11:00; its 28 h: Mon 0.5 + 4 = 4.5, Tue 12.5, Wed 20.5, Thu 07:30-11:30 24.5,
    # 13:00 + 3.5 -> due Thu 5 Mar 16:30.
    h.handoff(W, S, "2026-03-02T10:00", "2026-03-02T11:00")
    # The department decides and hands back Mon 9 Mar 09:00: 4.5 + 32 + 1.5 = 38 h of 28: late.
    h.decided(S, "2026-03-09T08:30").handoff(S, W, "2026-03-09T09:00", "2026-03-09T09:30")
    # Ward return step 8 h from 09:30 -> due Tue 10 Mar 09:30; result at 10:00 Mon: a day early.
    # The dossier itself: ready Mon 10:00 > due Mon 08:00 -> late.
    return h.ready(W, "2026-03-09T10:00")


def test_a_dossier_late_only_because_one_department_overran_is_charged_to_that_department() -> None:
    facts = late_only_because_the_department_overran().facts
    assert facts.timeliness == "late"
    assert [s.timeliness for s in facts.steps] == ["on_time", "late", "early"]
    assert facts.steps[1].used_working_hours == 38.0
    assert facts.steps[1].overrun_at == t("2026-03-05T16:30")
    assert [s.overrun_at for s in (facts.steps[0], facts.steps[2])] == [None, None]

    march = days("2026-03-01", "2026-03-31")
    by_agency = late_attributed_of([facts], march, HIERARCHY, VN, group_by="agency")
    assert by_agency == {S: 1}  # not the ward, whose desk received the late dossier
    assert late_attributed_of([facts], march, HIERARCHY, VN, group_by="level") == {"province_department": 1}
    assert late_attributed_of([facts], march, HIERARCHY, VN, group_by="procedure") == {"LAND": 1}

    # Biểu 06 at the ward's desk, period 15 Feb - 14 Mar: 1 received (direct), resolved late.
    form = bieu06_of([facts], days("2026-02-15", "2026-03-14"), agencies={W})
    assert (form.direct, form.received_total, form.late, form.resolved_total) == (1, 1, 1, 1)
    assert form.on_time_rate == 0.0  # (0 early + 0 on time) / 1 resolved
    # The department's own share (scope handled): its one step, late.
    handled = bieu06_of([facts], days("2026-02-15", "2026-03-14"), scope=sla.HANDLED, agencies={S})
    assert (handled.received_total, handled.late, handled.in_process_total) == (1, 1, 0)
    # The ward handled two steps of it: intake on time, return early -> rate (1 + 1) / 2.
    ward = bieu06_of([facts], days("2026-02-15", "2026-03-14"), scope=sla.HANDLED, agencies={W})
    assert (ward.received_total, ward.early, ward.on_time, ward.on_time_rate) == (2, 1, 1, 1.0)


def test_an_open_step_counts_once_in_the_window_where_it_went_over_budget() -> None:
    facts = late_only_because_the_department_overran().facts

    def late(w: Window) -> dict[str, int]:
        return late_attributed_of([facts], w, HIERARCHY, VN, group_by="agency")

    # Judged at the end of Thu 5 Mar the department's step is still open, 16:30 is past: over.
    assert late(days("2026-03-01", "2026-03-05")) == {S: 1}
    # At the end of Wed 4 Mar it was not over budget yet.
    assert late(days("2026-03-01", "2026-03-04")) == {}
    # Counted once: the later window where it was handed on late does not count it again.
    assert late(days("2026-03-06", "2026-03-31")) == {}
    # An instant range: a minute before 16:30 it is within its 28 h, a minute after it is over.
    assert late(window(t("2026-03-05T08:00"), t("2026-03-05T16:29"), VN)) == {}
    assert late(window(t("2026-03-05T08:00"), t("2026-03-05T16:31"), VN)) == {S: 1}
    # In process at the end of Thu 5 Mar, the department's step is the overdue one; the dossier
    # (due Mon 9 Mar) is within its due time.
    handled = bieu06_of([facts], days("2026-03-01", "2026-03-05"), scope=sla.HANDLED, agencies={S})
    assert (handled.overdue, handled.within_due) == (1, 0)
    form = bieu06_of([facts], days("2026-03-01", "2026-03-05"), agencies={W})
    assert (form.in_process_total, form.within_due, form.overdue) == (1, 1, 0)


def test_waiting_for_the_citizen_under_pause_is_charged_to_nobody() -> None:
    h = History.received(land(SupplementPolicy.PAUSE), "2026-03-02T08:00")  # due Mon 9 Mar 08:00 (as above)
    h.handoff(W, S, "2026-03-02T10:00", "2026-03-02T11:00")  # department due Thu 5 Mar 16:30
    # Tue 3 Mar 11:00 the department asks for a supplement. Its step has used
    # Mon 0.5 + 4 + Tue 07:30-11:00 3.5 = 8 h; the dossier has Tue 4.5 + Wed-Fri 24 + Mon 0.5 = 29 h left.
    h.do(c.RequestSupplement(actor=officer(S), occurred_at=t("2026-03-03T11:00"), reason="thiếu giấy tờ"))
    # The citizen brings it a week later, Tue 10 Mar 08:00 — after the original due time.
    h.do(c.ReceiveSupplement(actor=officer(W), occurred_at=t("2026-03-10T08:00")))
    # Pause: 29 h resume from Tue 08:00: Tue 7.5, Wed 15.5, Thu 23.5, Fri 07:30-11:30 27.5,
    # 13:00 + 1.5 -> due Fri 13 Mar 14:30. Step: 28 - 8 = 20 h left: Tue 7.5, Wed 15.5,
    # Thu 07:30-11:30 19.5, 13:00 + 0.5 -> Thu 12 Mar 13:30.
    assert h.state is not None and h.state.due_at == t("2026-03-13T14:30")
    h.decided(S, "2026-03-12T08:30")
    # Handed on Thu 09:00: 8 + Tue 7.5 + Wed 8 + Thu 1.5 = 25 h of 28, on the due day: on time.
    h.handoff(S, W, "2026-03-12T09:00", "2026-03-12T10:00")
    h.ready(W, "2026-03-12T14:00")  # a day before Fri 13 Mar: early
    facts = h.facts
    assert facts.timeliness == "early"
    assert facts.steps[1].used_working_hours == 25.0
    assert facts.steps[1].timeliness == "on_time" and facts.steps[1].overrun_at is None
    assert (
        late_attributed_of([facts], days("2026-03-01", "2026-03-31"), HIERARCHY, VN, group_by="agency") == {}
    )
    # Judged at the end of Mon 9 Mar (past the original due 08:00) the dossier is waiting for
    # the citizen with 29 h left: in process, within due — not overdue.
    form = bieu06_of([facts], days("2026-02-15", "2026-03-09"), agencies={W})
    assert (form.in_process_total, form.within_due, form.overdue) == (1, 1, 0)
    assert not facts.is_overdue_at(t("2026-03-09T12:00"))
    handled = bieu06_of([facts], days("2026-02-15", "2026-03-09"), scope=sla.HANDLED, agencies={S})
    assert (handled.within_due, handled.overdue) == (1, 0)


def test_an_apology_sets_a_new_appointment_but_the_dossier_still_counts_late() -> None:
    h = History.received(land(), "2026-03-02T08:00")  # due Mon 9 Mar 08:00
    h.handoff(W, S, "2026-03-02T10:00", "2026-03-02T11:00")
    # Fri 6 Mar, before the due time, the department apologises and promises Fri 13 Mar 17:00.
    h.do(
        c.IssueApology(
            actor=officer(S),
            occurred_at=t("2026-03-06T10:00"),
            new_due_at=t("2026-03-13T17:00"),
            reason="cần xác minh",
        )
    )
    h.decided(S, "2026-03-10T08:00").handoff(S, W, "2026-03-10T08:30", "2026-03-10T09:00")
    h.ready(W, "2026-03-10T09:30")  # before the promise, after the due time
    facts = h.facts
    assert facts.promised_at == t("2026-03-13T17:00")
    assert facts.timeliness == "late"
    # At the end of Mon 9 Mar it is past the due time: overdue, the apology notwithstanding.
    assert bieu06_of([facts], days("2026-02-15", "2026-03-09"), agencies={W}).overdue == 1
    form = bieu06_of([facts], days("2026-02-15", "2026-03-14"), agencies={W})
    assert (form.late, form.on_time_rate) == (1, 0.0)


def test_a_restart_after_a_supplement_ends_the_overdue_span_and_the_overrun_counts_once() -> None:
    h = History.received(land(), "2026-03-02T08:00")  # due Mon 9 Mar 08:00
    h.handoff(W, S, "2026-03-02T10:00", "2026-03-02T11:00")  # department due Thu 5 Mar 16:30
    # Tue 10 Mar 09:00, already overdue (Mon 08:00-17:00 7.5 h + Tue 1.5 h = 9 h past due).
    h.do(c.RequestSupplement(actor=officer(S), occurred_at=t("2026-03-10T09:00"), reason="thiếu"))
    assert h.state is not None and h.state.remaining_working_hours == -9.0
    # Mon 16 Mar 08:00: restart, the full 40 h from then -> due Mon 23 Mar 08:00.
    h.do(c.ReceiveSupplement(actor=officer(W), occurred_at=t("2026-03-16T08:00")))
    facts = h.facts
    assert facts.due_at == t("2026-03-23T08:00")
    assert facts.spans == (
        sla.Span(t("2026-03-09T08:00"), t("2026-03-16T08:00")),
        sla.Span(t("2026-03-23T08:00")),
    )
    assert facts.is_overdue_at(t("2026-03-13T12:00"))  # paused while overdue stays overdue
    assert not facts.is_overdue_at(t("2026-03-17T12:00"))  # the restart gave it a new due time
    # The department's step: over budget since Thu 5 Mar 16:30 (used 4.5 + 32 + 8 + 1.5 = 46 h
    # of 28 at the pause); its budget restarts too (28 h from Mon 16 Mar 08:00 -> Thu 19 Mar 13:30).
    step = facts.steps[1]
    assert step.overrun_at == t("2026-03-05T16:30") and step.due_at == t("2026-03-19T13:30")
    assert bieu06_of([facts], days("2026-02-15", "2026-03-13"), agencies={W}).overdue == 1
    after = bieu06_of([facts], days("2026-03-15", "2026-03-17"), agencies={W})
    assert (after.carried_over, after.within_due, after.overdue) == (1, 1, 0)

    def late(w: Window) -> dict[str, int]:
        return late_attributed_of([facts], w, HIERARCHY, VN, group_by="agency")

    assert late(days("2026-02-15", "2026-03-14")) == {S: 1}
    assert late(days("2026-03-15", "2026-04-14")) == {}


# Before 1 July 2025: ward W under district D; land branch B is a district office.
# From 1 July 2025: districts are gone; W is under the province, B under department S.
REFORMED = Hierarchy(
    [
        Agency(P, "UBND tỉnh", AgencyLevel.PROVINCE),
        Agency(S, "Sở Nông nghiệp và Môi trường", AgencyLevel.PROVINCE_DEPARTMENT, parent_code=P),
        Agency(D, "UBND quận", AgencyLevel.DISTRICT, parent_code=P, valid_to=REFORM - timedelta(days=1)),
        Agency(W, "UBND phường", AgencyLevel.COMMUNE, parent_code=D, valid_to=REFORM - timedelta(days=1)),
        Agency(W, "UBND phường", AgencyLevel.COMMUNE, parent_code=P, valid_from=REFORM),
        Agency(
            B, "Chi nhánh VPĐKĐĐ", AgencyLevel.DISTRICT, parent_code=D, valid_to=REFORM - timedelta(days=1)
        ),
        Agency(B, "Chi nhánh VPĐKĐĐ", AgencyLevel.PROVINCE_DEPARTMENT, parent_code=S, valid_from=REFORM),
    ]
)


def three_levels_before_the_reform() -> DossierFacts:
    # W 4 h -> B 16 h -> S 16 h -> W 4 h = 40 h. Received Mon 2 Jun 2025 08:00: due Mon 9 Jun 08:00.
    three = Procedure(
        "LAND3", "Đất đai", "Đất đai", 40, SupplementPolicy.RESTART,
        (RouteStep(W, 4), RouteStep(B, 16), RouteStep(S, 16), RouteStep(W, 4)),
    )  # fmt: skip
    h = History.received(three, "2025-06-02T08:00", dossier_id="pre")
    # B accepts Mon 10:00; 16 h: Mon 5.5, Tue 13.5, Wed 07:30 + 2.5 -> due Wed 4 Jun 10:00.
    h.handoff(W, B, "2025-06-02T09:00", "2025-06-02T10:00")
    h.handoff(B, S, "2025-06-06T09:00", "2025-06-06T10:00")  # B late; S due Tue 10 Jun 10:00
    h.decided(S, "2025-06-09T14:00").handoff(S, W, "2025-06-09T15:00", "2025-06-09T16:00")
    return h.ready(W, "2025-06-10T08:00").facts  # after Mon 9 Jun 08:00: late


def two_levels_after_the_reform() -> DossierFacts:
    # W 4 h -> B 32 h -> W 4 h = 40 h. Received Mon 4 Aug 2025 08:00: due Mon 11 Aug 08:00.
    two = Procedure(
        "LAND2", "Đất đai", "Đất đai", 40, SupplementPolicy.RESTART,
        (RouteStep(W, 4), RouteStep(B, 32), RouteStep(W, 4)),
    )  # fmt: skip
    h = History.received(two, "2025-08-04T08:00", dossier_id="post")
    # B accepts Mon 10:00; 32 h: Mon 5.5, Tue 13.5, Wed 21.5, Thu 29.5, Fri 07:30 + 2.5 -> Fri 8 Aug 10:00.
    h.handoff(W, B, "2025-08-04T09:00", "2025-08-04T10:00")
    h.decided(B, "2025-08-12T08:30").handoff(B, W, "2025-08-12T09:00", "2025-08-12T10:00")
    return h.ready(W, "2025-08-12T11:00").facts  # late


def test_delays_are_charged_to_the_level_the_agency_had_when_its_step_went_over_budget() -> None:
    pre, post = three_levels_before_the_reform(), two_levels_after_the_reform()
    assert pre.steps[1].overrun_at == t("2025-06-04T10:00")
    assert post.steps[1].overrun_at == t("2025-08-08T10:00")
    summer = days("2025-06-01", "2025-08-31")
    # The same branch B: a district office in June, a department's branch in August.
    by_level = late_attributed_of([pre, post], summer, REFORMED, VN, group_by="level")
    assert by_level == {"district": 1, "province_department": 1}
    assert late_attributed_of([pre, post], summer, REFORMED, VN, group_by="agency") == {B: 2}
    # Before the reform the dossier crossed three levels, after it two.

    def levels(f: DossierFacts) -> set[str]:
        return {sla.level_on(REFORMED, s.agency_code, s.entered_at.date()) for s in f.steps}

    assert levels(pre) == {"commune", "district", "province_department"}
    assert levels(post) == {"commune", "province_department"}


def test_include_children_follows_the_hierarchy_of_the_report_period() -> None:
    pre, post = three_levels_before_the_reform(), two_levels_after_the_reform()
    june, august = days("2025-06-01", "2025-06-30"), days("2025-08-01", "2025-08-31")

    def under(root: str, w: Window) -> sla.Bieu06:
        first, last = w.days(VN)
        agencies = sla.agencies_during(REFORMED, root, first, last, include_children=True)
        return bieu06_of([pre, post], w, agencies=agencies)

    # In June the ward was under district D: D's report counts the ward's dossier.
    assert (under(D, june).received_total, under(D, june).late) == (1, 1)
    # In August D no longer exists and the ward is under the province.
    assert under(D, august).received_total == 0
    assert (under(P, august).received_total, under(P, august).late) == (1, 1)
    assert under(P, june).received_total == 1  # the province is above the district in June
    # The ward's level is commune in either period.
    assert sla.level_during(REFORMED, W, date(2025, 6, 1), date(2025, 8, 31)) == "commune"
    assert sla.level_during(REFORMED, B, date(2025, 6, 1), date(2025, 6, 30)) == "district"


def test_reporting_periods_run_from_the_15th_to_the_14th() -> None:
    assert sla.reporting_period(2026, 5) == (date(2026, 4, 15), date(2026, 5, 14))
    assert sla.reporting_period(2026, 1) == (date(2025, 12, 15), date(2026, 1, 14))
    assert sla.period_of(date(2026, 4, 14)) == (2026, 4)
    assert sla.period_of(date(2026, 4, 15)) == (2026, 5)
    assert sla.period_of(date(2026, 12, 20)) == (2027, 1)

    one_step = Procedure("CT", "Chứng thực", "Chứng thực", 4, SupplementPolicy.RESTART, (RouteStep(W, 4),))
    # A: received on the 14th, late afternoon, still open on the 15th.
    a = History.received(land(), "2026-04-14T16:00", dossier_id="a").facts
    # B: received on the 15th at the opening.
    b = History.received(land(), "2026-04-15T07:30", dossier_id="b").facts
    # C: received Mon 13 Apr 08:00 (due 08:00 + 3.5 h + 0.5 h = 13:30), ready 11:00: on time.
    c_ = History.received(one_step, "2026-04-13T08:00", dossier_id="c").decided(W, "2026-04-13T10:00")
    c_.ready(W, "2026-04-13T11:00")
    facts = [a, b, c_.facts]

    april = bieu06_of(facts, days(*map(str, sla.reporting_period(2026, 4))), agencies={W})
    assert (april.direct, april.carried_over, april.on_time, april.in_process_total) == (2, 0, 1, 1)
    assert april.on_time_rate == 1.0
    may = bieu06_of(facts, days(*map(str, sla.reporting_period(2026, 5))), agencies={W})
    assert (may.direct, may.carried_over, may.received_total) == (1, 1, 2)
    # Judged at the end of 14 May both are overdue: A was due Tue 21 Apr 16:00
    # (Tue 1 h, Wed-Fri 25, Mon 33, Tue 07:30-11:30 37, 13:00 + 3); B, received at the
    # opening, five whole working days later: Tue 21 Apr 17:00.
    assert (may.in_process_total, may.overdue, may.within_due) == (2, 2, 0)
    assert a.due_at == t("2026-04-21T16:00") and b.due_at == t("2026-04-21T17:00")
    # Judged at the end of Mon 20 Apr (an instant range inside the period) neither is overdue yet.
    monday = bieu06_of(facts, window(date(2026, 4, 15), t("2026-04-20T23:59"), VN), agencies={W})
    assert (monday.in_process_total, monday.within_due, monday.overdue) == (2, 2, 0)


def test_closed_without_result_is_counted_apart_and_imports_stay_out_unless_asked() -> None:
    withdrawn = History.received(land(), "2026-03-02T08:00", dossier_id="w")
    withdrawn.do(c.Withdraw(actor=officer(W), occurred_at=t("2026-03-03T09:00"), reason="rút hồ sơ"))
    # An online submission refused at intake: received and closed at the refusal.
    refused = (
        History("r")
        .do(
            c.SubmitOnline(
                actor=Actor("", "portal", "integration"),
                occurred_at=t("2026-03-02T20:00"),
                dossier_id="r",
                receipt_code="R-r",
                procedure=land(),
                receiving_agency_code=W,
                applicant={"sealed": "x"},
                lookup_secret_hash="h",
            )
        )
        .do(c.RefuseIntake(actor=officer(W), occurred_at=t("2026-03-03T08:00"), reason="sai thủ tục"))
    )
    legacy = History.received(land(), "2026-03-02T09:00", dossier_id="l", imported=True).facts
    facts = [withdrawn.facts, refused.facts, legacy]
    form = bieu06_of(facts, days("2026-02-15", "2026-03-14"), agencies={W})
    # withdrawn: direct, refused: online; both closed; the imported one is left out.
    assert (form.direct, form.online, form.closed_without_result) == (1, 1, 2)
    assert (form.resolved_total, form.in_process_total) == (0, 0)
    with_imports = bieu06_of(facts, days("2026-02-15", "2026-03-14"), agencies={W}, include_imported=True)
    assert (with_imports.direct, with_imports.in_process_total) == (2, 1)


def test_a_dossier_refused_a_day_after_its_receipt_stays_received_in_the_closed_period() -> None:
    # Received at the desk Thu 14 May 16:00 (the last day of period 2026-05), refused there
    # Fri 15 May 08:00: received in May and in process at the period's end, carried over to
    # June and closed without result there; its desk step and clock stop at the refusal.
    h = History.received(land(), "2026-05-14T16:00")
    h.do(c.RefuseIntake(actor=officer(W), occurred_at=t("2026-05-15T08:00"), reason="thiếu giấy tờ"))
    one_by_one = h.facts
    batched = sla.fold_batch({}, [(h.dossier_id, n, e) for n, e in enumerate(h.events, start=1)])
    assert batched[h.dossier_id] == one_by_one
    may = bieu06_of([one_by_one], days(*map(str, sla.reporting_period(2026, 5))), agencies={W})
    assert (may.direct, may.received_total, may.closed_without_result) == (1, 1, 0)
    assert (may.within_due, may.overdue) == (1, 0)
    # Judged long after its due day (Thu 21 May 16:00): closed, so neither in process nor overdue.
    june = bieu06_of([one_by_one], days(*map(str, sla.reporting_period(2026, 6))), agencies={W})
    assert (june.direct, june.carried_over, june.closed_without_result) == (0, 1, 1)
    assert (june.within_due, june.overdue, june.in_process_total) == (0, 0, 0)
    # The desk's 4 h step (due Fri 15 May 11:00) ended at the refusal: no delay is charged.
    late = late_attributed_of(
        [one_by_one], days("2026-05-15", "2026-12-31"), HIERARCHY, VN, group_by="agency"
    )
    assert late == {}
    handled = bieu06_of([one_by_one], days("2026-05-15", "2026-06-14"), scope=sla.HANDLED, agencies={W})
    assert (handled.closed_without_result, handled.in_process_total, handled.overdue) == (1, 0, 0)


def test_a_redelivered_event_changes_nothing() -> None:
    h = late_only_because_the_department_overran()
    facts = h.facts
    assert sla.apply(facts, h.dossier_id, 3, h.events[2]) is facts
    assert sla.apply(None, "x", 2, h.events[1]) is None  # a stream never starts with a handoff


def test_bucket_ranges_cover_a_range_with_days_months_and_years() -> None:
    ranges = sla.bucket_ranges(date(2024, 11, 20), date(2026, 2, 3))
    assert ranges == [
        ("d", "2024-11-20", "2024-11-30"),
        ("m", "2024-12", "2024-12"),
        ("y", "2025", "2025"),
        ("m", "2026-01", "2026-01"),
        ("d", "2026-02-01", "2026-02-02"),
    ]


def _expand(ranges: list[tuple[str, str, str]]) -> list[date]:
    """Every day inside the buckets, in order."""
    out: list[date] = []
    for grain, low, high in ranges:
        width = {"d": 10, "m": 7, "y": 4}[grain]
        day = date.fromisoformat((low + "-01-01")[:10])  # the first day of the low bucket
        while day.isoformat()[:width] <= high:
            out.append(day)
            day += timedelta(days=1)
    return out


@given(st.dates(date(2019, 1, 1), date(2031, 12, 31)), st.integers(0, 1200))
def test_bucket_ranges_cover_each_day_exactly_once(first: date, length: int) -> None:
    stop = first + timedelta(days=length)
    ranges = sla.bucket_ranges(first, stop)
    assert _expand(ranges) == [first + timedelta(days=i) for i in range(length)]
    assert len(ranges) <= 5
