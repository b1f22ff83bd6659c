"""Altering or deleting stored bytes directly in SQLite is detected and named."""

from __future__ import annotations

import sqlite3
from typing import Any

from gateways.audit import verify_chains
from gateways.seed.demo import load_catalogue, seed_demo


def test_altered_and_deleted_events_are_named(make_container: Any, clock: Any, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'tamper.sqlite'}"
    container = make_container(url)
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=10, seed=3)
    assert verify_chains(container.store).ok
    conn = sqlite3.connect(tmp_path / "tamper.sqlite")
    table = next(
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'") if "event" in r[0]
    )
    originator, _version, state = conn.execute(
        f"SELECT originator_id, originator_version, state FROM {table} WHERE originator_version = 2 LIMIT 1"
    ).fetchone()
    conn.execute(
        f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
        (
            bytes(state).replace(b"W", b"V", 1) if b"W" in bytes(state) else bytes(state)[:-2] + b" }",
            originator,
        ),
    )
    conn.commit()
    bad = verify_chains(container.store).first_bad
    assert bad is not None and bad["seq"] == 2
    conn.execute(
        f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
        (state, originator),
    )
    conn.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 2", (originator,))
    conn.commit()
    bad = verify_chains(container.store).first_bad
    assert bad is not None and bad["seq"] == 2 and "missing" in bad["reason"]
