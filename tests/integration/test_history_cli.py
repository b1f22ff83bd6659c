"""An inspector replays one dossier from the command line: history, state as of an instant, chain check."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from gateways.cli import app
from gateways.http.presenter import event_json
from gateways.seed.demo import seed_demo


@pytest.fixture
def seeded(make_container: Any, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    clock.set("2026-11-20T10:00:00+07:00")
    container = make_container()
    seed_demo(container.service, clock(), dossiers=12, seed=5)
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    rows = container.view_db.query(
        "SELECT dossier_id FROM dossier_index WHERE last_seq >= 4 ORDER BY dossier_id"
    )
    return container, rows[0]["dossier_id"]


def test_history_replays_the_stream_and_the_state_as_of_an_instant(seeded: Any) -> None:
    container, dossier_id = seeded
    records = container.store.load(dossier_id)
    second = records[1].envelope["occurred_at"]
    now = CliRunner().invoke(app, ["history", dossier_id, "--format", "json"])
    assert now.exit_code == 0, now.output
    body = orjson.loads(now.stdout)
    assert [e["seq"] for e in body["events"]] == [r.seq for r in records]
    assert [e["hash"] for e in body["events"]] == [r.hash for r in records]
    assert body["verify"]["ok"] and body["verify"]["checked_events"] == len(records)
    # The table says what the chain check covers, and where the rest is checked.
    text = CliRunner().invoke(app, ["history", dossier_id], env={"COLUMNS": "300"})
    assert text.exit_code == 0, text.output
    assert "hash chain: intact" in text.stdout
    assert f"lienthong audit verify --dossier-id {dossier_id}" in text.stdout
    earlier = CliRunner().invoke(app, ["history", dossier_id, "--as-of", second, "--format", "json"])
    assert earlier.exit_code == 0, earlier.output
    then = orjson.loads(earlier.stdout)
    # Only the events that had happened by the second one's time (times never go backwards).
    kept = [r.seq for r in records if r.envelope["occurred_at"] <= second]
    assert [e["seq"] for e in then["events"]] == kept and len(kept) < len(records)
    assert then["state"]["version"] == len(kept)
    assert (
        then["state"]["status"] != body["state"]["status"]
        or then["state"]["version"] < body["state"]["version"]
    )


def test_history_to_a_file_or_a_pipe_cuts_nothing(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # `lienthong history ID > h.txt` or `| less`: no terminal width, and no "DossierRece…".
    container, dossier_id = seeded
    monkeypatch.delenv("COLUMNS", raising=False)
    text = CliRunner().invoke(app, ["history", dossier_id])
    assert text.exit_code == 0, text.output
    assert "…" not in text.stdout
    for event in (event_json(r) for r in container.store.load(dossier_id)):
        assert f"│ {event['occurred_at']} " in text.stdout and f"│ {event['type']} " in text.stdout


def test_history_fails_loudly_on_a_broken_chain_and_bad_input(seeded: Any, tmp_path: Path) -> None:
    _container, dossier_id = seeded
    conn = sqlite3.connect(tmp_path / "var" / "lienthong.sqlite")
    table = next(
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'") if "event" in r[0]
    )
    stream = dossier_id.replace("-", "")  # eventsourcing's SQLite recorder keeps the UUID as hex text
    (state,) = conn.execute(
        f"SELECT state FROM {table} WHERE originator_version = 2 AND originator_id = ?", (stream,)
    ).fetchone()
    altered = bytes(state).replace(b'"actor":{"agency_code":"', b'"actor":{"agency_code":"X', 1)
    assert altered != bytes(state)
    conn.execute(
        f"UPDATE {table} SET state = ? WHERE originator_version = 2 AND originator_id = ?", (altered, stream)
    )
    conn.commit()
    broken = CliRunner().invoke(app, ["history", dossier_id])
    assert broken.exit_code == 1 and "BROKEN" in broken.stdout
    assert CliRunner().invoke(app, ["history", "not-a-uuid"]).exit_code == 2
    bad_time = CliRunner().invoke(app, ["history", dossier_id, "--as-of", "2026-11-02T09:00:00"])
    assert bad_time.exit_code == 2 and "offset" in bad_time.output
