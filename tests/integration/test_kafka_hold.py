"""The projector's held batches against the real broker: several fetches applied in one
transaction, and a rebalance while one process holds records (applied before its partitions go
to the other process). The views must equal a rebuild from the event store, and no record may
reach a view twice. Stores on SQLite; every wait has a deadline and says what it waited for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from gateways.bootstrap import Container, bootstrap
from gateways.kafka.app import StreamSide, build_stream
from gateways.kafka.projector import ViewProjector
from gateways.kafka.relay import Relay
from gateways.kafka.topics import Topics, end_offsets, group_assignment
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from tests.integration.kafka_support import (
    SECRET,
    StreamThread,
    caught_up,
    kafka_position,
    kafka_settings,
    published,
    rows,
    view_tables,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

FETCH = 50  # max_records of one fetch: the history spans many fetches


def stream_of(container: Container) -> tuple[StreamSide, ViewProjector]:
    side = build_stream(container, with_inbound=False, with_relay=False)
    [projector] = side.projectors
    return side, projector


def assert_equals_a_rebuild(live: Container, tmp_path: Path, events: int) -> None:
    other = bootstrap(
        Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=live.settings.event_store_url,
            view_store_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite'}",
            jwt_secret=SECRET,
        )
    )
    try:
        assert {r.view: r.events for r in other.feed.rebuild()} == {r.name: events for r in live.runners}
        assert rows(live.view_db, "dossier_index")
        for view, table in view_tables():
            assert rows(live.view_db, table) == rows(other.view_db, table), f"view {view}: {table} differs"
            seqs = ("WHERE view = ?", (view,))
            assert rows(live.view_db, "projection_seqs", *seqs) == rows(
                other.view_db, "projection_seqs", *seqs
            )
    finally:
        other.close()


def settings_for(tmp_path: Path, kafka_bootstrap: str, prefix: str) -> Settings:
    return kafka_settings(
        tmp_path / "var",
        f"sqlite:///{tmp_path / 'events.sqlite'}",
        kafka_bootstrap,
        prefix,
        projector_batch=FETCH,
    )


def ends_of(kafka_bootstrap: str, topics: Topics) -> dict[int, int]:
    return asyncio.run(end_offsets(kafka_bootstrap, topics.events))


def test_fetches_held_together_are_applied_in_fewer_transactions_and_equal_a_rebuild(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, prefix)
    bulk_seed(containers(settings), 300)
    live, topics, head = published(containers, settings, kafka_bootstrap)
    ends = ends_of(kafka_bootstrap, topics)
    side, projector = stream_of(live)
    projector.hold = 8 * FETCH
    with StreamThread(side):
        wait_for(lambda: caught_up(live, topics, ends), 120, f"every view to reach the ends {ends}")
    print(f"{head} events: {projector.batches} fetches, {projector.flushes} transactions")
    assert projector.batches >= head // FETCH
    assert projector.flushes < projector.batches  # fetches were held together
    assert projector.applied == dict.fromkeys(projector.names, head)
    assert projector.skipped == dict.fromkeys(projector.names, 0)
    assert_equals_a_rebuild(live, tmp_path, head)


def test_a_rebalance_applies_what_a_process_holds_before_the_other_gets_its_partitions(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, prefix)
    seeder = containers(settings)
    bulk_seed(seeder, 300)
    live, topics, head = published(containers, settings, kafka_bootstrap)
    ends = ends_of(kafka_bootstrap, topics)
    first_side, first = stream_of(live)
    # Nothing is applied but on a revoke: no batch counts as short, `hold` and `wait` are never reached.
    first.batch, first.hold, first.wait = 0, 10**9, 3600.0
    every = set(range(settings.kafka_event_partitions))
    group = topics.group("views")

    def members() -> list[set[int]] | None:
        state, found = asyncio.run(group_assignment(kafka_bootstrap, group, topics.events))
        return found if state == "Stable" else None

    with StreamThread(first_side):
        wait_for(lambda: first.holding >= head, 120, "the first process to hold the whole topic")
        assert first.flushes == 0 and not any(kafka_position(live, topics).values())
        second_side, second = stream_of(containers(settings))
        with StreamThread(second_side):
            split = wait_for(
                lambda: (m := members()) is not None and len(m) == 2 and all(m) and m,
                120,
                "the group to be stable with two members sharing the partitions",
            )
            assert split[0] | split[1] == every and not split[0] & split[1]
            # The revoke applied every held record before the second process got any partition.
            assert first.released == head and first.flushes == 1
            wait_for(lambda: caught_up(live, topics, ends), 60, f"every view to reach the ends {ends}")
            # From now on every fetch of the first process is applied at once: its flush timer
            # still sleeps the hour set above, so a last fetch that happens to be full would
            # otherwise wait for it.
            first.batch, first.hold = FETCH, 1
            bulk_seed(seeder, 200, seed=1007)
            relay = Relay(
                live.store, live.db, kafka_bootstrap, topics, partitions=settings.kafka_event_partitions
            )
            asyncio.run(relay.drain())
            total = live.store.max_notification_id()
            more = ends_of(kafka_bootstrap, topics)
            assert sum(more.values()) == total > head
            wait_for(lambda: caught_up(live, topics, more), 120, f"every view to reach the new ends {more}")
    print(f"first applied {first.applied}, second {second.applied}, of {total}")
    for name in first.names:
        assert first.applied[name] + second.applied[name] == total
        assert first.skipped[name] == second.skipped[name] == 0  # no record reached a view twice
    assert all(second.applied.values()), "the second process should have applied its partitions' share"
    assert_equals_a_rebuild(live, tmp_path, total)
