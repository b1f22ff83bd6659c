"""The feed is a gateway (gateways/feeds.py): the in-process adapter on the SQLite store, the
Kafka adapter on the real broker. Each test has its own stores (and topic prefix)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateways.bootstrap import Container
from gateways.cli import app
from gateways.feeds import IN_PROCESS, KAFKA, InProcessFeed, Workers
from gateways.kafka.feed import KafkaFeed
from gateways.kafka.topics import Topics
from gateways.seed.demo import load_catalogue, seed_demo
from tests.conftest import FakeClock
from tests.integration.kafka_support import SECRET, kafka_settings, wait_for

SEEDED_AT = "2026-11-20T10:00:00+07:00"


def _seed(container: Container, clock: FakeClock, dossiers: int, seed: int) -> int:
    clock.set(SEEDED_AT)
    if container.catalogue.is_empty():
        load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=dossiers, seed=seed)
    return container.store.max_notification_id()


def _lags(container: Container) -> dict[str, int]:
    lag = container.feed.lag()
    return {row.view: lag.of(row.view) for row in lag.views}


# -- in process ------------------------------------------------------------------------------------
@pytest.mark.integration
def test_the_in_process_feed_follows_each_commit(make_container: Any, clock: FakeClock) -> None:
    container: Container = make_container()
    feed = container.feed
    assert isinstance(feed, InProcessFeed) and feed.kind == IN_PROCESS and feed.broker is None
    assert container.writer.after_commit is not None
    head = _seed(container, clock, dossiers=4, seed=1)
    assert head > 0
    lag = feed.lag()
    assert lag.head == head and {r.view for r in lag.views} == {r.name for r in container.runners}
    assert _lags(container) == dict.fromkeys(_lags(container), 0)
    assert all(row.position == head and row.feed == IN_PROCESS for row in lag.views)
    # No relay, no partitions, no broker to ask.
    assert lag.relay is None and feed.relay_position() is None
    assert feed.partitions() == [] and feed.end_offsets() == {}
    assert "embedded" in feed.describe()


@pytest.mark.integration
def test_the_in_process_lag_counts_what_the_views_have_not_applied(
    make_container: Any, clock: FakeClock
) -> None:
    container: Container = make_container()
    before = _seed(container, clock, dossiers=2, seed=1)
    container.writer.after_commit = None  # the views stop following
    head = _seed(container, clock, dossiers=3, seed=2)
    assert head > before
    assert _lags(container) == {r.name: head - before for r in container.runners}
    assert container.view_position("sla") == before
    note = container.feed.refresh()
    assert note.startswith("views caught up in process") and f"{head - before:,} events" in note
    assert set(_lags(container).values()) == {0}


@pytest.mark.integration
def test_in_process_workers_catch_up_then_idle_until_stopped(make_container: Any, clock: FakeClock) -> None:
    container: Container = make_container()
    container.writer.after_commit = None
    head = _seed(container, clock, dossiers=2, seed=1)
    assert set(_lags(container).values()) == {head}
    workers = container.feed.workers(container)
    assert workers.idle and set(_lags(container).values()) == {0}

    async def stopped() -> None:
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(workers.run(stop), 10)

    asyncio.run(stopped())


@pytest.mark.integration
def test_projections_status_shows_each_view_of_the_in_process_feed(
    make_container: Any, clock: FakeClock, tmp_path: Path
) -> None:
    container: Container = make_container()
    container.writer.after_commit = None
    before = _seed(container, clock, dossiers=1, seed=1)
    container.feed.catch_up()
    head = _seed(container, clock, dossiers=1, seed=2)
    env = {
        "LIENTHONG_ENV_FILE": str(tmp_path / "none.env"),
        "LIENTHONG_DATA_DIR": str(container.settings.data_dir),
        "LIENTHONG_EVENT_STORE_URL": container.settings.resolved_event_store_url,
        "LIENTHONG_JWT_SECRET": SECRET,
        "COLUMNS": "200",
    }
    done = CliRunner().invoke(app, ["projections", "status"], env=env)
    assert done.exit_code == 0, done.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in done.output.splitlines()]
    rows = [r for r in rows if len(r) == 6 and r[0] != "view"]
    assert sorted(rows) == sorted(
        [r.name, IN_PROCESS, "notifications", str(before), str(head), str(head - before)]
        for r in container.runners
    )


# -- Kafka -----------------------------------------------------------------------------------------
@pytest.mark.kafka
@pytest.mark.integration
def test_the_kafka_feed_leaves_each_commit_to_the_relay(
    containers: Callable[..., Container],
    tmp_path: Path,
    clock: FakeClock,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    settings = kafka_settings(tmp_path / "var", f"sqlite:///{tmp_path / 'k.sqlite'}", kafka_bootstrap, prefix)
    container = containers(settings)
    feed = container.feed
    assert isinstance(feed, KafkaFeed) and feed.kind == KAFKA and feed.broker == kafka_bootstrap
    assert container.writer.after_commit is None
    head = _seed(container, clock, dossiers=3, seed=1)
    # Nothing applied in process: every view, and the relay, are behind by everything.
    assert feed.catch_up() == 0
    assert set(_lags(container).values()) == {head}
    lag = feed.lag()
    assert lag.relay is not None and lag.relay.position == 0 and lag.relay.lag == head
    assert "projectors" in feed.refresh() and set(_lags(container).values()) == {head}
    assert feed.describe() == f"reachable ({kafka_bootstrap})"
    away = KafkaFeed(feed.log, container.db, "127.0.0.1:1", Topics.with_prefix(prefix))
    assert away.describe().startswith("unreachable (127.0.0.1:1)")
    assert feed.workers(container, stream=False).idle
    # A rebuild reads the store in process with either feed.
    assert {r.view: r.events for r in feed.rebuild()} == {r.name: head for r in container.runners}
    assert set(_lags(container).values()) == {0}


class Running:
    """A feed's workers on their own event loop in a thread, until `stop()`."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        assert self.started.wait(30), "the workers' loop did not start"

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.event = asyncio.Event()
            self.started.set()
            await self.workers.run(self.event)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        assert self.loop is not None and self.event is not None
        self.loop.call_soon_threadsafe(self.event.set)
        self.thread.join(60)
        assert not self.thread.is_alive(), "the workers did not stop"
        if self.error is not None:
            raise self.error


@pytest.mark.kafka
@pytest.mark.integration
def test_the_kafka_feed_workers_publish_and_apply_and_its_lag_comes_to_zero(
    containers: Callable[..., Container],
    tmp_path: Path,
    clock: FakeClock,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    settings = kafka_settings(
        tmp_path / "var",
        f"sqlite:///{tmp_path / 'k.sqlite'}",
        kafka_bootstrap,
        prefix,
        kafka_event_partitions=3,
    )
    container = containers(settings)
    feed = container.feed
    head = _seed(container, clock, dossiers=4, seed=1)
    workers = feed.workers(container, inbound=False)
    assert not workers.idle and workers.side is not None and workers.side.relay is not None
    assert kafka_bootstrap in workers.summary
    running = Running(workers)
    try:

        def settled() -> bool:
            lag = feed.lag()
            return (
                lag.relay is not None and lag.relay.lag == 0 and all(lag.of(r.view) == 0 for r in lag.views)
            )

        wait_for(settled, 90, "the relay and every view at the head of the store")
    finally:
        running.stop()
    assert feed.relay_position() == head
    ends = feed.end_offsets()
    topic = Topics.with_prefix(prefix).events
    assert set(ends) == {(topic, p) for p in range(3)} and sum(ends.values()) == head
    rows = feed.partitions(ends)
    assert {(r.view, r.part) for r in rows} == {
        (runner.name, f"{topic}:{p}") for runner in container.runners for p in range(3)
    }
    assert all(r.lag == 0 and (r.position or 0) == r.end for r in rows)
    # Without the ends, the stored positions alone (and no lag known).
    assert all(r.lag is None and r.end is None for r in feed.partitions())
