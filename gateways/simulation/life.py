"""One dossier's life, decided by the domain in memory: every command goes through
`decide` and `evolve` exactly as the application service would run it, so the events
are the ones the service records, with their historical times.

The dice are thrown before the dossier starts (`Plan`): its desk, procedure, channel,
and its fate — on time, late at a given upper-level step, withdrawn, stopped. The walk
then turns durations into instants on the working-time clock: each agency spends a share
of its step's budget (a slow agency more), handoffs take transit time, citizens take
calendar days to bring a supplement or pay a fee. A dossier fated to be on time is kept
on time (its steps are compressed to fit the deadline); one fated to be late overruns at
its late agency, which may apologise before the due time.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain import commands as cmd
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.events import Actor, Channel, DossierEvent, Outcome
from domain.procedures import Procedure
from gateways.application.service import receipt_code_for, secret_hash
from gateways.simulation.profiles import Profile

ACTOR = Actor(agency_code="", user="lienthong-simulate", role="integration")
Seal = Callable[[str, dict[str, Any]], Mapping[str, Any]]

NAMES = (
    "Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung", "Hoàng Minh Đức",
    "Võ Thị Giang", "Đặng Quốc Huy", "Bùi Thị Lan", "Đỗ Văn Minh", "Ngô Thị Ngọc",
)  # fmt: skip


class Cut(Exception):
    """The next event would happen after the simulation's `until`: the dossier stays open."""


@dataclass(frozen=True)
class Plan:
    dossier_id: str
    procedure: Procedure
    desk: str
    arrival: datetime
    channel: Channel
    late_step: int | None = None  # the route step that overruns and makes the dossier late
    withdraw_step: int | None = None
    stop_step: int | None = None
    refused: bool = False  # an online submission refused at intake
    fee_vnd: int = 0
    consult_with: str = ""  # the agency asked for an opinion, if any


@dataclass
class Life:
    """Commands in, events out, state kept — the service's `_append` without a store."""

    calendar: WorkingCalendar
    until: datetime
    state: Dossier | None = None
    events: list[DossierEvent] = field(default_factory=list)

    def act(self, command: cmd.Command) -> Dossier:
        if command.occurred_at > self.until:
            raise Cut
        new = decide(self.state, command, self.calendar)
        state = self.state
        for event in new:
            state = evolve(state, event)
        assert state is not None
        self.state = state
        self.events.extend(new)
        return state


def dossier_id_from(rng: random.Random) -> str:
    """A version-4-shaped UUID drawn from the simulation's own dice (reproducible)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class Walker:
    """Walks planned dossiers through their routes (one `Walker` per simulation)."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        profile: Profile,
        speed: dict[str, float],
        seal: Seal,
        until: datetime,
    ) -> None:
        self.cal = calendar
        self.profile = profile
        self.speed = speed
        self.seal = seal
        self.until = until

    def _later(self, at: datetime, hours: float) -> datetime:
        return self.cal.add_working_hours(at, max(hours, 0.02))

    def _days_later(self, rng: random.Random, at: datetime, low: float, high: float) -> datetime:
        """A citizen comes back some calendar days later, in office hours."""
        back = at + timedelta(days=rng.uniform(low, high))
        return self.cal.next_opening(back) + timedelta(minutes=rng.randrange(5, 90))

    def walk(self, rng: random.Random, plan: Plan) -> Life:
        life = Life(self.cal, self.until)
        # Cut: still open at `until`; its history so far is what the store holds.
        with contextlib.suppress(Cut):
            self._walk(rng, plan, life)
        return life

    def _receive(self, rng: random.Random, plan: Plan, life: Life) -> datetime:
        secret = f"{rng.getrandbits(64):016x}"
        applicant = {"name": rng.choice(NAMES), "id_number": f"0792{rng.randrange(10**8):08d}"}
        local = plan.arrival.astimezone(self.cal.tz)
        common: dict[str, Any] = {
            "actor": ACTOR,
            "occurred_at": plan.arrival,
            "dossier_id": plan.dossier_id,
            "receipt_code": receipt_code_for(plan.desk, local, plan.dossier_id),
            "procedure": plan.procedure,
            "receiving_agency_code": plan.desk,
            "applicant": self.seal(plan.dossier_id, applicant),
            "lookup_secret_hash": secret_hash(secret),
        }
        if plan.channel != Channel.ONLINE:
            life.act(cmd.ReceiveDossier(channel=plan.channel, **common))
            return plan.arrival
        life.act(cmd.SubmitOnline(**common))
        at = self._later(plan.arrival, rng.uniform(0.1, 6))
        if plan.refused:
            life.act(cmd.RefuseIntake(actor=ACTOR, occurred_at=at, reason="Hồ sơ không thuộc thẩm quyền"))
            return at
        life.act(cmd.AcceptIntake(actor=ACTOR, occurred_at=at, procedure=plan.procedure))
        return at

    def _compression(
        self, rng: random.Random, plan: Plan, shares: list[float], transits: list[float]
    ) -> float:
        """Scale for an on-time dossier's durations so their sum fits the deadline with room."""
        route = plan.procedure.route
        planned = sum(s * step.budget_working_hours for s, step in zip(shares, route, strict=True)) + sum(
            transits
        )
        room = rng.uniform(0.45, 0.95) * plan.procedure.deadline_working_hours
        return min(1.0, room / planned) if planned > 0 else 1.0

    def _walk(self, rng: random.Random, plan: Plan, life: Life) -> None:
        p = self.profile
        at = self._receive(rng, plan, life)
        if plan.refused:
            return
        state = life.state
        assert state is not None
        route = state.route
        on_time = plan.late_step is None
        speed = [self.speed.get(step.agency_code, 1.0) for step in route]
        shares = [rng.uniform(0.15, 0.7) * s for s in speed]
        transits = [rng.uniform(0.05, 1.5) * s for s in speed[1:]]
        k = self._compression(rng, plan, shares, transits) if on_time else 1.0
        decider = len(route) - 2 if len(route) > 1 else 0
        for index, step in enumerate(route):
            holder = step.agency_code
            hours = shares[index] * step.budget_working_hours * k
            left = len(route) - index
            if index == 0 and rng.random() < p.supplement:
                asked = self._later(at, min(rng.uniform(0.2, 2), hours * 0.3))
                life.act(
                    cmd.RequestSupplement(actor=ACTOR, occurred_at=asked, reason="Thiếu bản sao giấy tờ")
                )
                at = self._days_later(rng, asked, 1, 10)
                life.act(cmd.ReceiveSupplement(actor=ACTOR, occurred_at=at))
            end = self._later(at, hours)
            if plan.consult_with and index == decider and plan.consult_with != holder:
                asked = self._later(at, hours * rng.uniform(0.05, 0.2))
                life.act(
                    cmd.RequestConsultation(
                        actor=ACTOR,
                        occurred_at=asked,
                        agency_code=plan.consult_with,
                        question="Đề nghị cho ý kiến",
                    )
                )
                # A verification elsewhere takes its time; on an on-time dossier, within the step.
                wait = hours * rng.uniform(0.3, 0.7) if on_time else rng.uniform(8, 40)
                answered = self._fit(
                    life, self._later(asked, wait * self.speed.get(plan.consult_with, 1.0)), left
                )
                life.act(cmd.AnswerConsultation(actor=ACTOR, occurred_at=answered, answer="Thống nhất"))
                end = max(end, self._later(answered, hours * 0.1))
            if plan.fee_vnd and index == decider:
                since = max(at, life.state.last_occurred_at) if life.state else at
                asked = self._later(since, hours * rng.uniform(0.1, 0.4))
                life.act(cmd.RequestFee(actor=ACTOR, occurred_at=asked, amount_vnd=plan.fee_vnd))
                paid = self._days_later(rng, asked, 0.2, 4)
                life.act(cmd.PayFee(actor=ACTOR, occurred_at=paid))
                end = self._later(paid, hours * rng.uniform(0.1, 0.4))
            if index == plan.late_step:
                end = self._overrun(rng, life, at, end)
            at = self._fit(life, end, left) if on_time else end
            if index == plan.stop_step:
                life.act(cmd.StopProcessing(actor=ACTOR, occurred_at=at, reason="Tạm dừng do có tranh chấp"))
                return
            if index == plan.withdraw_step:
                life.act(cmd.Withdraw(actor=ACTOR, occurred_at=at, reason="Công dân rút hồ sơ"))
                return
            if index == decider:
                outcome = Outcome.APPROVED if rng.random() < 0.97 else Outcome.REJECTED
                number = f"{rng.randint(100, 9999)}/QĐ-UBND"
                life.act(
                    cmd.DecideDossier(actor=ACTOR, occurred_at=at, outcome=outcome, decision_number=number)
                )
            if index == len(route) - 1:
                life.act(cmd.MarkResultReady(actor=ACTOR, occurred_at=at))
                picked_up = self._later(at, rng.uniform(0.5, 40))
                life.act(cmd.ReturnResult(actor=ACTOR, occurred_at=picked_up))
                return
            # A returned handoff reopens this step: the fix fits in what is left of its budget.
            slack = max(0.1, step.budget_working_hours - hours) * rng.uniform(0.2, 0.8)
            at = self._hand_on(
                rng, life, at, route[index + 1].agency_code, transits[index] * k, slack, on_time, left - 1
            )

    def _fit(self, life: Life, at: datetime, steps_left: int) -> datetime:
        """For an on-time dossier: no later than its due time, leaving a few minutes per step."""
        state = life.state
        assert state is not None
        if state.due_at is None:
            return at
        cap = state.due_at - timedelta(minutes=3 * steps_left + 1)
        return at if at <= cap else max(state.last_occurred_at, cap)

    def _hand_on(
        self,
        rng: random.Random,
        life: Life,
        at: datetime,
        to: str,
        transit: float,
        fix: float,
        on_time: bool,
        left: int,
    ) -> datetime:
        def fit(t: datetime) -> datetime:
            return self._fit(life, t, left) if on_time else t

        life.act(cmd.HandOff(actor=ACTOR, occurred_at=at, to_agency_code=to, note="Chuyển xử lý liên thông"))
        at = fit(self._later(at, transit))
        if rng.random() < self.profile.handoff_return * self.speed.get(to, 1.0):
            life.act(cmd.ReturnHandoff(actor=ACTOR, occurred_at=at, reason="Hồ sơ chưa đủ thành phần"))
            at = fit(self._later(at, fix))
            life.act(
                cmd.HandOff(actor=ACTOR, occurred_at=at, to_agency_code=to, note="Gửi lại sau khi bổ sung")
            )
            at = fit(self._later(at, transit))
        life.act(cmd.AcceptHandoff(actor=ACTOR, occurred_at=at))
        return at

    def _overrun(self, rng: random.Random, life: Life, start: datetime, end: datetime) -> datetime:
        """The late agency holds the dossier past its due time; it may apologise first."""
        state = life.state
        assert state is not None and state.due_at is not None
        due = state.due_at
        overrun = rng.uniform(2, 40)
        late_end = max(end, self._later(due, overrun))
        if rng.random() < self.profile.apology:
            apology_at = max(start, due - timedelta(hours=rng.uniform(2, 30)))
            if state.last_occurred_at <= apology_at < due:
                life.act(
                    cmd.IssueApology(
                        actor=ACTOR,
                        occurred_at=apology_at,
                        new_due_at=self._later(due, overrun + rng.uniform(4, 24)),
                        reason="Cần xin ý kiến chỉ đạo của cấp trên và xác minh tại cơ quan liên quan",
                    )
                )
        return late_end
