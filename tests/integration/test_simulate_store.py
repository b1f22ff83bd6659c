"""`lienthong simulate` on real stores: the world in the catalogue, the histories in the event
store (hash-chained, as the store itself encodes them), the views caught up, and the file
output reproducible byte for byte."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
import typer
from typer.testing import CliRunner

from domain.agencies import AgencyLevel
from gateways.bootstrap import Container
from gateways.eventstore.store import GENESIS_HASH, chain_hash
from gateways.simulation.cli import simulate
from gateways.simulation.engine import Simulation
from gateways.simulation.profiles import ward
from gateways.simulation.run import install_world, run_simulation
from gateways.simulation.sinks import StoreSink, encode_stream

VN = ZoneInfo("Asia/Ho_Chi_Minh")
pytestmark = pytest.mark.integration
app = typer.Typer()
app.command()(simulate)


def test_simulated_year_lands_in_the_store_with_its_world(make_container: object, backend_url: str) -> None:
    container: Container = make_container(backend_url)  # type: ignore[operator]
    sink = StoreSink(container.writer, container.vault, container.service.now, batch=50)
    simulation = Simulation(ward(2012).sized(300), 5, container.calendar, seal=sink.seal)
    install_world(container.catalogue, simulation.world)
    install_world(container.catalogue, simulation.world)  # a second run adds nothing
    tally = run_simulation(simulation, sink)

    records = []
    position = 0
    while batch := container.store.notifications(position, 1000):
        records.extend(batch)
        position = batch[-1].notification_id or position
    assert len(records) == tally.events > 300 * 3
    # Every stream is a valid hash chain from the genesis hash, seq 1, 2, 3, …
    streams: dict[str, list[dict[str, object]]] = {}
    for record in records:
        streams.setdefault(record.dossier_id, []).append(record.envelope)
    assert len(streams) == tally.dossiers
    for envelopes in streams.values():
        prev = GENESIS_HASH
        for seq, envelope in enumerate(envelopes, start=1):
            assert envelope["seq"] == seq and envelope["prev_hash"] == prev
            assert envelope["hash"] == chain_hash(prev, envelope)
            prev = str(envelope["hash"])
    # The applicant is sealed by the vault: the service can open it again (and logs that it did).
    first = records[0]
    sealed = first.envelope["payload"]["applicant"]
    opened = container.vault.open(
        first.dossier_id, sealed, subject="test", role="inspector", purpose="test", at=container.service.now()
    )
    assert opened is not None and opened["id_number"].startswith("0792")

    hierarchy = container.catalogue.hierarchy
    commune = simulation.world.communes[0]
    assert hierarchy.level_on(commune, date(2012, 5, 1)) == AgencyLevel.COMMUNE
    assert hierarchy.ancestors_on(commune, date(2012, 5, 1))[0] == simulation.world.district_of[commune]
    assert hierarchy.ancestors_on(commune, date(2025, 7, 1))[0] == simulation.world.province
    assert hierarchy.on(simulation.world.district_of[commune], date(2025, 7, 1)) is None


def test_store_sink_writes_the_bytes_the_event_store_would(make_container: object) -> None:
    container: Container = make_container()  # type: ignore[operator]
    recorded_at = datetime(2026, 1, 5, 9, tzinfo=VN)
    sink = StoreSink(container.writer, container.vault, lambda: recorded_at)
    simulation = Simulation(ward(2012).sized(20), 8, container.calendar, seal=sink.seal)
    install_world(container.catalogue, simulation.world)
    histories = list(simulation.histories())
    for history in histories[:10]:
        sink.write(history)
    sink.close()
    for history in histories[10:]:
        container.store.append(history.dossier_id, 0, GENESIS_HASH, history.events, recorded_at)
    for history in histories:
        stored = [r.raw for r in container.store.load(history.dossier_id)]
        assert stored == encode_stream(history.dossier_id, history.events, recorded_at)


def test_simulate_command_feeds_the_views_and_reports_the_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LIENTHONG_EVENT_STORE_URL", raising=False)
    monkeypatch.delenv("LIENTHONG_KAFKA_BOOTSTRAP", raising=False)
    result = CliRunner().invoke(
        app, ["--profile", "ward", "--year", "2012", "--dossiers", "200", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "received in period" in result.output and "200 (target 200)" in result.output
    assert "99.7375%" in result.output  # the target line: 26,597 / 26,667

    from gateways.bootstrap import bootstrap

    container = bootstrap()
    try:
        head = container.store.max_notification_id()
        assert head > 200
        # Embedded mode: the command returns once every view has caught up.
        assert all(runner.notification_position() == head for runner in container.runners)
    finally:
        container.close()


def test_file_output_is_the_same_for_the_same_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    runner = CliRunner()
    outputs = []
    for name, seed in (("a", "21"), ("b", "21"), ("c", "22")):
        out = tmp_path / f"{name}.jsonl"
        result = runner.invoke(app, ["--dossiers", "60", "--seed", seed, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]
    lines = outputs[0].splitlines()
    envelope = orjson.loads(lines[0])
    assert envelope["type"] in ("DossierReceived", "DossierSubmittedOnline")
    assert envelope["recorded_at"] == envelope["occurred_at"]
    assert b"id_number" not in outputs[0]  # sealed, never in clear
