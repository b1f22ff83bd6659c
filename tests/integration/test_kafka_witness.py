"""Kafka as the witness of events not yet inside a signed checkpoint, and the bound on how
long an event waits for a checkpoint.

A rewrite (with the hash chain recomputed) or a cut of a stream's last event after the last
checkpoint passes the chains and the checkpoints; `lienthong audit verify --against-kafka`
names it, because the relay had already published the original to a real broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from gateways.audit.witness import verify_against_kafka
from gateways.bootstrap import Container, bootstrap
from gateways.cli import app
from gateways.eventstore.store import chain_hash
from gateways.kafka.relay import Relay
from gateways.kafka.topics import Topics
from gateways.seed.demo import NAMES, load_catalogue, seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.integration.kafka_support import kafka_settings
from tests.integration.test_checkpoints import RawRows

SEEDED_AT = "2026-11-20T10:00:00+07:00"


@dataclass(frozen=True)
class Stored:
    dossier_id: str
    seq: int
    notification_id: int
    envelope: dict[str, Any]


def _last_events(container: Container, after_notification: int) -> list[Stored]:
    """The last event of each stream that holds two events or more and ends after the checkpoint."""
    last: dict[str, Any] = {}
    for note in container.store.recorder.select_notifications(0, 100_000):
        last[str(note.originator_id)] = note
    return [
        Stored(dossier_id, int(note.originator_version), int(note.id), orjson.loads(bytes(note.state)))
        for dossier_id, note in sorted(last.items())
        if note.originator_version >= 2 and note.id > after_notification
    ]


def _published_values(bootstrap_servers: str, topic: str) -> list[bytes]:
    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            values: list[bytes] = []
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    got = await consumer.getmany(tp, timeout_ms=1000)
                    values.extend(m.value or b"" for m in got.get(tp, []))
            return values
        finally:
            await consumer.stop()

    return asyncio.run(read())


@pytest.mark.kafka
@pytest.mark.integration
def test_a_rewrite_or_a_cut_after_the_last_checkpoint_is_named_against_kafka(
    tmp_path: Path,
    clock: FakeClock,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'witness.sqlite'}"
    settings = kafka_settings(tmp_path / "var", url, kafka_bootstrap, prefix, kafka_event_partitions=3)
    container = bootstrap(settings, clock=clock)
    topic = Topics.with_prefix(prefix).events
    try:
        clock.set(SEEDED_AT)
        load_catalogue(container.catalogue)
        seed_demo(container.service, clock(), dossiers=6, seed=3)
        checkpoint = container.checkpoints.checkpoint(clock())
        assert checkpoint is not None
        # More work after the checkpoint: covered by the chains only, until the next one.
        seed_demo(container.service, clock(), dossiers=6, seed=4)
        relay = Relay(
            container.store, container.db, kafka_bootstrap, Topics.with_prefix(prefix), partitions=3
        )
        assert asyncio.run(relay.drain()) == container.store.max_notification_id()
        clean = asyncio.run(verify_against_kafka(container.store, kafka_bootstrap, topic))
        assert clean.ok and clean.published_events == container.store.max_notification_id()
        # Only ciphertext ever left the vault.
        values = _published_values(kafka_bootstrap, topic)
        assert len(values) == clean.published_events
        assert not [n for n in NAMES if any(n.encode() in v for v in values)]

        uncovered = _last_events(container, checkpoint.last_notification_id)
        assert len(uncovered) >= 2
        rewritten, cut = uncovered[0], uncovered[1]
        raw = RawRows(url)
        try:
            envelope = dict(rewritten.envelope)
            envelope["occurred_at"] = "2026-01-01T00:00:00+07:00"
            envelope["hash"] = chain_hash(envelope["prev_hash"], envelope)  # the forger knows the recipe
            raw.set_state(rewritten.notification_id, orjson.dumps(envelope))
            raw.delete(cut.notification_id)
        finally:
            raw.close()
        # Chains and checkpoints alone are fooled: both events were after the last checkpoint.
        assert container.checkpoints.verify().ok

        witnessed = asyncio.run(verify_against_kafka(container.store, kafka_bootstrap, topic))
        faults = {(f["dossier_id"], f["seq"]): f["reason"] for f in witnessed.faults}
        assert faults.keys() == {(rewritten.dossier_id, rewritten.seq), (cut.dossier_id, cut.seq)}
        assert faults[(rewritten.dossier_id, rewritten.seq)].startswith("rewritten")
        assert faults[(cut.dossier_id, cut.seq)].startswith("deleted")
    finally:
        container.close()

    # The command line says the same, and fails.
    env = {
        "LIENTHONG_ENV_FILE": str(tmp_path / "none.env"),
        "LIENTHONG_DATA_DIR": str(tmp_path / "var"),
        "LIENTHONG_EVENT_STORE_URL": url,
        "LIENTHONG_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LIENTHONG_KAFKA_TOPIC_PREFIX": prefix,
        "COLUMNS": "400",
    }
    plain = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert plain.exit_code == 0, plain.output
    against = CliRunner().invoke(app, ["audit", "verify", "--against-kafka"], env=env)
    assert against.exit_code == 1, against.output
    assert rewritten.dossier_id in against.output and cut.dossier_id in against.output


@pytest.mark.integration
def test_a_checkpoint_is_due_at_most_the_maximum_delay_after_an_event(
    tmp_path: Path, clock: FakeClock, make_container: Any
) -> None:
    settings = Settings(
        data_dir=tmp_path / "delay",
        jwt_secret="test-secret-of-at-least-thirty-two-bytes",
        checkpoint_every_events=1000,
        checkpoint_every_seconds=300,
        checkpoint_max_delay_seconds=10,
    )
    container = bootstrap(settings, clock=clock)
    try:
        clock.set(SEEDED_AT)
        load_catalogue(container.catalogue)
        seed_demo(container.service, clock(), dossiers=2, seed=3)
        assert container.checkpoints.maybe_checkpoint(clock()) is not None  # the first one at once
        assert container.checkpoints.maybe_checkpoint(clock()) is None  # nothing new
        seed_demo(container.service, clock(), dossiers=1, seed=5)  # a few events, far below 1000
        clock.at += timedelta(seconds=9)
        assert container.checkpoints.maybe_checkpoint(clock()) is None
        clock.at += timedelta(seconds=1)
        made = container.checkpoints.maybe_checkpoint(clock())
        assert made is not None and made.last_notification_id == container.store.max_notification_id()
    finally:
        container.close()
