"""The floor under the projection benchmarks (gateways/bench/floor.py): it writes every row the
views hold, once, into a scratch copy of their schema, leaves nothing behind, and the ceiling it
sets is the baseline's share of baseline plus floor."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkingCalendar
from gateways.bench.floor import RUNTIME_TABLES, ceiling, parse_seconds, view_tables, write_floor
from gateways.bench.workload import workbench
from gateways.settings import Settings
from gateways.sql import Database
from gateways.views.bottleneck import TABLES as BOTTLENECK_TABLES
from gateways.views.indicators import TABLES as INDICATOR_TABLES
from gateways.views.registry import build_views
from gateways.views.sla.schema import TABLES as SLA_TABLES

pytestmark = pytest.mark.integration


def test_the_tables_are_every_views_and_the_seen_seqs() -> None:
    tables = view_tables(build_views(WorkingCalendar(tz=ZoneInfo("Asia/Ho_Chi_Minh"))))
    assert set(tables) >= {
        *SLA_TABLES,
        *BOTTLENECK_TABLES,
        *INDICATOR_TABLES,
        "dossier_index",
        *RUNTIME_TABLES,
    }
    assert len(tables) == len(set(tables))


def counts(db: Database, tables: list[str]) -> dict[str, int]:
    return {t: int(db.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in tables}


def test_ceiling_is_the_baselines_share() -> None:
    assert ceiling(1.0, 1.0) == 0.5
    assert ceiling(2.0, 0.0) == 1.0
    assert ceiling(1.0, 3.0) == 0.25


def test_the_floor_writes_every_view_row_once_and_leaves_nothing(tmp_path: Path, backend_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", jwt_secret="test-secret-of-at-least-thirty-two-bytes")
    store_url = None if backend_url.startswith("sqlite") else backend_url
    bench = workbench(settings, 1500, store_url=store_url)
    try:
        container = bench.container
        container.feed.rebuild()
        tables = view_tables(build_views(container.calendar))
        held = counts(container.view_db, tables)
        scratch = bench.work / "floor.sqlite"

        floor = write_floor(container.view_db, tables, scratch)

        assert floor.rows == held == floor.copied  # read, written and found in the copy: each row once
        assert held["dossier_index"] == bench.tally.dossiers > 0
        assert floor.total_rows == sum(held.values())
        assert floor.seconds > 0 and floor.from_python_seconds > 0
        summary = floor.as_json(bench.events)
        assert summary["rows"] == floor.total_rows
        assert summary["rows_by_table"] == {t: n for t, n in held.items() if n}
        if container.view_db.is_postgres:
            left = container.view_db.query(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE ?", ("floor_%",)
            )
            assert left == []
        else:
            assert not list(scratch.parent.glob("floor*.sqlite*"))
        # The view store itself is untouched.
        assert {
            t: int(container.view_db.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in tables
        } == held
        records, seconds = parse_seconds(container.store, page=300)
        assert records == bench.events and seconds > 0
    finally:
        bench.close()
