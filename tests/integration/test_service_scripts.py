"""The deploy scripts tell a caller whether they started a server or found it running, so that
`make run-kafka` stops on exit only what it started (a PostgreSQL another command started stays
up). The broker's side is in tests/integration/test_kafka_relay.py, on a private broker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_postgres_found_running_is_not_marked_as_started_here(tmp_path: Path) -> None:
    if not (REPO / "var" / "postgres" / "data" / "postmaster.pid").exists():
        pytest.skip("PostgreSQL of this checkout is not running (make test starts it)")
    mark = tmp_path / "started"
    done = subprocess.run(
        [str(REPO / "deploy" / "postgres" / "start.sh")],
        env={**os.environ, "LIENTHONG_STARTED_MARK": str(mark)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith("postgresql://")
    assert "already running" in done.stderr
    assert not mark.exists()


def test_run_kafka_stops_only_what_its_own_start_started() -> None:
    recipe = (REPO / "Makefile").read_text().split("\nrun-kafka:", 1)[1].split("\n\n", 1)[0]
    trap = next(line for line in recipe.splitlines() if "trap" in line)
    # Each stop is guarded by the mark its start leaves (deploy/*/start.sh, LIENTHONG_STARTED_MARK).
    assert '[ ! -e "$$marks/kafka" ] || deploy/kafka/stop.sh' in trap
    assert '[ ! -e "$$marks/postgres" ] || deploy/postgres/stop.sh' in trap
    assert recipe.count("LIENTHONG_STARTED_MARK=") == 2
