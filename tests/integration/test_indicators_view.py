"""The indicators view on the real stores (SQLite and PostgreSQL), fed the demo's seeded history
in small batches: its totals equal a recount from the domain's own fold of each dossier, and a
rebuild equals the live view row for row."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from domain.dossier import Status, fold
from domain.events import DossierEvent
from gateways.bootstrap import Container
from gateways.seed.demo import seed_demo
from gateways.views.feed import StoreFeed
from gateways.views.indicators import TABLES, IndicatorsReports, IndicatorsView
from gateways.views.runtime import ViewRunner
from tests.conftest import FakeClock

EVER = (date(2000, 1, 1), date(2100, 1, 1))


@pytest.fixture
def fed(backend_url: str, make_container: Any, clock: FakeClock) -> Iterator[tuple[Container, StoreFeed]]:
    container: Container = make_container(backend_url)
    seed_demo(container.service, clock(), dossiers=60, seed=11)
    runner = ViewRunner(container.view_db, IndicatorsView(container.calendar.tz))
    feed = StoreFeed(container.store, [runner], batch=40)  # a dossier's events span batches
    feed.catch_up()
    yield container, feed


def _histories(container: Container) -> dict[str, list[DossierEvent]]:
    histories: dict[str, list[DossierEvent]] = defaultdict(list)
    position = 0
    while records := container.store.notifications(position, 1000):
        for record in records:
            histories[record.dossier_id].append(record.to_domain())
        position = records[-1].notification_id or position
    return histories


def test_totals_equal_a_recount_from_the_domain_fold(fed: tuple[Container, StoreFeed]) -> None:
    container, _ = fed
    n: Counter[str] = Counter()
    for events in _histories(container).values():
        state = fold(events)
        assert state is not None
        if state.imported:
            continue
        if state.received_at is not None:
            n["received"] += 1
            n[f"received_{state.channel.value}"] += 1
        if state.timeliness is not None:
            n["resolved"] += 1
            n[f"resolved_{state.timeliness.value}"] += 1
        n["returned"] += state.status == Status.RETURNED
    reports = IndicatorsReports(container.view_db, container.catalogue, container.calendar)
    total = reports.report(*EVER, group_by="level").total.counts
    assert n["received"] > 20 and n["resolved"] > 5  # the seed reaches every part
    assert {k: total[k] for k in n} == dict(n)


def _rows(container: Container) -> dict[str, list[tuple[str, ...]]]:
    return {
        table: sorted(
            tuple(str(v) for v in r.values()) for r in container.view_db.query(f"SELECT * FROM {table}")
        )
        for table in TABLES
    }


def test_a_rebuild_equals_the_live_view_row_for_row(fed: tuple[Container, StoreFeed]) -> None:
    container, feed = fed
    live = _rows(container)
    assert all(live[table] for table in TABLES)
    [result] = feed.rebuild(["indicators"])
    assert result.events == container.store.max_notification_id()
    assert _rows(container) == live
