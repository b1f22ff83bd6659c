"""One contract for every event-store backend: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.events import Actor, HandedOff
from gateways.audit import verify_chains
from gateways.eventstore.store import GENESIS_HASH, ConcurrencyConflict, EventStore
from gateways.seed.demo import load_catalogue, seed_demo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=VN)


def _handoff(n: int) -> HandedOff:
    return HandedOff(
        occurred_at=AT,
        actor=Actor("W", "u", "officer"),
        from_agency_code="W",
        to_agency_code=f"D{n}",
        route_step=None,
    )


def test_append_load_and_hash_chain(backend_url: str) -> None:
    store = EventStore(backend_url)
    try:
        dossier = str(uuid.uuid4())
        first = store.append(dossier, 0, GENESIS_HASH, [_handoff(1), _handoff(2)], AT)
        store.append(dossier, 2, first[-1].hash, [_handoff(3)], AT)
        loaded = store.load(dossier)
        assert [r.seq for r in loaded] == [1, 2, 3]
        assert loaded[0].envelope["prev_hash"] == GENESIS_HASH
        assert loaded[2].envelope["prev_hash"] == loaded[1].hash
        assert loaded[2].to_domain() == _handoff(3)
        assert verify_chains(store, dossier).ok and verify_chains(store, dossier).checked_events == 3
    finally:
        store.close()


def test_optimistic_concurrency_one_writer_wins(backend_url: str) -> None:
    store = EventStore(backend_url)
    try:
        dossier = str(uuid.uuid4())
        store.append(dossier, 0, GENESIS_HASH, [_handoff(1)], AT)
        results: list[str] = []
        barrier = threading.Barrier(4)

        def write(n: int) -> None:
            barrier.wait()
            try:
                store.append(dossier, 1, "x", [_handoff(n)], AT)
                results.append("ok")
            except ConcurrencyConflict:
                results.append("conflict")

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["conflict", "conflict", "conflict", "ok"]
        assert len(store.load(dossier)) == 2
    finally:
        store.close()


def test_notification_log_is_in_append_order(backend_url: str) -> None:
    store = EventStore(backend_url)
    try:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for n, dossier in enumerate(ids):
            store.append(dossier, 0, GENESIS_HASH, [_handoff(n)], AT)
        log = store.notifications(0, 100)
        assert [r.dossier_id for r in log][-3:] == ids
        assert [r.notification_id for r in log] == sorted(r.notification_id or 0 for r in log)
        assert store.notifications(log[-1].notification_id or 0) == []
    finally:
        store.close()


def test_demo_walks_and_views_agree_with_the_store(backend_url: str, make_container: Any, clock: Any) -> None:
    container = make_container(backend_url)
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    counts = seed_demo(container.service, clock(), dossiers=40, seed=7)
    assert sum(counts.values()) >= 35 and counts.get("returned", 0) > 10
    rows = container.index.search([], [], 500, None)
    assert len(rows) == sum(counts.values())
    for row in rows[:10]:
        state = container.service.load(row.dossier_id).state
        assert state is not None and (row.status, row.last_seq, row.holder_agency_code) == (
            state.status.value,
            state.version,
            state.holder_agency_code,
        )
    before = [(r.dossier_id, r.status, r.last_seq) for r in rows]
    container.feed.rebuild()
    assert [(r.dossier_id, r.status, r.last_seq) for r in container.index.search([], [], 500, None)] == before
    assert verify_chains(container.store).ok


def test_the_demo_seed_counts_every_dossier_it_leaves_in_the_store(
    backend_url: str, make_container: Any, clock: Any
) -> None:
    """`lienthong seed` prints these counts: a walk the rules stop half-way still leaves its
    dossier in the store (seed 2012, the demo's, has one among its first 40)."""
    container = make_container(backend_url)
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    counts = seed_demo(container.service, clock(), dossiers=40, seed=2012)
    stored = Counter(row.status for row in container.index.search([], [], 500, None))
    assert counts == dict(stored)


def test_pii_is_sealed_in_the_stored_bytes(backend_url: str, make_container: Any) -> None:
    container = make_container(backend_url)
    sealed = container.vault.seal("0b7c6d1e-0000-4000-8000-000000000001", {"name": "Trần Thị Bình"})
    assert "Bình" not in str(sealed)
    opened = container.vault.open(
        "0b7c6d1e-0000-4000-8000-000000000001", sealed, subject="i", role="inspector", purpose="test", at=AT
    )
    assert opened == {"name": "Trần Thị Bình"}
    assert container.db.query("SELECT COUNT(*) AS n FROM pii_access_log")[0]["n"] == 1
    # without its dossier key (never made, or shredded) the ciphertext stays closed
    assert (
        container.vault.open(
            "0b7c6d1e-0000-4000-8000-000000000002",
            sealed,
            subject="i",
            role="inspector",
            purpose="test",
            at=AT,
        )
        is None
    )


def test_existing_names_the_streams_that_exist(backend_url: str) -> None:
    store = EventStore(backend_url)
    try:
        kept = [str(uuid.uuid4()) for _ in range(3)]
        for dossier in kept:
            store.append(dossier, 0, GENESIS_HASH, [_handoff(1)], AT)
        absent = [str(uuid.uuid4()) for _ in range(600)]  # more than one query's worth
        assert store.existing([*absent[:300], *kept, *absent[300:]]) == set(kept)
        assert store.existing([]) == set()
    finally:
        store.close()


def test_conflicts_on_a_connection_leave_its_next_appends_whole(backend_url: str) -> None:
    """Rounds of an append, the same append again (a conflict, rolled back) and the next one, on
    one store's pool: every append commits or meets its conflict, never a driver error; on
    PostgreSQL no statement is prepared on the server (what the driver believes prepared could
    outlive a rolled-back pipeline: docs/decisions.md, entry 137)."""
    store = EventStore(backend_url)
    try:
        for n in range(40):
            dossier = str(uuid.uuid4())
            first = store.append(dossier, 0, GENESIS_HASH, [_handoff(1)], AT)
            try:
                store.append(dossier, 0, GENESIS_HASH, [_handoff(2)], AT)
                raise AssertionError("the same version twice was accepted")
            except ConcurrencyConflict:
                pass
            store.append(dossier, 1, first[-1].hash, [_handoff(3)], AT)
            assert [r.seq for r in store.load(dossier)] == [1, 2], n
        if backend_url.startswith("postgres"):
            datastore: Any = store.recorder.datastore  # type: ignore[attr-defined]
            with datastore.get_connection() as conn:
                assert conn.prepare_threshold is None
                prepared = conn.execute("SELECT count(*) AS n FROM pg_prepared_statements").fetchone()
                assert prepared["n"] == 0
    finally:
        store.close()
