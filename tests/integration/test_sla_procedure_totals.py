"""`sla_procedure_totals`: the SLA counters per procedure over every agency, on SQLite and
PostgreSQL. Its rows are the rows of `sla_by_procedure` summed over the agencies, live and after
a rebuild; a view store made before the table existed gets it filled from those rows when its
schema is next run, and its reports do not change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateways.bootstrap import Container
from gateways.seed.demo import seed_demo
from gateways.sql import Database
from gateways.views.sla import SCHEMA, SlaReports
from gateways.views.sla.reports import SlaReport
from projections.sla import COLUMNS
from tests.conftest import FakeClock

_KEY = "scope, grain, bucket, procedure_code, imported"


def _sorted(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples, `imported` as 0/1 on either backend."""
    return sorted(tuple(int(v) if isinstance(v, bool) else v for v in r.values()) for r in rows)


def _alone(db: Database) -> list[tuple[Any, ...]]:
    return _sorted(db.query(f"SELECT {_KEY}, {', '.join(COLUMNS)} FROM sla_procedure_totals"))


def _summed(db: Database) -> list[tuple[Any, ...]]:
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COLUMNS)
    return _sorted(db.query(f"SELECT {_KEY}, {sums} FROM sla_by_procedure GROUP BY {_KEY}"))


def _seeded(backend_url: str, make_container: Any, clock: FakeClock) -> Container:
    """A container with 80 demo dossiers, the views caught up."""
    container: Container = make_container(backend_url)
    seed_demo(container.service, clock(), dossiers=80, seed=5)
    container.feed.catch_up()
    return container


def _reports(container: Container, clock: FakeClock) -> list[SlaReport]:
    reports = SlaReports(container.view_db, container.catalogue, container.calendar)
    reports.cache.size = 0
    today = clock().date()
    return [
        reports._sla("procedure", today - timedelta(days=days), today, scope=scope, now=clock())
        for days in (0, 30, 400)
        for scope in ("received", "handled")
    ]


def test_procedure_totals_are_the_procedure_rows_summed_over_agencies(
    backend_url: str, make_container: Any, clock: FakeClock
) -> None:
    container = _seeded(backend_url, make_container, clock)
    db = container.view_db
    live = _alone(db)
    assert live and live == _summed(db)
    assert len(live) < len(db.query("SELECT scope FROM sla_by_procedure"))  # agencies were summed away
    seed_demo(container.service, clock(), dossiers=15, seed=6)  # a second round of batches
    container.feed.catch_up()
    assert _alone(db) == _summed(db) != live
    container.feed.rebuild(["sla"])
    assert _alone(db) == _summed(db)


def test_a_store_made_before_the_table_gets_it_filled_and_the_same_reports(
    backend_url: str, make_container: Any, clock: FakeClock
) -> None:
    container = _seeded(backend_url, make_container, clock)
    db = container.view_db
    before = _alone(db)
    reports = _reports(container, clock)
    assert any(r.rows for r in reports)

    db.execute("DROP TABLE sla_procedure_totals")  # the store as an older version left it
    db.executescript(SCHEMA)  # what the view's runner and the reports run when they start
    assert _alone(db) == before
    db.executescript(SCHEMA)  # and again: nothing is added twice
    assert _alone(db) == before
    assert _reports(container, clock) == reports

    # The live view goes on from there.
    seed_demo(container.service, clock(), dossiers=10, seed=9)
    container.feed.catch_up()
    assert _alone(db) == _summed(db) != before
