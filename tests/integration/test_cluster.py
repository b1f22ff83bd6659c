"""The three-broker cluster (deploy/kafka/cluster.sh): kill -9 of a partition's leader under writes.

The relay publishes with acks=all and idempotence to topics of three replicas with
min.insync.replicas=2, and the projectors consume, while a writer appends to PostgreSQL.
The broker leading the partition the writes go to is killed with -9 mid-stream; writes go on
with two brokers, then it comes back. At the end: every stored (acknowledged) event is on the
topic exactly once, and the views built from Kafka equal a rebuild from the store (no event
lost, none counted twice).

Needs the cluster: LIENTHONG_TEST_KAFKA_CLUSTER=<bootstrap list> from `deploy/kafka/cluster.sh up`
of this checkout (the test kills and restarts its nodes with that script). `make test-cluster`
starts it and runs these tests; without the variable they are skipped (see README).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateways.bootstrap import Container, bootstrap
from gateways.kafka.app import build_stream
from gateways.kafka.topics import Topics, end_offsets
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from tests.conftest import PG_URL
from tests.integration.kafka_support import (
    SECRET,
    StreamThread,
    Writer,
    assert_exactly_once,
    caught_up,
    delete_topics,
    kafka_position,
    new_prefix,
    read_topic,
    rows,
    view_tables,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "deploy" / "kafka" / "cluster.sh"
CLUSTER = os.environ.get("LIENTHONG_TEST_KAFKA_CLUSTER", "")


def cluster_sh(*args: str) -> str:
    done = subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, f"cluster.sh {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip()


@pytest.fixture
def cluster() -> str:
    if not CLUSTER:
        pytest.fail("LIENTHONG_TEST_KAFKA_CLUSTER is not set: `make test` starts the cluster and sets it")
    return CLUSTER


async def leaders(bootstrap_servers: str, topic: str) -> dict[int, tuple[int, list[int]]]:
    """partition -> (leader node id, in-sync replicas)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return {p["partition"]: (p["leader"], sorted(p["isr"])) for p in described["partitions"]}
    finally:
        await admin.close()


@pytest.fixture
def store(
    tmp_path: Path, cluster: str, pg_database: Callable[..., str]
) -> Iterator[tuple[Settings, Container]]:
    if not PG_URL:
        pytest.fail("LIENTHONG_TEST_PG_URL is not set")
    settings = Settings(
        data_dir=tmp_path / "var",
        event_store_url=pg_database(),
        kafka_bootstrap=cluster,
        kafka_topic_prefix=new_prefix(),
        kafka_replication_factor=3,
        jwt_secret=SECRET,
    )
    container = bootstrap(settings)
    load_catalogue(container.catalogue)
    yield settings, container
    container.close()
    asyncio.run(delete_topics(cluster, Topics.with_prefix(settings.kafka_topic_prefix)))


def test_kill_9_of_a_partition_leader_under_writes_loses_nothing_and_duplicates_nothing(
    store: tuple[Settings, Container], cluster: str, tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    settings, container = store
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    writer = Writer(container)
    killed: int | None = None
    try:
        with StreamThread(build_stream(container, with_inbound=False)) as stream:
            relay = stream.side.relay
            assert relay is not None
            writer.start()
            wait_for(lambda: relay.position() >= 2000, 120, "the relay to publish 2000 events")
            described = asyncio.run(leaders(cluster, topics.events))
            assert all(len(isr) == 3 for _, isr in described.values()), described
            # The busiest partition's leader: the one most writes are going to right now.
            ends = asyncio.run(end_offsets(cluster, topics.events))
            partition = max(ends, key=lambda p: ends[p])
            killed = described[partition][0]
            at_kill = relay.position()
            cluster_sh("kill", str(killed))
            print(f"killed node {killed}, leader of partition {partition}, at relay position {at_kill}")

            def moved() -> Any:
                try:
                    now = asyncio.run(leaders(cluster, topics.events))
                except KafkaError:  # the admin client may have asked the dead node: ask again
                    return None
                return now[partition][0] not in (killed, -1) and now

            after = wait_for(moved, 120, f"a new leader for partition {partition}", every=0.5)
            print(f"new leader of partition {partition}: node {after[partition][0]}")
            # Writes go on with two brokers (min.insync.replicas=2 still met).
            wait_for(
                lambda: relay.position() >= at_kill + 2000,
                180,
                "the relay to publish 2000 more with a node down",
            )
            cluster_sh("start", str(killed))
            killed = None
            writer.halt.set()
            writer.join(60)
            assert not writer.errors, writer.errors
            head = container.store.max_notification_id()
            assert head == writer.accepted
            wait_for(lambda: relay.position() == head, 180, f"the relay to publish up to {head}")
            ends = asyncio.run(end_offsets(cluster, topics.events))
            wait_for(lambda: caught_up(container, topics, ends), 180, "the views to reach the topic's ends")
            print(f"{head} events; relay sessions {relay.stats.sessions}, skipped {relay.stats.skipped}")
    finally:
        writer.halt.set()
        if killed is not None:
            cluster_sh("start", str(killed))
    assert_exactly_once(
        asyncio.run(read_topic(cluster, topics.events)), container.store, settings.kafka_event_partitions
    )
    positions = kafka_position(container, topics)
    assert all(sum(p.values()) == head for p in positions.values()), positions
    views_url = pg_database()
    rebuilt = bootstrap(
        Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=settings.event_store_url,
            view_store_url=views_url,
            jwt_secret=SECRET,
        )
    )
    try:
        assert {r.view: r.events for r in rebuilt.feed.rebuild()} == {r.name: head for r in container.runners}
        for view, table in view_tables():
            assert rows(container.view_db, table) == rows(rebuilt.view_db, table), f"{view}: {table} differs"
        assert rows(container.view_db, "projection_seqs") == rows(rebuilt.view_db, "projection_seqs")
    finally:
        rebuilt.close()
