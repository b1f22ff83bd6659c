"""The view runtime's promises on each backend: one transaction per batch, redelivery skipped by
(dossier_id, seq), a failing batch leaves nothing behind, rebuild equals live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gateways.simulation.bulk import bulk_seed
from gateways.sql import Tx
from gateways.views.feed import ViewsBehind
from gateways.views.runtime import STORE_FEED, STORE_PART, Applied, ViewRunner, decode


class Counting:
    """A tiny view: events per dossier; it refuses to apply one chosen event."""

    name = "counting"
    schema = ("CREATE TABLE IF NOT EXISTS counting (dossier_id TEXT PRIMARY KEY, events INTEGER NOT NULL)",)

    def __init__(self) -> None:
        self.refuse: tuple[str, int] | None = None

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        for item in batch:
            if self.refuse == (item.dossier_id, item.seq):
                raise RuntimeError("cannot apply")
            tx.execute(
                "INSERT INTO counting (dossier_id, events) VALUES (?, 1) "
                "ON CONFLICT (dossier_id) DO UPDATE SET events = counting.events + 1",
                (item.dossier_id,),
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM counting")


def _counts(runner: ViewRunner) -> dict[str, int]:
    return {r["dossier_id"]: int(r["events"]) for r in runner.db.query("SELECT * FROM counting")}


def test_redelivery_is_skipped_and_failures_leave_nothing(make_container: Any, backend_url: str) -> None:
    container = make_container(backend_url)
    bulk_seed(container, 30)
    records = container.store.notifications(0, 10_000)
    items, bad = decode(records)
    assert not bad and len(items) > 100
    view = Counting()
    runner = ViewRunner(container.view_db, view)
    half = len(items) // 2
    first = runner.apply(items[:half], STORE_FEED, {STORE_PART: half})
    assert (first.applied, first.skipped) == (half, 0)
    # The whole history again (a redelivery after a crash): only the second half counts.
    again = runner.apply(items, STORE_FEED, {STORE_PART: len(items)})
    assert (again.applied, again.skipped) == (len(items) - half, half)
    expected: dict[str, int] = {}
    for item in items:
        expected[item.dossier_id] = expected.get(item.dossier_id, 0) + 1
    assert _counts(runner) == expected
    assert runner.position() == len(items)
    # A batch that fails in the middle changes neither rows, nor seen seqs, nor the position.
    more = bulk_seed(container, 5, seed=99)
    fresh, _ = decode(container.store.notifications(len(records), 10_000))
    assert len(fresh) == more.events
    view.refuse = (fresh[-1].dossier_id, fresh[-1].seq)
    with pytest.raises(RuntimeError):
        runner.apply(fresh, STORE_FEED, {STORE_PART: len(items) + len(fresh)})
    assert _counts(runner) == expected and runner.position() == len(items)
    view.refuse = None
    runner.apply(fresh, STORE_FEED, {STORE_PART: len(items) + len(fresh)})
    for item in fresh:
        expected[item.dossier_id] = expected.get(item.dossier_id, 0) + 1
    assert _counts(runner) == expected


def test_every_registered_view_rebuilds_to_what_live_built(make_container: Any, backend_url: str) -> None:
    container = make_container(backend_url)
    bulk_seed(container, 60)
    container.feed.catch_up()

    def snapshot() -> dict[str, list[dict[str, Any]]]:
        tables: dict[str, list[dict[str, Any]]] = {}
        for runner in container.runners:
            for statement in runner.view.schema:
                words = statement.split()
                if words[:2] == ["CREATE", "TABLE"]:
                    table = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
                    rows = container.view_db.query(f"SELECT * FROM {table}")
                    tables[table] = sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))
        seqs = container.view_db.query("SELECT * FROM projection_seqs ORDER BY view, dossier_id")
        tables["projection_seqs"] = seqs
        return tables

    live = snapshot()
    assert live["dossier_index"], "the live views were fed"
    results = container.feed.rebuild()
    assert {r.view for r in results} == {r.name for r in container.runners}
    assert snapshot() == live


def test_a_failing_view_never_fails_an_accepted_command(make_container: Any, clock: Any) -> None:
    from gateways.seed.demo import seed_demo

    clock.set("2026-11-20T10:00:00+07:00")
    container = make_container()
    view = Counting()
    view.refuse = ("*", 0)  # refuses everything until repaired

    def apply(tx: Tx, batch: Sequence[Applied]) -> None:
        if view.refuse is not None:
            raise RuntimeError("view bug")
        Counting.apply(view, tx, batch)

    view.apply = apply  # type: ignore[method-assign]
    runner = ViewRunner(container.view_db, view)
    container.feed.runners.append(runner)
    seed_demo(container.service, clock(), dossiers=5, seed=1)  # every command is accepted
    head = container.store.max_notification_id()
    assert head > 0 and runner.position() == 0
    assert container.view_position("dossier_index") == head  # the other views kept up
    with pytest.raises(ViewsBehind, match="counting"):  # the feed names the view left behind
        container.feed.catch_up()
    assert container.view_position("dossier_index") == head
    view.refuse = None
    container.feed.catch_up()
    assert runner.position() == head
    assert sum(_counts(runner).values()) == head


def test_a_position_never_moves_back(make_container: Any, backend_url: str) -> None:
    # Two projector processes each write the notification high-water mark of their own
    # partitions, and a view that is ahead may be fed records it has seen: neither moves it back.
    container = make_container(backend_url)
    bulk_seed(container, 3)
    items, _ = decode(container.store.notifications(0, 10_000))
    runner = ViewRunner(container.view_db, Counting())
    runner.apply(items, "kafka", {"events:0": 40, STORE_PART: 30})
    again = runner.apply(items[:5], "kafka", {"events:0": 12, STORE_PART: 7})
    assert (again.applied, again.skipped) == (0, 5)
    assert runner.positions("kafka") == {"events:0": 40, STORE_PART: 30}
    runner.apply([], "kafka", {"events:0": 41})
    assert runner.positions("kafka")["events:0"] == 41


class Crash(BaseException):
    """A process dying in the middle of a batch (not an error a view could recover from)."""


def test_the_in_process_feed_moves_every_view_in_one_transaction(
    make_container: Any, backend_url: str
) -> None:
    container = make_container(backend_url)
    bulk_seed(container, 10)
    container.feed.catch_up()
    before = {r.name: r.position() for r in container.runners}
    views, container.feed.runners = container.feed.runners, []  # the views fall behind
    more = bulk_seed(container, 4, seed=99)
    container.feed.runners = views
    assert more.events > 0 and {r.position() for r in views} == set(before.values())
    fresh, _ = decode(container.store.notifications(max(before.values()), 10_000))
    last = fresh[-1]
    counting = Counting()

    def apply(tx: Tx, batch: Sequence[Applied]) -> None:
        Counting.apply(counting, tx, batch)
        if any((i.dossier_id, i.seq) == (last.dossier_id, last.seq) for i in batch):
            raise Crash

    counting.apply = apply  # type: ignore[method-assign]
    runner = ViewRunner(container.view_db, counting)
    container.feed.runners.append(runner)  # the last view: every other one has applied the batch
    with pytest.raises(Crash):
        container.feed.catch_up()
    # The crash came after every other view applied the batch in the same transaction: none moved.
    assert {r.name: r.position() for r in container.runners} == before
    assert runner.position() == 0 and _counts(runner) == {}
    counting.apply = lambda tx, batch: Counting.apply(counting, tx, batch)  # type: ignore[method-assign]
    container.feed.catch_up()
    head = container.store.max_notification_id()
    assert {r.position() for r in container.feed.runners} == {head}
