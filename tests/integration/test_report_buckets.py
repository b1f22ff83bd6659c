"""Reports read a handful of buckets: the same answers as summing day by day, and cached.

The SLA counters are kept per local day, month and year, the bottleneck blocks per day, ISO
week and aligned runs of weeks; a report over a range adds the few buckets that cover it.
Here every report over random ranges is asked twice — once as built, once with the covering
forced down to single days — on the demo's thirteen months of history, and must not differ; the
SLA report by procedure over every agency also from the buckets per agency and procedure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.bootstrap import Container
from gateways.seed.demo import seed_demo
from gateways.views.sla import reports as sla_reports
from projections import bottleneck as b
from projections import sla
from tests.conftest import FakeClock

PROVINCE = "000.00.00.H29"
SEED_END = date(2026, 8, 28)  # the test clock's day: the demo spans the 13 months before it


def days_only(first: date, stop: date) -> list[tuple[str, str, str]]:
    """`[first, stop)` as one range of day buckets (what a store without months would sum)."""
    return [("d", first.isoformat(), (stop - timedelta(days=1)).isoformat())]


def single_days(first: int, last: int) -> list[tuple[int, int]]:
    return [(1, day) for day in range(first, last + 1)]


@dataclass
class Demo:
    container: Container


@pytest.fixture
def demo(tmp_path: Path, make_container: Any, clock: FakeClock) -> Iterator[Demo]:
    container: Container = make_container(f"sqlite:///{tmp_path / 'events.sqlite'}")
    seed_demo(container.service, clock(), dossiers=160, seed=11)
    container.feed.catch_up()
    yield Demo(container)


ranges = st.tuples(st.integers(0, 430), st.integers(0, 420)).map(
    lambda t: (SEED_END - timedelta(days=t[0]), SEED_END - timedelta(days=t[0]) + timedelta(days=t[1]))
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    span=ranges, group_by=st.sampled_from(("agency", "level", "procedure")), scope=st.sampled_from(sla.SCOPES)
)
def test_sla_reports_from_month_and_year_buckets_equal_day_buckets(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, span: tuple[date, date], group_by: str, scope: str
) -> None:
    reports = demo.container.sla
    first, last = span
    now = demo.container.clock()
    grouped = reports._sla(group_by, first, last, scope=scope, now=now)
    form = reports._bieu06(PROVINCE, first, last, include_children=True, scope=scope, now=now)
    with monkeypatch.context() as patched:
        patched.setattr(sla, "bucket_ranges", days_only)
        assert reports._sla(group_by, first, last, scope=scope, now=now) == grouped
        assert reports._bieu06(PROVINCE, first, last, include_children=True, scope=scope, now=now) == form
    # By procedure over every agency: the buckets per procedure alone equal those per agency
    # and procedure summed, by month and year and by day.
    by_procedure = reports._sla("procedure", first, last, scope=scope, now=now)
    for buckets in (sla.bucket_ranges, days_only):
        with monkeypatch.context() as patched:
            patched.setattr(sla, "bucket_ranges", buckets)
            patched.setattr(sla_reports, "_PROCEDURES", "sla_by_procedure")
            assert reports._sla("procedure", first, last, scope=scope, now=now) == by_procedure
    year = reports._bieu06(PROVINCE, SEED_END - timedelta(days=365), SEED_END, include_children=True, now=now)
    assert year.form.received_total > 100  # the ranges meet real data


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(span=ranges)
def test_bottleneck_reports_from_week_blocks_equal_day_blocks(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, span: tuple[date, date]
) -> None:
    reports = demo.container.bottlenecks
    first, last = span
    report = reports._bottlenecks(first, last, None, SEED_END, steps=True)
    with monkeypatch.context() as patched:
        patched.setattr(b, "cover", single_days)
        assert reports._bottlenecks(first, last, None, SEED_END, steps=True) == report


def test_a_report_is_answered_from_the_cache_until_its_view_moves(demo: Demo, clock: FakeClock) -> None:
    container = demo.container
    reports, cache = container.sla, container.sla.cache
    first, last = SEED_END - timedelta(days=90), SEED_END - timedelta(days=1)  # over before now
    before = reports.bieu06(PROVINCE, first, last, include_children=True, now=clock())
    misses, hits = cache.misses, cache.hits
    again = reports.bieu06(PROVINCE, first, last, include_children=True, now=clock())
    assert again is before and (cache.misses, cache.hits) == (misses, hits + 1)
    heat = container.bottlenecks.heatmap("dwell", first, last, None, SEED_END)
    heat["view_position"] = 1  # a caller adds to its copy; the cached answer stays as it was
    assert "view_position" not in container.bottlenecks.heatmap("dwell", first, last, None, SEED_END)

    # A range that runs until now is judged at a new instant each time: recounted, but its
    # whole days come from the cache; only today so far is counted from the fact rows.
    running = reports.bieu06(PROVINCE, first, SEED_END, include_children=True, now=clock())
    misses, hits = cache.misses, cache.hits
    clock.at += timedelta(minutes=5)
    later = reports.bieu06(PROVINCE, first, SEED_END, include_children=True, now=clock())
    assert later is not running and later.judged_at > running.judged_at
    assert cache.misses == misses and cache.hits > hits
    assert later == reports._bieu06(PROVINCE, first, SEED_END, include_children=True, now=clock())

    # More dossiers recorded: the views move, and the same question is computed again.
    moved_from = cache.position("sla")
    seed_demo(container.service, clock(), dossiers=3, seed=99)
    assert cache.position("sla") != moved_from
    misses = cache.misses
    after = reports.bieu06(PROVINCE, first, last, include_children=True, now=clock())
    assert cache.misses > misses  # asked again at the view's new position
    assert after == reports._bieu06(PROVINCE, first, last, include_children=True, now=clock())
