"""Views that hold their folded state between batches (gateways/views/runtime.py, `HeldView`)
write the same rows as a rebuild, even when another writer moves the view meanwhile or a
batch fails after the views have folded it."""

from __future__ import annotations

from typing import Any

import pytest

from gateways.simulation.bulk import bulk_seed
from gateways.views.registry import build_views
from gateways.views.runtime import (
    STORE_FEED,
    STORE_PART,
    Applied,
    HeldView,
    ViewRunner,
    apply_together,
    decode,
)


def _snapshot(container: Any) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for runner in container.runners:
        for statement in runner.view.schema:
            words = statement.split()
            if words[:2] == ["CREATE", "TABLE"]:
                table = words[5]
                rows = container.view_db.query(f"SELECT * FROM {table}")
                tables[table] = sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))
    tables["projection_seqs"] = container.view_db.query(
        "SELECT * FROM projection_seqs ORDER BY view, dossier_id"
    )
    return tables


def _rebuilt(container: Any) -> tuple[dict[str, list[dict[str, Any]]], list[Applied]]:
    """The views as a rebuild leaves them, then reset; and every stored event, decoded."""
    bulk_seed(container, 60)
    container.feed.rebuild()
    expected = _snapshot(container)
    assert expected["bottleneck_counts"] and expected["sla_dossiers"]
    with container.view_db.transaction() as tx:
        for runner in container.runners:
            runner.reset(tx)
    items, bad = decode(container.store.notifications(0, 100_000))
    assert not bad
    return expected, items


def _feed(runners: list[ViewRunner], items: list[Applied]) -> None:
    position = items[-1].record.notification_id or 0
    apply_together(runners, {r.name: items for r in runners}, STORE_FEED, {STORE_PART: position})


def _thirds(items: list[Applied]) -> list[list[Applied]]:
    """Each dossier's events cut in three, in order: a dossier of three events or more is in all."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.dossier_id] = counts.get(item.dossier_id, 0) + 1
    thirds: list[list[Applied]] = [[], [], []]
    seen: dict[str, int] = {}
    for item in items:
        k = seen[item.dossier_id] = seen.get(item.dossier_id, -1) + 1
        thirds[min(2, k * 3 // counts[item.dossier_id])].append(item)
    return thirds


def test_held_state_is_dropped_when_another_writer_moved_the_view(
    make_container: Any, backend_url: str
) -> None:
    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    first = [ViewRunner(container.view_db, v) for v in build_views(container.calendar)]
    second = [ViewRunner(container.view_db, v) for v in build_views(container.calendar)]
    assert all(isinstance(r.view, HeldView) for r in first)
    one, two, three = _thirds(items)
    shared = {i.dossier_id for i in one} & {i.dossier_id for i in two} & {i.dossier_id for i in three}
    assert shared, "some dossiers have events in every third"
    _feed(first, one)
    _feed(second, two)  # another process: what `first` holds of these dossiers is now stale
    _feed(first, three)
    assert _snapshot(container) == expected


def test_a_batch_that_fails_leaves_nothing_held(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    runners = container.runners
    one, two, three = _thirds(items)
    _feed(runners, one)
    sla = next(r for r in runners if r.name == "sla")

    def broken(tx: Any) -> None:
        raise RuntimeError("the store refused the batch")

    monkeypatch.setattr(sla.view, "flush", broken)
    with pytest.raises(RuntimeError, match="refused"):
        _feed(runners, two)  # every view folded it; the transaction rolled back
    monkeypatch.undo()
    _feed(runners, two)
    _feed(runners, three)
    assert _snapshot(container) == expected


def test_small_flushes_write_chunks_and_hold_limits_leave_the_rows_of_one_pass(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild that flushes every few events, writes block rows a few at a time and may hold
    only a few of them (so rows are let go mid-flush and read back) writes the same rows as one
    that flushes once; so do live batches of a few events."""
    from gateways.views import runtime
    from gateways.views.bottleneck import store as bottleneck_store

    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    monkeypatch.setattr(runtime, "FLUSH_EVENTS", 37)
    monkeypatch.setattr(bottleneck_store, "WRITE_CHUNK", 7)
    monkeypatch.setattr(bottleneck_store, "ROWS_LIMIT", 60)
    container.feed.rebuild()
    assert _snapshot(container) == expected
    with container.view_db.transaction() as tx:
        for runner in container.runners:
            runner.reset(tx)
    for start in range(0, len(items), 53):
        _feed(container.runners, items[start : start + 53])
    assert _snapshot(container) == expected


def test_a_rebuild_shares_one_seen_seq_map_that_lets_go_and_reads_back(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The views of a rebuild share one seen-seq map (`PassSeen`): held for a few dossiers only,
    it lets go of open ones and reads their seqs back, and every view ends with the seqs and rows
    of live batches that each kept their own."""
    from gateways.views import runtime

    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    for start in range(0, len(items), 53):  # live batches: each runner keeps its own seqs
        _feed(container.runners, items[start : start + 53])
    assert _snapshot(container) == expected
    monkeypatch.setattr(runtime, "FLUSH_EVENTS", 29)
    monkeypatch.setattr(runtime, "SEEN_LIMIT", 4)
    monkeypatch.setattr(container.feed.log, "batch", 23)
    read_back: list[int] = []
    fresh = runtime.PassSeen.fresh

    def counted(self: runtime.PassSeen, tx: Any, batch: Any) -> Any:
        read_back.append(self.gone.count)
        return fresh(self, tx, batch)

    monkeypatch.setattr(runtime.PassSeen, "fresh", counted)
    container.feed.rebuild()
    assert read_back and max(read_back) > 0, "the shared map let dossiers go during the pass"
    assert _snapshot(container) == expected


def test_after_a_rebuild_every_view_knows_the_events_it_has_seen(
    make_container: Any, backend_url: str
) -> None:
    """A rebuild writes the seen seqs once and copies them to its other views: the same events
    fed again afterwards are skipped by every view, and nothing changes."""
    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    container.feed.rebuild()
    assert _snapshot(container) == expected
    position = items[-1].record.notification_id or 0
    results = apply_together(
        container.runners, {r.name: items for r in container.runners}, STORE_FEED, {STORE_PART: position}
    )
    assert {name: (r.applied, r.skipped) for name, r in results.items()} == {
        r.name: (0, len(items)) for r in container.runners
    }
    assert _snapshot(container) == expected


def _indexes(container: Any) -> list[tuple[str, str]]:
    if container.view_db.is_postgres:
        rows = container.view_db.query(
            "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE schemaname = 'public'"
        )
    else:
        rows = container.view_db.query("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
    return sorted((str(r["name"]), str(r["sql"])) for r in rows)


def test_a_rebuild_leaves_every_index_of_the_views(make_container: Any, backend_url: str) -> None:
    """On SQLite a rebuild drops the views' secondary indexes for its pass and builds them at
    its end: the same indexes are there after it, and the rows are those of live batches."""
    container = make_container(backend_url)
    expected, items = _rebuilt(container)
    indexes = _indexes(container)
    assert any(name == "sla_dossiers_open" for name, _ in indexes)
    _feed(container.runners, items)
    assert _snapshot(container) == expected
    container.feed.rebuild()
    assert _indexes(container) == indexes
    assert _snapshot(container) == expected
