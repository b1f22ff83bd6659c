"""The relay against the real broker and the real PostgreSQL: a broker restarted under a writer, a
relay killed mid-publish, a standby taking over from a killed leader; every stored event reaches
the topic exactly once, with no gap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from gateways.bootstrap import Container
from gateways.kafka.relay import Relay
from gateways.kafka.topics import Topics, end_offsets
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from tests.integration.kafka_support import (
    PrivateBroker,
    Worker,
    Workers,
    Writer,
    assert_exactly_once,
    kafka_settings,
    new_prefix,
    read_topic,
    relay_running,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker.make(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()


def test_broker_restart_under_a_writer_publishes_every_event_exactly_once(
    private_broker: PrivateBroker,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    tmp_path: Path,
) -> None:
    started = time.perf_counter()
    bootstrap_servers = private_broker.start(mark=tmp_path / "started")
    print(f"private broker {bootstrap_servers} up in {time.perf_counter() - started:.1f}s")
    # `make run-kafka` stops on exit only a broker its own start started: start.sh says so.
    assert private_broker.start(mark=tmp_path / "found-running") == bootstrap_servers
    assert (tmp_path / "started").exists() and not (tmp_path / "found-running").exists()
    settings = kafka_settings(tmp_path / "var", pg_database(None), bootstrap_servers, new_prefix())
    container = containers(settings)
    load_catalogue(container.catalogue)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    relay = Relay(
        container.store, container.db, bootstrap_servers, topics, partitions=settings.kafka_event_partitions
    )
    writer = Writer(container)
    with relay_running(relay):
        writer.start()
        try:
            wait_for(lambda: relay.position() >= 500, 60, "the relay to publish 500 events")
            started = time.perf_counter()
            private_broker.stop()
            stopped_at = container.store.max_notification_id()
            # The writer goes on while the broker is away; the broker stays down until 2,000 more
            # events are stored. The idempotent producer may ride out the outage by retrying in the
            # same session or fail and resume in a new one: either way every event once.
            wait_for(
                lambda: container.store.max_notification_id() >= stopped_at + 2000 or None,
                180,
                "the writer to store 2,000 events while the broker is away",
            )
            private_broker.start()
            restarted_at = container.store.max_notification_id()
            print(
                f"broker away {time.perf_counter() - started:.1f}s; "
                f"{restarted_at - stopped_at} events written meanwhile"
            )
            assert restarted_at > stopped_at, "the writer wrote nothing while the broker was away"
            wait_for(
                lambda: relay.position() >= restarted_at, 90, f"the relay to pass notification {restarted_at}"
            )
        finally:
            writer.halt.set()
            writer.join(30)
        assert not writer.errors, writer.errors
        head = container.store.max_notification_id()
        assert head == writer.accepted
        wait_for(lambda: relay.position() == head, 60, f"the relay to publish up to notification {head}")
    print(
        f"relay sessions: {relay.stats.sessions}, published {relay.stats.published}, "
        f"skipped {relay.stats.skipped}"
    )
    assert_exactly_once(
        asyncio.run(read_topic(bootstrap_servers, topics.events)),
        container.store,
        settings.kafka_event_partitions,
    )


# -- 4. relay killed mid-publish -------------------------------------------------------------------
def test_relay_killed_mid_publish_leaves_no_gap_and_no_duplicate(
    seeded_template: str,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    workers: Workers,
    tmp_path: Path,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    # Big relay batches: a kill shortly after a saved position lands while a batch is being sent,
    # so the topic holds more than the stored position says.
    settings = kafka_settings(
        tmp_path / "var", pg_database(seeded_template), kafka_bootstrap, prefix, relay_batch=5000
    )
    container = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    head = container.store.max_notification_id()
    assert head >= 50_000
    relay = Relay(container.store, container.db, kafka_bootstrap, topics)  # reads the stored position

    worker = workers.start(settings, "--no-projectors", "--no-inbound")

    def under_way() -> bool:
        assert worker.alive(), f"the relay exited:\n{worker.tail()}"
        return relay.position() >= head // 5

    wait_for(under_way, 90, "the relay to publish a fifth of the events", every=0.02)

    def sending() -> bool:
        # Kill while a batch is on its way: the topic already holds more than the saved position.
        return sum(asyncio.run(end_offsets(kafka_bootstrap, topics.events)).values()) > relay.position()

    wait_for(sending, 30, "the relay to be in the middle of a batch", every=0)
    worker.kill()
    at_kill = relay.position()
    on_topic = sum(asyncio.run(end_offsets(kafka_bootstrap, topics.events)).values())
    print(f"relay killed at position {at_kill} of {head}; {on_topic} records on the topic")
    assert 0 < at_kill < head, f"the relay was at {at_kill} of {head} when killed: not mid-way"

    started = time.perf_counter()
    worker = workers.start(settings, "--no-projectors", "--no-inbound")
    wait_for(lambda: relay.position() == head, 120, f"the relay to reach notification {head}", every=0.1)
    elapsed = time.perf_counter() - started
    print(f"relay after restart: {head - at_kill} events in {elapsed:.1f}s")
    worker.stop()
    assert_exactly_once(
        asyncio.run(read_topic(kafka_bootstrap, topics.events)),
        container.store,
        settings.kafka_event_partitions,
    )


# -- 9. two relays: the standby takes over from a killed leader -------------------------------------
def test_relay_standby_takes_over_from_a_killed_leader_with_no_gap(
    seeded_template: str,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    workers: Workers,
    tmp_path: Path,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    """Two relay processes on one event store: one publishes (it holds the PostgreSQL advisory
    lock), the other stands by; kill -9 the active one mid-batch while a writer goes on, and the
    standby publishes the rest: every stored event on the topic exactly once."""
    settings = kafka_settings(
        tmp_path / "var", pg_database(seeded_template), kafka_bootstrap, prefix, relay_batch=5000
    )
    container = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    seeded = container.store.max_notification_id()
    relay = Relay(container.store, container.db, kafka_bootstrap, topics)  # reads the stored position
    pair = [workers.start(settings, "--no-projectors", "--no-inbound", log_level="info") for _ in range(2)]

    def roles() -> tuple[Worker, Worker] | None:
        for worker in pair:
            assert worker.alive(), f"a relay exited:\n{worker.tail()}"
        active = [w for w in pair if "this process is the active relay" in w.log.read_text()]
        standby = [w for w in pair if "standing by" in w.log.read_text()]
        if len(active) == 1 and len(standby) == 1 and active != standby:
            return active[0], standby[0]
        return None

    leader, standby = wait_for(roles, 90, "one active relay and one standby")
    wait_for(lambda: relay.position() >= seeded // 5, 90, "the leader to publish a fifth", every=0.02)
    writer = Writer(container)
    writer.start()
    try:

        def sending() -> bool:
            return sum(asyncio.run(end_offsets(kafka_bootstrap, topics.events)).values()) > relay.position()

        wait_for(sending, 30, "the leader to be in the middle of a batch", every=0)
        leader.kill()
        killed_at = time.perf_counter()
        at_kill = relay.position()
        assert 0 < at_kill < seeded, f"the leader was at {at_kill} of {seeded} when killed: not mid-way"
        wait_for(
            lambda: "this process is the active relay" in standby.log.read_text(),
            90,
            "the standby to take over",
        )
        took_over = time.perf_counter() - killed_at
        wait_for(lambda: relay.position() > at_kill, 90, "the standby to save a position")
        print(
            f"standby active {took_over:.1f}s after the kill; "
            f"its first batch saved after {time.perf_counter() - killed_at:.1f}s"
        )
        wait_for(lambda: relay.position() >= seeded, 120, "the standby to publish the seeded events")
    finally:
        writer.halt.set()
        writer.join(30)
    assert not writer.errors, writer.errors
    head = container.store.max_notification_id()
    assert head > seeded, "the writer wrote nothing during the failover"
    wait_for(lambda: relay.position() == head, 120, f"the standby to reach notification {head}")
    print(f"leader killed at {at_kill} of {seeded}; standby published up to {head}")
    assert standby.alive()
    standby.stop()
    assert_exactly_once(
        asyncio.run(read_topic(kafka_bootstrap, topics.events)),
        container.store,
        settings.kafka_event_partitions,
    )


# -- 10. records the relay did not publish at the end of a partition ---------------------------------
def test_a_stray_record_at_a_partitions_end_neither_stops_the_relay_nor_hides_new_events(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """The relay resumes after the notification id of each partition's last record: one that is not
    a number, or names an event this store never published there, must not be taken for a head."""
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    container = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    partitions = settings.kafka_event_partitions
    bulk_seed(container, 5)
    first = Relay(container.store, container.db, kafka_bootstrap, topics, partitions=partitions)
    assert asyncio.run(first.drain()) == container.store.max_notification_id()

    async def stray() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for partition in range(partitions):  # an id far beyond the store's on every partition
                far = str(10**9).encode()
                await producer.send_and_wait(
                    topics.events, b"{}", key=b"x", partition=partition, headers=[("notification_id", far)]
                )
            await producer.send_and_wait(  # and, last on partition 0, one that is not a number
                topics.events, b"{}", key=b"x", partition=0, headers=[("notification_id", b"twelve")]
            )
        finally:
            await producer.stop()

    asyncio.run(stray())
    bulk_seed(container, 20, seed=77)
    head = container.store.max_notification_id()
    restarted = Relay(container.store, container.db, kafka_bootstrap, topics, partitions=partitions)
    asyncio.run(restarted.drain())
    assert restarted.position() == head
    records = [r for r in asyncio.run(read_topic(kafka_bootstrap, topics.events)) if r.value != b"{}"]
    assert_exactly_once(records, container.store, partitions)
