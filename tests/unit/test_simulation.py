"""The workload simulator in memory: reproducible for a seed, calibrated to the ward's figures,
arrivals in office hours with their weekly rhythm, a hierarchy that changes on 2025-07-01."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from domain.agencies import AgencyLevel
from domain.calendar import WorkingCalendar
from domain.events import HandedOff, ResultReady, Timeliness
from gateways.calendar_factory import build_calendar
from gateways.settings import Settings
from gateways.simulation.arrivals import arrivals
from gateways.simulation.engine import History, Simulation, Tally
from gateways.simulation.profiles import Profile, province, ward
from gateways.simulation.sinks import DerivedSeal, encode_stream
from gateways.simulation.world import LAST_DISTRICT_DAY, REFORM_DAY, Reach

VN = ZoneInfo("Asia/Ho_Chi_Minh")
KEY = bytes(range(32))


@cache
def calendar() -> WorkingCalendar:
    return build_calendar(Settings())


def simulate(profile: Profile, seed: int) -> tuple[Simulation, list[History]]:
    simulation = Simulation(profile, seed, calendar(), seal=DerivedSeal(KEY))
    return simulation, list(simulation.histories())


def encoded(histories: list[History]) -> bytes:
    return b"\n".join(raw for h in histories for raw in encode_stream(h.dossier_id, h.events, None))


def test_same_seed_gives_byte_identical_events_and_another_seed_differs() -> None:
    small = ward(2012).sized(150)
    first = encoded(simulate(small, 11)[1])
    again = encoded(simulate(small, 11)[1])
    other = encoded(simulate(small, 12)[1])
    assert first == again
    assert len(first) > 50_000  # 150 dossiers of several events each, not an empty run
    assert first != other
    # Not a reshuffle of the same events: the other seed draws other dossiers.
    assert set(first.split(b"\n")).isdisjoint(other.split(b"\n"))


def test_applicant_is_sealed_never_in_clear() -> None:
    _, histories = simulate(ward(2012).sized(40), 3)
    text = encoded(histories).decode()
    assert "id_number" not in text and "Nguyễn" not in text
    assert '"alg":"AES-256-GCM"' in text


@pytest.fixture(scope="module")
def ward_sample() -> tuple[Simulation, list[History]]:
    # 4,000 of the 26,667 dossiers of 2012: the same rates on a seventh of the volume.
    return simulate(ward(2012).sized(4000), 2012)


def test_ward_year_matches_its_volume_and_on_time_rate(ward_sample: tuple[Simulation, list[History]]) -> None:
    simulation, histories = ward_sample
    tally = Tally()
    for history in histories:
        tally.add(history, simulation.start, simulation.end)
    # Online intakes of 31 December may land on 2 January: a handful at most.
    assert 3990 <= tally.received <= 4000
    # Thảo Điền 2012: 26,597 of 26,667 on time = 99.7375 %; within 0.1 point.
    target = 26_597 / 26_667
    assert tally.on_time_rate is not None
    assert abs(tally.on_time_rate - target) < 0.001
    # round(0.002625 * 4000) = 10 late dossiers are drawn; none of them may go missing.
    assert tally.late >= 9
    assert tally.early > tally.on_time > tally.late  # most results are ready before the due day


def test_ward_late_dossiers_are_caused_at_upper_levels(ward_sample: tuple[Simulation, list[History]]) -> None:
    simulation, histories = ward_sample
    levels = simulation.world.level
    late_steps: Counter[AgencyLevel] = Counter()
    late_dossiers = 0
    for history in histories:
        for event in history.events:
            if isinstance(event, HandedOff | ResultReady) and event.step_timeliness == Timeliness.LATE:
                late_steps[levels[event.actor.agency_code]] += 1
        if history.state is not None and history.state.timeliness == Timeliness.LATE:
            late_dossiers += 1
    assert late_dossiers >= 9
    assert late_steps[AgencyLevel.COMMUNE] == 0
    assert late_steps[AgencyLevel.DISTRICT] + late_steps[AgencyLevel.PROVINCE_DEPARTMENT] >= late_dossiers


def test_ward_history_has_the_everyday_detours(ward_sample: tuple[Simulation, list[History]]) -> None:
    _, histories = ward_sample
    kinds = Counter(type(e).__name__ for h in histories for e in h.events)
    for kind in (
        "HandedOff",
        "HandoffAccepted",
        "HandoffReturned",
        "ConsultationRequested",
        "SupplementRequested",
        "FeeRequested",
        "ApologyIssued",
        "DossierWithdrawn",
    ):
        assert kinds[kind] > 0, kind
    # Every dossier of 2012 was followed to its end: nothing left in process.
    assert all(h.state is not None and h.state.is_terminal for h in histories)


def test_arrivals_fall_in_office_hours_on_working_days_mondays_busiest() -> None:
    import random

    cal = calendar()
    times = arrivals(random.Random(5), cal, date(2024, 1, 1), date(2025, 1, 1), 20_000)
    assert len(times) == 20_000
    assert times == sorted(times)
    assert all(cal.is_working_instant(t) for t in times)
    assert not any(t.date() == date(2024, 9, 2) for t in times)  # National Day
    by_weekday = Counter(t.weekday() for t in times)
    assert by_weekday[0] > by_weekday[4] * 1.2  # Monday 1.25 vs Friday 0.85 of a day's rate
    mornings = sum(1 for t in times if t.hour < 12)
    assert mornings > len(times) * 0.5  # the morning slots weigh more than the afternoon ones


def test_hierarchy_loses_its_districts_on_reform_day() -> None:
    simulation = Simulation(province(2025).sized(10), 1, calendar(), seal=DerivedSeal(KEY))
    world = simulation.world
    commune = world.communes[0]
    versions = [a for a in world.agencies if a.code == commune]
    assert [(a.parent_code, a.valid_from, a.valid_to) for a in versions] == [
        (world.district_of[commune], None, LAST_DISTRICT_DAY),
        (world.province, REFORM_DAY, None),
    ]
    assert all(a.valid_to == LAST_DISTRICT_DAY for a in world.agencies if a.level == AgencyLevel.DISTRICT)
    template = next(t for t in world.templates if t.field.reach == Reach.DEPARTMENT)
    before = world.procedure_for(template, commune, date(2025, 6, 30))
    after = world.procedure_for(template, commune, date(2025, 7, 1))
    assert [world.level[s.agency_code] for s in before.route] == [
        AgencyLevel.COMMUNE,
        AgencyLevel.DISTRICT,
        AgencyLevel.PROVINCE_DEPARTMENT,
        AgencyLevel.COMMUNE,
    ]
    assert [world.level[s.agency_code] for s in after.route] == [
        AgencyLevel.COMMUNE,
        AgencyLevel.PROVINCE_DEPARTMENT,
        AgencyLevel.COMMUNE,
    ]
    assert sum(s.budget_working_hours for s in after.route) == template.deadline


def test_province_slow_departments_use_more_of_their_budgets() -> None:
    simulation, histories = simulate(province(2025).sized(3000), 9)
    levels = simulation.world.level
    assert simulation.speed, "a tenth of the agencies is slow"
    used: dict[bool, list[float]] = {True: [], False: []}
    for history in histories:
        assert history.state is not None
        budget = {s.agency_code: s.budget_working_hours for s in history.state.route}
        for event in history.events:
            if (
                isinstance(event, HandedOff)
                and levels[event.from_agency_code] == AgencyLevel.PROVINCE_DEPARTMENT
            ):
                share = event.step_used_working_hours / budget[event.from_agency_code]
                used[event.from_agency_code in simulation.speed].append(share)
    mean = {slow: sum(v) / len(v) for slow, v in used.items()}
    assert mean[True] > mean[False] * 1.2


def test_simulation_stops_at_now_leaving_dossiers_open() -> None:
    now = datetime(2012, 6, 30, 12, tzinfo=VN)
    simulation = Simulation(ward(2012).sized(400), 4, calendar(), seal=DerivedSeal(KEY), now=now)
    histories = list(simulation.histories())
    assert all(e.occurred_at <= now for h in histories for e in h.events)
    still_open = [h for h in histories if h.state is not None and not h.state.is_terminal]
    assert still_open  # what was received in the last days before `now` is in process
