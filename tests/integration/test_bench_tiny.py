"""Every benchmark of BENCHMARKS.md in a tiny mode (seconds each), so none of them rots: each
runs end to end on real stores and reports a figure, its same-run baseline and the ratio,
saved as var/bench/NAME.json."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from gateways.bench import BenchUnavailable, run_bench
from gateways.bench.cli import bench
from gateways.bench.report import BenchResult
from gateways.settings import Settings

pytestmark = pytest.mark.integration
KEYS = {"name", "value", "unit", "baseline", "ratio", "target_ratio", "params", "started_at"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", jwt_secret="test-secret-of-at-least-thirty-two-bytes")


def saved(result: BenchResult, settings: Settings) -> dict[str, object]:
    body: dict[str, object] = orjson.loads(result.save(settings.data_dir / "bench").read_bytes())
    assert body.keys() >= KEYS
    return body


def assert_ratio(result: BenchResult, settings: Settings) -> None:
    body = saved(result, settings)
    assert result.value > 0 and result.baseline is not None and result.baseline > 0
    assert body["ratio"] == pytest.approx(result.value / result.baseline, abs=1e-4)  # saved to 4 places
    assert body["target_met"] == (body["ratio"] >= body["target_ratio"])  # type: ignore[operator]


def test_rebuild_on_each_store(settings: Settings, backend_url: str) -> None:
    store_url = None if backend_url.startswith("sqlite") else backend_url  # the run makes its own database
    result = run_bench("rebuild", settings, 1500, store_url=store_url)
    assert_ratio(result, settings)
    assert result.params["store"] == ("sqlite" if store_url is None else "postgresql")
    assert 1000 <= result.params["events"] <= 2000  # about the 1,500 asked for
    assert set(result.extra["per_view_events"].values()) == {
        result.params["events"]
    }  # every view, every event


def test_append_drives_the_api_with_eight_clients(settings: Settings) -> None:
    result = run_bench("append", settings, 800)
    assert_ratio(result, settings)
    assert result.params["clients"] == 8
    assert result.params["commands"] == 80  # 800 // 10, a whole number of 8-command dossiers
    assert 0 < result.extra["p50_ms"] <= result.extra["p99_ms"]


def test_query_reports_the_worst_p99(settings: Settings) -> None:
    result = run_bench("query", settings, 1500)
    body = saved(result, settings)
    assert set(result.extra["p99_ms"]) == {"bieu06", "sla", "bottlenecks", "control_sheet", "inbox"}
    assert result.value == max(result.extra["p99_ms"].values())
    assert body["target_met"] == (result.value <= 20.0)


def test_memory_rebuilds_at_three_sizes(settings: Settings) -> None:
    result = run_bench("memory", settings, 1600)
    saved(result, settings)
    small, middle, large = result.params["events"]
    assert small < middle < large and large > 10 * small
    assert all(peak > 0 for peak in result.extra["peak_rss_mib"])


def test_mining_says_how_to_get_pm4py_when_it_is_missing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pm4py", None)  # an import of it now fails
    with pytest.raises(BenchUnavailable, match=r"skipped: install \.\[mining\]"):
        run_bench("mining", settings, 500)


def test_mining_agrees_with_pm4py_before_comparing_time(settings: Settings) -> None:
    pytest.importorskip("pm4py")
    result = run_bench("mining", settings, 1500)
    assert_ratio(result, settings)
    assert result.extra["numbers_agree"] is True and result.extra["edges"] > 5


def test_bench_command_prints_and_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    app = typer.Typer()
    app.command()(bench)
    result = CliRunner().invoke(app, ["rebuild", "--events", "800"])
    assert result.exit_code == 0, result.output
    assert "bench rebuild" in result.output and "ratio" in result.output
    body = orjson.loads((tmp_path / "var" / "bench" / "rebuild.json").read_bytes())
    assert body["name"] == "rebuild" and body["params"]["fetch_size"] == 2000
    unknown = CliRunner().invoke(app, ["nothing"])
    assert unknown.exit_code == 2


@pytest.mark.kafka
def test_relay_against_raw_send(settings: Settings, kafka_bootstrap: str) -> None:
    result = run_bench("relay", settings, 1500, kafka=kafka_bootstrap)
    assert_ratio(result, settings)
    assert result.params["acks"] == "all" and result.params["idempotent"] is True


@pytest.mark.kafka
def test_project_kafka_against_raw_consume(settings: Settings, kafka_bootstrap: str) -> None:
    result = run_bench("project-kafka", settings, 1500, kafka=kafka_bootstrap)
    assert_ratio(result, settings)
    assert result.extra["dead_lettered"] == 0


@pytest.mark.kafka
def test_lag_until_visible_in_the_sla_view(settings: Settings, kafka_bootstrap: str) -> None:
    result = run_bench("lag", settings, 1500, kafka=kafka_bootstrap)
    body = saved(result, settings)
    assert result.params["view"] == "sla" and result.params["commands"] == 20
    assert 0 < result.extra["p50_ms"] <= result.value
    assert body["target_met"] == (result.value <= 500.0)
