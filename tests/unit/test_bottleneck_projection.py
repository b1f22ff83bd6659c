"""The bottleneck fold: stays, transit per edge, returns, supplement loops, WIP deltas.

Histories are made by the domain (decide + evolve) on the default calendar
(07:30-11:30, 13:00-17:00, Monday-Friday), so every event carries what the
service would record.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from domain import commands as c
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.events import DossierEvent, DossierReceived, Outcome
from domain.procedures import SupplementPolicy
from projections import bottleneck as b
from tests.unit.test_dossier import Walk as DossierWalk
from tests.unit.test_dossier import officer

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar(tz=VN)
WARD, DISTRICT, DEPT, INSPECTORATE = "W", "D", "S", "T"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def day(text: str) -> int:
    return b.number_of(date.fromisoformat(text))


def agency(code: str) -> b.Subject:
    return b.Subject(b.Kind.AGENCY, code)


def edge(giver: str, receiver: str) -> b.Subject:
    return b.Subject(b.Kind.EDGE, giver, receiver)


def step(code: str, index: int) -> b.Subject:
    return b.Subject(b.Kind.STEP, code, "P", index)


@dataclass
class Folded:
    """Every fact the fold emitted for one dossier, netted the way a store sums them."""

    flow: b.Flow | None = None
    tallies: Counter[tuple[b.Subject, str, int]] = field(default_factory=Counter)
    samples: Counter[tuple[b.Subject, int, int]] = field(default_factory=Counter)
    stays: dict[int, b.StayRecord] = field(default_factory=dict)
    transits: dict[int, b.TransitRecord] = field(default_factory=dict)

    def total(self, subject: b.Subject, name: str) -> int:
        return sum(n for (s, f, _d), n in self.tallies.items() if s == subject and f == name)

    def on(self, subject: b.Subject, name: str, when: str) -> int:
        return self.tallies[(subject, name, day(when))]

    def level(self, subject: b.Subject, name: str, end_of: str) -> int:
        """The running sum of a delta counter at the end of a local day."""
        return sum(
            n for (s, f, d), n in self.tallies.items() if s == subject and f == name and d <= day(end_of)
        )

    def dwell(self, subject: b.Subject) -> list[tuple[float, float]]:
        """Net samples as (working hours, calendar hours), sorted."""
        out = []
        for (s, working, calendar), n in self.samples.items():
            assert n >= 0, "a sample was taken back more often than given"
            if s == subject:
                out += [(working / 3_600_000, calendar / 3_600_000)] * n
        return sorted(out)


class Walk(DossierWalk):
    """The aggregate tests' walk, keeping the events to fold them into the bottleneck view."""

    def __init__(self, policy: SupplementPolicy = SupplementPolicy.RESTART, at: str = "2026-03-02T08:00"):
        self.events: list[DossierEvent] = []
        super().__init__(policy, at)

    def run(self, command: c.Command) -> Dossier:
        for event in decide(self.state, command, CAL):
            self.state = evolve(self.state, event)
            self.events.append(event)
        assert self.state is not None
        return self.state

    def hand(self, src: str, dst: str, at: str) -> None:
        self.run(c.HandOff(actor=officer(src), occurred_at=t(at), to_agency_code=dst))

    def accept(self, dst: str, at: str) -> None:
        self.run(c.AcceptHandoff(actor=officer(dst), occurred_at=t(at)))

    def fold(self) -> Folded:
        out = Folded()
        for seq, event in enumerate(self.events, start=1):
            out.flow, facts = b.apply(out.flow, "d1", seq, event, CAL)
            for fact in facts:
                match fact:
                    case b.Tally():
                        out.tallies[(fact.subject, fact.field, fact.day)] += fact.amount
                    case b.Sample():
                        out.samples[(fact.subject, fact.working_ms, fact.calendar_ms)] += fact.weight
                    case b.StayRecord():
                        out.stays[fact.stay_no] = fact
                    case b.TransitRecord():
                        out.transits[fact.handoff_seq] = fact
        return out


def test_a_walk_down_and_back_up_the_levels_across_a_weekend() -> None:
    w = Walk(at="2026-03-05T09:00")  # Thursday
    w.hand(WARD, DISTRICT, "2026-03-05T15:00")
    w.accept(DISTRICT, "2026-03-06T08:00")  # Friday
    w.hand(DISTRICT, DEPT, "2026-03-06T16:00")
    w.accept(DEPT, "2026-03-09T10:00")  # Monday, after the weekend
    w.run(c.DecideDossier(actor=officer(DEPT), occurred_at=t("2026-03-10T14:00"), outcome=Outcome.APPROVED))
    w.hand(DEPT, WARD, "2026-03-10T14:00")
    w.accept(WARD, "2026-03-10T14:30")
    w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-11T09:00")))
    w.run(c.ReturnResult(actor=officer(WARD), occurred_at=t("2026-03-11T10:00")))
    f = w.fold()

    # Ward intake, Thu 09:00-15:00: 09:00-11:30 = 2.5 h + 13:00-15:00 = 2 h = 4.5 working h, 6 wall h.
    # Ward return, Tue 14:30 -> Wed 09:00: 14:30-17:00 = 2.5 h + Wed 07:30-09:00 = 1.5 h = 4 h;
    #   wall: 2.5 h + 14.5 h overnight + 1.5 h = 18.5 h.
    assert f.dwell(agency(WARD)) == [(4.0, 18.5), (4.5, 6.0)]
    # District, Fri 08:00-16:00: 3.5 h + 3 h = 6.5 working h, 8 wall h.
    assert f.dwell(agency(DISTRICT)) == [(6.5, 8.0)]
    # Department, Mon 10:00 -> Tue 14:00: Mon 1.5 + 4 = 5.5 h, Tue 4 + 1 = 5 h -> 10.5 h; wall 28 h.
    assert f.dwell(agency(DEPT)) == [(10.5, 28.0)]
    # The same stays per route step (intake is step 0, the return step 3).
    assert f.dwell(step(WARD, 0)) == [(4.5, 6.0)] and f.dwell(step(WARD, 3)) == [(4.0, 18.5)]
    assert f.dwell(step(DISTRICT, 1)) == [(6.5, 8.0)] and f.dwell(step(DEPT, 2)) == [(10.5, 28.0)]

    # Transit W->D, Thu 15:00 -> Fri 08:00: 15:00-17:00 = 2 h + 07:30-08:00 = 0.5 h = 2.5 h; wall 17 h.
    assert f.dwell(edge(WARD, DISTRICT)) == [(2.5, 17.0)]
    # Transit D->S over the weekend, Fri 16:00 -> Mon 10:00: 1 h + 2.5 h = 3.5 h; wall 66 h.
    assert f.dwell(edge(DISTRICT, DEPT)) == [(3.5, 66.0)]
    assert f.dwell(edge(DEPT, WARD)) == [(0.5, 0.5)]

    # Arrivals and completions on the day each happened.
    assert (
        f.on(agency(WARD), b.ARRIVALS, "2026-03-05") == 1
        and f.on(agency(WARD), b.ARRIVALS, "2026-03-10") == 1
    )
    assert f.on(agency(WARD), b.COMPLETIONS, "2026-03-05") == 1
    assert f.on(agency(WARD), b.COMPLETIONS, "2026-03-11") == 1
    assert (
        f.on(agency(DEPT), b.ARRIVALS, "2026-03-09") == 1
        and f.on(agency(DEPT), b.COMPLETIONS, "2026-03-10") == 1
    )
    # WIP: the ward held it on Thursday daytime only; over the weekend it was in transit to
    # the department and held by nobody.
    for who in (WARD, DISTRICT, DEPT):
        assert f.level(agency(who), b.WIP, "2026-03-07") == 0
    assert f.level(agency(DEPT), b.IN_TRANSIT, "2026-03-07") == 1
    assert f.level(agency(DEPT), b.IN_TRANSIT, "2026-03-09") == 0
    assert f.level(agency(DEPT), b.WIP, "2026-03-09") == 1
    assert f.level(agency(WARD), b.WIP, "2026-03-10") == 1 and f.level(agency(WARD), b.WIP, "2026-03-11") == 0
    # Intake budget 4 h from Thu 09:00 ends at 14:30; handed off at 15:00: overdue for half an
    # hour that Thursday (+1 then -1), nothing left at the end of the day.
    assert f.on(agency(WARD), b.OVERDUE, "2026-03-05") == 0
    # District budget 16 h from Fri 08:00 would end Tue 10 08:00: the +1 put on that day is
    # taken back when it hands off early on Friday.
    assert f.level(agency(DISTRICT), b.OVERDUE, "2026-03-31") == 0
    # The dossier is closed: nothing of it is remembered.
    assert f.flow is None
    assert [(s.agency_code, s.working_ms) for s in f.stays.values()] == [
        (WARD, 4.5 * 3_600_000),
        (DISTRICT, 6.5 * 3_600_000),
        (DEPT, 10.5 * 3_600_000),
        (WARD, 4 * 3_600_000),
    ]
    assert [(r.outcome, r.off_route) for r in f.transits.values()] == [("accepted", False)] * 3


def test_a_return_counts_on_its_edge_and_reopens_the_givers_stay() -> None:
    w = Walk(at="2026-03-02T08:00")  # Monday
    w.hand(WARD, DISTRICT, "2026-03-02T10:00")
    w.run(c.ReturnHandoff(actor=officer(DISTRICT), occurred_at=t("2026-03-02T11:00"), reason="thiếu tờ khai"))
    w.hand(WARD, DISTRICT, "2026-03-02T14:00")
    w.accept(DISTRICT, "2026-03-02T15:00")
    f = w.fold()

    # Both transits (returned and accepted) took 1 working hour on the W->D edge; one was returned.
    assert f.dwell(edge(WARD, DISTRICT)) == [(1.0, 1.0), (1.0, 1.0)]
    assert f.total(edge(WARD, DISTRICT), b.RETURNS) == 1
    assert f.total(agency(WARD), b.RETURNS) == 1
    # The ward's stay reopened: one stay, one completion, whose dwell is both held segments:
    # 08:00-10:00 = 2 h, then 11:00-11:30 = 0.5 h + 13:00-14:00 = 1 h -> 3.5 working h;
    # wall 2 h + 3 h = 5 h. The first (2 h) sample was taken back.
    assert f.dwell(agency(WARD)) == [(3.5, 5.0)]
    assert f.total(agency(WARD), b.COMPLETIONS) == 1 and f.total(agency(WARD), b.ARRIVALS) == 1
    assert len(f.stays) == 2 and f.stays[1].left_at == t("2026-03-02T14:00")
    assert f.stays[1].working_ms == 3.5 * 3_600_000
    assert [r.outcome for r in f.transits.values()] == ["returned", "accepted"]
    # The district got it once; it is held there now, nothing is in transit.
    assert f.total(agency(DISTRICT), b.ARRIVALS) == 1
    assert f.level(agency(DISTRICT), b.WIP, "2026-03-02") == 1
    assert f.level(agency(WARD), b.WIP, "2026-03-02") == 0
    assert f.level(agency(DISTRICT), b.IN_TRANSIT, "2026-03-02") == 0


def _supplement_loop(policy: SupplementPolicy) -> Folded:
    w = Walk(policy, at="2026-03-02T08:00")  # Monday
    w.run(c.RequestSupplement(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), reason="thiếu bản sao"))
    w.run(c.ReceiveSupplement(actor=officer(WARD), occurred_at=t("2026-03-04T09:00")))  # Wednesday
    w.hand(WARD, DISTRICT, "2026-03-04T11:00")
    return w.fold()


def test_a_supplement_loop_charges_the_citizens_wait_to_nobody() -> None:
    for policy in SupplementPolicy:
        f = _supplement_loop(policy)
        # Held and running Mon 08:00-10:00 (2 h) and Wed 09:00-11:00 (2 h): 4 working h, 4 wall h,
        # whichever the policy: a restart resets the step's budget, not the time spent on it.
        assert f.dwell(agency(WARD)) == [(4.0, 4.0)], policy
        assert f.on(agency(WARD), b.SUPPLEMENTS, "2026-03-02") == 1
        # Waiting for the citizen, the dossier stays on the ward's desk: WIP 1 on Tuesday.
        assert f.level(agency(WARD), b.WIP, "2026-03-03") == 1
        # Step budget 4 h: due Mon 13:30 under either policy; paused at 10:00 before that, the
        # +1 put on Monday is taken back; it never was overdue.
        assert f.level(agency(WARD), b.OVERDUE, "2026-03-31") == 0
        assert f.flow is not None and f.flow.transit is not None


def test_a_supplement_requested_when_already_overdue_stays_overdue_while_paused() -> None:
    w = Walk(SupplementPolicy.RESTART, at="2026-03-02T08:00")
    # Intake budget 4 h is used up Mon 13:30; the supplement is asked for Tuesday 08:00.
    w.run(c.RequestSupplement(actor=officer(WARD), occurred_at=t("2026-03-03T08:00"), reason="thiếu bản sao"))
    f = w.fold()
    assert f.on(agency(WARD), b.OVERDUE, "2026-03-02") == 1
    assert f.level(agency(WARD), b.OVERDUE, "2026-03-05") == 1
    # The supplement arrives Fri 16:00 and restarts the budget: 4 h = Fri 16:00-17:00 (1 h) +
    # Mon 07:30-10:30 (3 h). Not overdue at the end of Friday; overdue again on Monday if still held.
    w.run(c.ReceiveSupplement(actor=officer(WARD), occurred_at=t("2026-03-06T16:00")))
    f = w.fold()
    assert f.level(agency(WARD), b.OVERDUE, "2026-03-05") == 1
    assert f.level(agency(WARD), b.OVERDUE, "2026-03-06") == 0
    assert f.on(agency(WARD), b.OVERDUE, "2026-03-09") == 1
    assert f.level(agency(WARD), b.WIP, "2026-03-09") == 1


def test_an_off_route_handoff_has_no_step_and_no_budget() -> None:
    w = Walk(at="2026-03-02T08:00")
    w.hand(WARD, DISTRICT, "2026-03-02T09:00")
    w.accept(DISTRICT, "2026-03-02T09:30")
    # The district asks the inspectorate (off the route) to verify, and gets it back.
    w.hand(DISTRICT, INSPECTORATE, "2026-03-02T10:30")
    w.accept(INSPECTORATE, "2026-03-02T13:00")
    w.hand(INSPECTORATE, DISTRICT, "2026-03-03T09:00")
    w.accept(DISTRICT, "2026-03-03T09:30")
    f = w.fold()

    assert f.transits[4].off_route and f.transits[4].to_agency_code == INSPECTORATE
    # Transit D->T: 10:30-11:30 = 1 h, lunch is not working time -> 1 working h; wall 2.5 h.
    assert f.dwell(edge(DISTRICT, INSPECTORATE)) == [(1.0, 2.5)]
    # The inspectorate held it Mon 13:00-17:00 (4 h) + Tue 07:30-09:00 (1.5 h) = 5.5 working h.
    assert f.dwell(agency(INSPECTORATE)) == [(5.5, 20.0)]
    # It has no route step and no budget, so no step sample and no overdue count.
    assert not any(s.kind == b.Kind.STEP and s.agency_code == INSPECTORATE for s, _w, _c in f.samples)
    assert f.total(agency(INSPECTORATE), b.OVERDUE) == 0
    # The district's first stay (route step 1): 09:30-10:30 = 1 h.
    assert f.dwell(step(DISTRICT, 1)) == [(1.0, 1.0)]
    # Its step 1 being done, the district's second stay is off the route: a stay, no step.
    assert f.stays[4].agency_code == DISTRICT and f.stays[4].route_step is None
    assert f.total(agency(DISTRICT), b.ARRIVALS) == 2


def test_a_withdrawal_in_transit_ends_the_transit_without_a_sample() -> None:
    w = Walk(at="2026-03-02T08:00")
    w.hand(WARD, DISTRICT, "2026-03-02T09:00")
    w.run(c.Withdraw(actor=officer(WARD), occurred_at=t("2026-03-02T10:00"), reason="rút hồ sơ"))
    f = w.fold()
    assert f.level(agency(DISTRICT), b.IN_TRANSIT, "2026-03-02") == 0
    assert f.dwell(edge(WARD, DISTRICT)) == []
    assert f.transits[2].outcome == "cancelled"
    # The ward's stay ended at the handoff (1 h) and stays counted.
    assert f.dwell(agency(WARD)) == [(1.0, 1.0)]
    assert f.flow is None


def test_quantiles_read_from_the_histogram_are_within_the_stated_error() -> None:
    values_ms = [60_000 * k for k in range(1, 500, 7)] + [0, 5_000, 3_600_000 * 300]
    hist: Counter[int] = Counter(b.bucket_of(v) for v in values_ms)
    hours = [v / 3_600_000 for v in values_ms]
    for _name, q in b.QUANTILES:
        exact = b.exact_quantile(hours, q)
        read = b.quantile(hist, q)
        assert exact is not None and read is not None
        assert abs(read - exact) <= b.RELATIVE_ERROR * exact + 1e-12
    # Under a minute reads as 0.
    assert b.quantile(Counter({b.bucket_of(30_000): 1}), 500) == 0.0
    assert b.quantile(Counter(), 500) is None


@given(st.integers(min_value=40_000, max_value=50_000), st.integers(min_value=0, max_value=3000))
def test_blocks_cover_a_range_of_days_exactly_once(first: int, length: int) -> None:
    last = first + length
    blocks = b.cover(first, last)
    days = [d for span, start in blocks for d in range(start, start + span)]
    assert days == list(range(first, last + 1))
    for span, start in blocks:
        assert (span, start) in b.blocks_of(start)  # each is a block the store keeps
    assert len(blocks) <= 2 * len(b.SPANS) + 12


def test_weeks_are_iso_weeks() -> None:
    monday = b.number_of(date(2026, 3, 2))
    assert monday % 7 == 0 and b.day_of(b.week_start(monday + 6)).isocalendar()[1:] == (10, 1)


def test_imported_legacy_history_is_no_live_work_in_the_bottleneck_view() -> None:
    """A legacy case the old log never closed would be work in progress forever: an imported
    stream leaves no flow and no fact, event by event and in a batch (decision 190)."""
    w = Walk(at="2026-03-02T08:00")
    w.hand(WARD, DISTRICT, "2026-03-02T10:00")
    w.accept(DISTRICT, "2026-03-02T11:00")
    live = w.fold()
    assert live.flow is not None and live.level(agency(DISTRICT), b.WIP, "2026-03-02") == 1
    received, *rest = w.events
    assert isinstance(received, DossierReceived)
    w.events = [dataclasses.replace(received, imported=True), *rest]
    imported = w.fold()
    assert imported.flow is None and not (imported.tallies or imported.samples or imported.stays)
    flows, totals = b.fold_batch({}, [("d1", n, e) for n, e in enumerate(w.events, start=1)], CAL)
    assert flows == {"d1": None}
    assert not (totals.sums or totals.hists or totals.stays or totals.transits)
