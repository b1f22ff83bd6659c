"""The bottleneck view on SQLite and PostgreSQL: its reports against a recomputation from the
event streams, and a rebuild equal to the view built live.

The recomputation is independent of the fold: it replays each stream with the domain's
`evolve`, measures every held and running interval with the working calendar, and reads
WIP, transit and overdue off the dossier's state as of the instant asked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain import events as ev
from domain.dossier import PAUSED, Dossier, evolve, fold
from gateways.bootstrap import Container
from gateways.seed.demo import load_catalogue, seed_demo
from gateways.sql import Database
from gateways.views.bottleneck import TABLES, BottleneckReports, BottleneckView
from gateways.views.feed import StoreFeed
from gateways.views.runtime import ViewRunner
from projections.bottleneck import RELATIVE_ERROR, exact_quantile
from tests.conftest import FakeClock

TODAY = date(2026, 8, 28)


@dataclass
class StaySeen:
    agency_code: str
    entered_at: datetime
    left_at: datetime | None = None
    working: float = 0.0
    calendar: float = 0.0


@dataclass
class TransitSeen:
    giver: str
    receiver: str
    handed_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None


@dataclass
class History:
    """Every dossier's events, and what a person would read off them."""

    events: dict[str, list[ev.DossierEvent]] = field(default_factory=dict)
    stays: list[tuple[str, StaySeen]] = field(default_factory=list)
    transits: list[tuple[str, TransitSeen]] = field(default_factory=list)


def recompute(container: Container) -> History:
    calendar = container.calendar
    history = History()
    for record in container.store.notifications(0, 1_000_000):
        history.events.setdefault(record.dossier_id, []).append(record.to_domain())
    for dossier_id, events in history.events.items():
        state: Dossier | None = None
        seen: dict[int, StaySeen] = {}
        transit: TransitSeen | None = None
        for event in events:
            if state is not None and (step := state.current_step) is not None and step.segment_start:
                # The step ran from its segment start (or the previous event) until this event.
                start = max(state.last_occurred_at, step.segment_start)
                stay = seen[len(state.steps) - 1]
                stay.working += calendar.working_hours_between(start, event.occurred_at)
                stay.calendar += (event.occurred_at - state.last_occurred_at).total_seconds() / 3600
            if isinstance(event, ev.HandedOff):
                transit = TransitSeen(event.from_agency_code, event.to_agency_code, event.occurred_at)
                history.transits.append((dossier_id, transit))
            elif isinstance(event, ev.HandoffAccepted | ev.HandoffReturned) and transit:
                transit.ended_at = event.occurred_at
                transit.outcome = "accepted" if isinstance(event, ev.HandoffAccepted) else "returned"
                transit = None
            state = evolve(state, event)
            for index, step in enumerate(state.steps):
                if index not in seen:
                    seen[index] = StaySeen(step.agency_code, step.entered_at)
                    history.stays.append((dossier_id, seen[index]))
                seen[index].left_at = step.left_at
    return history


def local_day(at: datetime, container: Container) -> date:
    return at.astimezone(container.calendar.tz).date()


def end_of(day: date, container: Container) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), container.calendar.tz) - timedelta(
        microseconds=1
    )


def levels_at(history: History, at: datetime) -> dict[str, list[int]]:
    """Per agency at an instant: [held, in transit to it, held past its step's due instant]."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for events in history.events.values():
        state = fold(events, as_of=at)
        if state is None or state.is_terminal:
            continue
        if state.pending_handoff_to:
            out[state.pending_handoff_to][1] += 1
        step = state.current_step
        if step is None:
            continue
        out[step.agency_code][0] += 1
        judged = state.paused_at if state.status in PAUSED and state.paused_at else at
        if step.due_at is not None and step.due_at <= judged:
            out[step.agency_code][2] += 1
    return out


def close_to(read: float | None, exact: float | None) -> bool:
    if exact is None:
        return read is None
    assert read is not None
    return abs(read - exact) <= RELATIVE_ERROR * exact + 1e-3


@pytest.fixture
def view_url(backend_url: str, tmp_path: Path, pg_database: Callable[..., str]) -> str:
    """The view lives in its own database, fed only by the runner under test."""
    if backend_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'views.sqlite'}"
    return pg_database()


@pytest.fixture
def seeded(backend_url: str, view_url: str, make_container: Any, clock: FakeClock) -> Iterator[Any]:
    container: Container = make_container(backend_url)
    clock.set("2026-08-28T14:00:00+07:00")
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=160, seed=11)
    views = Database(view_url)
    runner = ViewRunner(views, BottleneckView(container.calendar))
    # Small batches: a dossier's events are split across many transactions, as when live.
    feed = StoreFeed(container.store, [runner], batch=37)
    feed.catch_up()
    yield container, views, feed
    views.close()


def test_reports_equal_a_recomputation_from_the_event_streams(seeded: Any) -> None:
    container, views, _feed = seeded
    reports = BottleneckReports(views, container.catalogue, container.calendar)
    history = recompute(container)
    # The range ends on days when stays ended, so a bound read one day off shows.
    ends = sorted(local_day(s.left_at, container) for _d, s in history.stays if s.left_at)
    first, last = ends[len(ends) // 4], ends[3 * len(ends) // 4]
    report = reports.bottlenecks(first, last, None, TODAY)

    finished: dict[str, list[StaySeen]] = defaultdict(list)
    arrivals: dict[str, int] = defaultdict(int)
    for _d, stay in history.stays:
        if first <= local_day(stay.entered_at, container) <= last:
            arrivals[stay.agency_code] += 1
        if stay.left_at and first <= local_day(stay.left_at, container) <= last:
            finished[stay.agency_code].append(stay)
    levels = levels_at(history, end_of(last, container))
    rows = {row["agency_code"]: row for row in report["agencies"]}
    assert len(rows) >= 8  # the demo spreads over wards and departments
    for code in set(rows) | set(finished) | set(arrivals):
        row = rows[code]
        dwell = [s.working for s in finished[code]]
        assert row["arrivals"] == arrivals[code], code
        assert row["completions"] == row["stays"] == len(dwell), code
        assert [row["wip"], row["in_transit"], row["overdue_wip"]] == levels[code], code
        for name, q in (("p50", 500), ("p90", 900), ("p99", 990)):
            assert close_to(row["dwell_hours"][name], exact_quantile(dwell, q)), (code, name)
        if dwell:
            mean_calendar = sum(s.calendar for s in finished[code]) / len(dwell)
            assert row["mean_dwell_calendar_hours"] == pytest.approx(mean_calendar, abs=1e-3)

    ended: dict[tuple[str, str], list[TransitSeen]] = defaultdict(list)
    for _d, t in history.transits:
        if t.ended_at and first <= local_day(t.ended_at, container) <= last:
            ended[(t.giver, t.receiver)].append(t)
    edges = {(e["from_agency_code"], e["to_agency_code"]): e for e in report["edges"]}
    assert set(edges) == set(ended) and any(e["returns"] for e in edges.values())
    for key, transits in ended.items():
        hours = [container.calendar.working_hours_between(t.handed_at, t.ended_at) for t in transits]
        assert edges[key]["count"] == len(transits)
        assert edges[key]["returns"] == sum(t.outcome == "returned" for t in transits)
        for name, q in (("p50", 500), ("p90", 900), ("p99", 990)):
            assert close_to(edges[key]["transit_hours"][name], exact_quantile(hours, q)), (key, name)

    # The busiest agency's daily WIP over a month, and its drill-down list.
    busiest = max(finished, key=lambda code: len(finished[code]))
    series = reports.wip(busiest, date(2026, 3, 1), date(2026, 3, 31), "day", TODAY)["items"]
    assert len(series) == 31
    for point in series:
        day = date.fromisoformat(point["period"])
        expected = levels_at(history, end_of(day, container))[busiest]
        assert [point["wip"], point["in_transit"], point["overdue_wip"]] == expected, day
    assert any(point["wip"] for point in series)
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = reports.stays(busiest, first, last, container.service.now(), limit=7, cursor=cursor)
        listed += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(i["dwell_hours"] for i in listed) == pytest.approx(
        sorted(s.working for s in finished[busiest]), abs=1e-3
    )
    assert [i["dwell_hours"] for i in listed] == sorted((i["dwell_hours"] for i in listed), reverse=True)


def test_heat_map_cells_are_the_weeks_of_the_recomputation(seeded: Any) -> None:
    container, views, _feed = seeded
    reports = BottleneckReports(views, container.catalogue, container.calendar)
    history = recompute(container)
    first, last = date(2025, 9, 1), date(2026, 8, 23)  # ISO weeks 2025-W36 to 2026-W34
    weeks = ((last - first).days + 1) // 7
    dwell = reports.heatmap("dwell", first, last, None, TODAY)
    assert (
        len(dwell["weeks"]) == weeks and dwell["weeks"][0] == "2025-W36" and dwell["weeks"][-1] == "2026-W34"
    )
    for row in dwell["rows"]:
        for index, cell in enumerate(row["cells"]):
            monday = first + timedelta(weeks=index)
            hours = [
                s.working
                for _d, s in history.stays
                if s.agency_code == row["group"]
                and s.left_at
                and monday <= local_day(s.left_at, container) <= monday + timedelta(days=6)
            ]
            assert cell["count"] == len(hours)
            assert close_to(cell["value"], exact_quantile(hours, 500)), (row["group"], cell["week"])
    overdue = reports.heatmap("overdue_wip", first, last, None, TODAY)
    rows = {row["group"]: row["cells"] for row in overdue["rows"]}
    for index in range(weeks):
        sunday = first + timedelta(weeks=index, days=6)
        expected = levels_at(history, end_of(sunday, container))
        for code in set(rows) | set(expected):
            cell = rows[code][index] if code in rows else {"value": 0, "wip": 0}
            held, _in_transit, late = expected.get(code, [0, 0, 0])
            assert (cell["value"], cell["wip"]) == (late, held), (code, sunday)
    assert any(cell["value"] for cells in rows.values() for cell in cells), "the demo has late steps"


def _snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    keys = {
        "bottleneck_counts": "key",
        "bottleneck_flows": "dossier_id",
        "bottleneck_stays": "dossier_id, stay_no",
        "bottleneck_transits": "dossier_id, handoff_seq",
    }
    return {table: db.query(f"SELECT * FROM {table} ORDER BY {keys[table]}") for table in TABLES}


def test_a_rebuild_equals_the_live_view_row_for_row(seeded: Any) -> None:
    _container, views, feed = seeded
    live = _snapshot(views)
    assert all(live[table] for table in TABLES if table != "bottleneck_flows")
    assert live["bottleneck_flows"], "open dossiers keep their flow"
    feed.rebuild(["bottleneck"])
    assert _snapshot(views) == live
