"""`projections rebuild --workers 2` ends with the same rows as a single-process rebuild,
on SQLite and on PostgreSQL (shards of dossiers folded in two processes, then merged)."""

from __future__ import annotations

import re
from typing import Any

from gateways.bootstrap import Container
from gateways.simulation.bulk import bulk_seed
from gateways.sql import Database
from gateways.views.parallel import rebuild_in_parallel, shard_of


def tables(container: Container) -> list[str]:
    out = ["projection_seqs"]
    for runner in container.runners:
        for statement in runner.view.schema:
            found = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+)", statement)
            if found:
                out.append(found.group(1))
    return out


def snapshot(db: Database, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted((tuple(sorted(r.items())) for r in db.query(f"SELECT * FROM {name}")), key=repr)
        for name in names
    }


def test_rebuild_with_two_workers_equals_a_single_process_rebuild(
    make_container: Any, backend_url: str
) -> None:
    container: Container = make_container(backend_url)
    seeded = bulk_seed(container, 300)
    assert seeded.events > 1500
    ids = {r.dossier_id for r in container.store.notifications(0, 100_000)}
    assert {shard_of(d, 2) for d in ids} == {0, 1}, "both shards hold dossiers"
    names = tables(container)

    single = container.feed.rebuild()
    expected = snapshot(container.view_db, names)
    assert all(expected[name] for name in ("dossier_index", "sla_totals", "bottleneck_counts"))

    parallel = rebuild_in_parallel(container.settings, container.store, container.feed.log, None, workers=2)
    assert [(r.view, r.events) for r in parallel] == [(r.view, r.events) for r in single]
    got = snapshot(container.view_db, names)
    for name in names:
        assert got[name] == expected[name], f"table {name} differs after the parallel rebuild"
    head = container.store.max_notification_id()
    assert {r.name: r.position() for r in container.runners} == {r.name: head for r in container.runners}

    # A rebuild of one view leaves the others as they are.
    again = rebuild_in_parallel(container.settings, container.store, container.feed.log, ["sla"], workers=2)
    assert [r.view for r in again] == ["sla"] and snapshot(container.view_db, names) == expected
