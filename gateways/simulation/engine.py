"""The simulation: a world, arrivals over a period, a fate per dossier, and their histories.

Deterministic for a seed: every random choice comes from one `random.Random(seed)` split
into independent streams (world, arrivals, fates, walks), so the same seed gives the same
world and the same events, byte for byte once encoded. The late dossiers are drawn as an
exact number among those whose route goes above the commune, so a year's Biểu 06 on-time
rate lands on the profile's figure rather than near it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from domain.agencies import AgencyLevel
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier, Status
from domain.events import Channel, DossierEvent, Timeliness
from gateways.simulation.arrivals import arrivals
from gateways.simulation.life import Plan, Seal, Walker, dossier_id_from
from gateways.simulation.profiles import Profile
from gateways.simulation.world import Reach, Template, World, build_world

UPPER = (AgencyLevel.DISTRICT, AgencyLevel.PROVINCE_DEPARTMENT, AgencyLevel.PROVINCE_CENTRE)


@dataclass(frozen=True)
class History:
    """One dossier's events in order (its whole stream), and where it ended."""

    dossier_id: str
    events: list[DossierEvent]
    state: Dossier | None


@dataclass
class Tally:
    """Biểu 06 of the desks over the profile's period, counted from the generated histories:
    received in the period; resolved in it (at ResultReady) early / on time / late."""

    received: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    closed_without_result: int = 0
    refused: int = 0
    events: int = 0
    dossiers: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def resolved(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def on_time_rate(self) -> float | None:
        return (self.early + self.on_time) / self.resolved if self.resolved else None

    def add(self, history: History, start: datetime, end: datetime) -> None:
        self.dossiers += 1
        self.events += len(history.events)
        for event in history.events:
            name = type(event).__name__
            self.by_type[name] = self.by_type.get(name, 0) + 1
        s = history.state
        if s is None:
            return
        if s.status == Status.REFUSED:
            self.refused += 1
        if s.received_at is not None and start <= s.received_at < end:
            self.received += 1
        if s.status in (Status.WITHDRAWN, Status.STOPPED) and s.closed_at and start <= s.closed_at < end:
            self.closed_without_result += 1
        if s.resolved_at is not None and start <= s.resolved_at < end:
            if s.timeliness == Timeliness.EARLY:
                self.early += 1
            elif s.timeliness == Timeliness.ON_TIME:
                self.on_time += 1
            elif s.timeliness == Timeliness.LATE:
                self.late += 1


def _late_span(deadline_working_hours: float) -> timedelta:
    """Calendar time a late dossier may take: its deadline in working days, with weekends and
    holidays, plus the overrun (at most 40 working hours) and the way back to the desk."""
    return timedelta(days=deadline_working_hours / 8 * 7 / 5 * 1.2 + 14)


class Simulation:
    """`histories()` yields every dossier of the profile's period, in arrival order."""

    def __init__(
        self,
        profile: Profile,
        seed: int,
        calendar: WorkingCalendar,
        seal: Seal,
        now: datetime | None = None,
    ) -> None:
        self.profile = profile
        self.seed = seed
        self.calendar = calendar
        root = random.Random(seed)
        streams = [random.Random(root.getrandbits(64)) for _ in range(4)]
        self._world_rng, self._arrival_rng, self._fate_rng, self._walk_rng = streams
        self.world: World = build_world(
            self._world_rng, communes=profile.communes, districts=profile.districts
        )
        self.speed = self._slow_agencies()
        tz = calendar.tz
        self.start = datetime.combine(profile.start, time(0), tzinfo=tz)
        self.end = datetime.combine(profile.end, time(0), tzinfo=tz)
        # Dossiers received near the end are followed to their result, as a year's report
        # written some weeks later would see them — unless `now` comes first.
        horizon = self.end + timedelta(days=120)
        self.until = min(now, horizon) if now is not None else horizon
        self.walker = Walker(calendar, profile, self.speed, seal, self.until)

    def _slow_agencies(self) -> dict[str, float]:
        """A fraction of the departments, of the districts and of the communes work slower."""
        p, w, rng = self.profile, self.world, self._world_rng
        speed: dict[str, float] = {}
        for group in (list(w.departments.values()), w.districts, w.communes):
            count = round(p.slow_fraction * len(group))
            for code in rng.sample(sorted(group), count):
                speed[code] = p.slow_factor * rng.uniform(0.85, 1.15)
        return speed

    def plans(self) -> Iterator[Plan]:
        """The planned dossiers in arrival order (which procedure, at which desk, their fate),
        without walking them: `lienthong soak` walks them through the HTTP API instead."""
        return self._plans()

    def _plans(self) -> Iterator[Plan]:
        p, w, rng = self.profile, self.world, self._fate_rng
        times = arrivals(self._arrival_rng, self.calendar, p.start, p.end, p.dossiers)
        n = len(times)
        communes = rng.choices(w.communes, weights=[w.commune_weight[c] for c in w.communes], k=n)
        templates = rng.choices(w.templates, weights=[t.weight for t in w.templates], k=n)
        # Late dossiers are drawn among those that reach an upper level and would be resolved
        # within the period even when late, so the period's Biểu 06 counts every one of them.
        procedures = [
            w.procedure_for(t, c, at.date()) for t, c, at in zip(templates, communes, times, strict=True)
        ]
        levels = w.level
        # Late dossiers are drawn among those whose route reaches an upper level and that would
        # be resolved within the period even when late, so the period's Biểu 06 counts them all.
        upper = [
            i
            for i, (procedure, at) in enumerate(zip(procedures, times, strict=True))
            if any(levels[s.agency_code] in UPPER for s in procedure.route)
            and at + _late_span(procedure.deadline_working_hours) < self.end
        ]
        late = set(rng.sample(upper, min(len(upper), round(p.late_fraction * n))))
        for i, (at, desk, template, procedure) in enumerate(
            zip(times, communes, templates, procedures, strict=True)
        ):
            route = procedure.route
            channel = self._channel(rng)
            yield Plan(
                dossier_id=dossier_id_from(rng),
                procedure=procedure,
                desk=desk,
                arrival=at,
                channel=channel,
                late_step=self._late_step(rng, route_agencies=[s.agency_code for s in route])
                if i in late
                else None,
                withdraw_step=self._maybe_step(rng, p.withdrawal, len(route), i in late),
                stop_step=self._maybe_step(rng, p.stop, len(route), i in late),
                fee_vnd=template.field.fee_vnd if rng.random() < p.fee else 0,
                consult_with=self._consulted(rng, template, desk, late=i in late),
            )
            if channel == Channel.ONLINE and rng.random() < p.refusal:
                # A refused submission never reaches the desk: it comes on top of the received count.
                yield Plan(dossier_id_from(rng), procedure, desk, at, channel, refused=True)

    def _channel(self, rng: random.Random) -> Channel:
        online = self.profile.online_share
        roll = rng.random()
        if roll < online:
            return Channel.ONLINE
        return Channel.POSTAL if roll > 1 - 0.05 * (1 - online) else Channel.DIRECT

    def _late_step(self, rng: random.Random, route_agencies: list[str]) -> int:
        """The upper-level step that overruns; slow agencies are where it most often happens."""
        levels = self.world.level
        candidates = [i for i, a in enumerate(route_agencies) if levels.get(a) in UPPER]
        weights = [5.0 if route_agencies[i] in self.speed else 1.0 for i in candidates]
        return rng.choices(candidates, weights=weights)[0]

    @staticmethod
    def _maybe_step(rng: random.Random, probability: float, steps: int, late: bool) -> int | None:
        if late or rng.random() >= probability:
            return None
        return rng.randrange(max(1, steps - 1))

    def _consulted(self, rng: random.Random, template: Template, desk: str, late: bool) -> str:
        """Late dossiers mostly waited for a verification elsewhere; some others ask too."""
        if rng.random() >= (0.7 if late else self.profile.consultation):
            return ""
        departments = self.world.departments
        own = departments[template.field.department]
        if template.field.reach == Reach.DEPARTMENT:
            others = sorted(code for code in departments.values() if code != own)
            return rng.choice(others) if others else ""
        return own

    def histories(self) -> Iterator[History]:
        rng = self._walk_rng
        for plan in self._plans():
            life = self.walker.walk(rng, plan)
            if life.events:  # nothing at all when it arrives after `until`
                yield History(plan.dossier_id, life.events, life.state)
