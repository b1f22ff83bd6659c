"""Altering or deleting stored bytes directly in SQLite is detected and named."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from gateways.audit import verify_chains
from gateways.seed.demo import load_catalogue, seed_demo


def _seeded(
    make_container: Any, clock: Any, path: Path, dossiers: int, seed: int
) -> tuple[Any, sqlite3.Connection]:
    """A SQLite store with demo dossiers whose chains verify, and a connection to alter its rows."""
    container = make_container(f"sqlite:///{path}")
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=dossiers, seed=seed)
    assert verify_chains(container.store).ok
    return container, sqlite3.connect(path)


def test_altered_and_deleted_events_are_named(make_container: Any, clock: Any, tmp_path: Any) -> None:
    container, conn = _seeded(make_container, clock, tmp_path / "tamper.sqlite", 10, 3)
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
    assert bad is not None and bad["seq"] == 2 and bad["kind"] in {"altered", "not_an_event"}
    conn.execute(
        f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 2",
        (state, originator),
    )
    conn.execute(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 2", (originator,))
    conn.commit()
    bad = verify_chains(container.store).first_bad
    assert bad is not None and bad["seq"] == 2 and "missing" in bad["reason"]
    # The kind and the values the reason names, for a reader in another language.
    assert bad["kind"] == "missing" and bad["found_seq"] == 3


def test_two_dossiers_streams_swapped_are_named(make_container: Any, clock: Any, tmp_path: Any) -> None:
    """Each chain is intact after a swap (the hash covers the envelope, not the row's key):
    what gives it away is an event stored under a dossier that is not its own."""
    container, conn = _seeded(make_container, clock, tmp_path / "swap.sqlite", 6, 5)
    first, second = (r[0] for r in conn.execute("SELECT DISTINCT originator_id FROM stored_events LIMIT 2"))
    conn.execute("UPDATE stored_events SET originator_id = 'x' WHERE originator_id = ?", (first,))
    conn.execute("UPDATE stored_events SET originator_id = ? WHERE originator_id = ?", (first, second))
    conn.execute("UPDATE stored_events SET originator_id = ? WHERE originator_id = 'x'", (second,))
    conn.commit()
    bad = verify_chains(container.store).first_bad
    assert bad is not None and bad["seq"] == 1 and "moved between streams" in bad["reason"]
    assert bad["kind"] == "moved" and bad["owner"] in {str(uuid.UUID(first)), str(uuid.UUID(second))}
    one = str(uuid.UUID(second))
    alone = verify_chains(container.store, one).first_bad
    assert alone is not None and alone["dossier_id"] == one and str(uuid.UUID(first)) in alone["reason"]


def test_a_rows_type_altered_outside_the_hash_is_named(
    make_container: Any, clock: Any, tmp_path: Any
) -> None:
    """The type a row is filed under (the relay's `event-type` header) is not hashed: it must
    still be the envelope's own, before and after a checkpoint covers the event."""
    container, conn = _seeded(make_container, clock, tmp_path / "topic.sqlite", 4, 7)
    originator, topic = conn.execute(
        "SELECT originator_id, topic FROM stored_events WHERE originator_version = 2 LIMIT 1"
    ).fetchone()
    conn.execute(
        "UPDATE stored_events SET topic = ? WHERE originator_id = ? AND originator_version = 2",
        ("DossierDecided", originator),
    )
    conn.commit()
    assert topic != "DossierDecided"
    bad = verify_chains(container.store).first_bad
    assert bad is not None and bad["seq"] == 2 and "type was altered" in bad["reason"]
    assert bad["dossier_id"] == str(uuid.UUID(originator))
    assert bad["kind"] == "type_altered"
    assert (bad["stored_type"], bad["event_type"]) == ("DossierDecided", topic)
    conn.execute(
        "UPDATE stored_events SET topic = ? WHERE originator_id = ? AND originator_version = 2",
        (topic, originator),
    )
    conn.commit()
    assert container.checkpoints.checkpoint(clock()) is not None
    assert container.checkpoints.verify().ok
    conn.execute(
        "UPDATE stored_events SET topic = ? WHERE originator_id = ? AND originator_version = 2",
        ("DossierDecided", originator),
    )
    conn.commit()
    for whole_log in (True, False):
        bad = container.checkpoints.verify(None if whole_log else str(uuid.UUID(originator))).first_bad
        assert bad is not None and bad["seq"] == 2 and "type was altered" in bad["reason"]
