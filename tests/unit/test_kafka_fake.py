"""The stream side's handlers without a broker: FastStream's TestKafkaBroker delivers the records
in memory to the same subscribers `lienthong stream` runs (projector, dead-letter, inbound)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.store import SCHEMA_VERSION
from gateways.kafka import inbound
from gateways.kafka.app import StreamSide, build_stream
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from gateways.sql import Tx
from gateways.views.runtime import Applied, ViewRunner

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    # A Kafka bootstrap turns the in-process feed off: only the projector feeds the views.
    # TestKafkaBroker never connects to it.
    settings = Settings(
        data_dir=tmp_path / "var",
        kafka_bootstrap="127.0.0.1:1",
        kafka_topic_prefix="unit",
        jwt_secret=SECRET,
    )
    made = bootstrap(settings)
    yield made
    made.close()


async def _raw(message: Any) -> Any:
    return None


def capture(side: StreamSide, topic: str) -> list[Any]:
    """Every record published to `topic`, as the aiokafka record a consumer would get."""
    got: list[Any] = []

    @side.broker.subscriber(topic, decoder=_raw)
    async def keep(message: KafkaMessage) -> None:
        got.append(message.raw_message)

    return got


def seen_seqs(container: Container) -> list[dict[str, Any]]:
    return container.view_db.query("SELECT * FROM projection_seqs ORDER BY view, dossier_id")


def index_rows(container: Container) -> list[dict[str, Any]]:
    return container.view_db.query("SELECT * FROM dossier_index ORDER BY dossier_id")


def test_projector_applies_a_batch_and_skips_its_redelivery(container: Container) -> None:
    seeded = bulk_seed(container, 6)
    records = container.store.notifications(0, 1000)
    assert len(records) == seeded.events > seeded.dossiers == 6
    last_seq: dict[str, int] = {}
    for record in records:
        last_seq[record.dossier_id] = max(last_seq.get(record.dossier_id, 0), record.seq)
    side = build_stream(container, with_inbound=False, with_relay=False)
    # One consumer for every view of the process: each record is decoded once for all of them.
    [projector] = side.projectors
    assert projector.names == [r.name for r in container.runners] and projector.group == "unit.views"
    everywhere = dict.fromkeys(projector.names, len(records))
    nowhere = dict.fromkeys(projector.names, 0)

    async def deliver_twice() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish_batch(*[r.raw for r in records], topic=side.topics.events)
            assert (projector.applied, projector.skipped, projector.dead) == (everywhere, nowhere, 0)
            first = (index_rows(container), seen_seqs(container))
            assert {r["dossier_id"]: r["last_seq"] for r in first[0]} == last_seq
            for runner in container.runners:
                assert {r["dossier_id"]: r["seq"] for r in first[1] if r["view"] == runner.name} == last_seq
            # The same batch again (a redelivery after a crash before the ack): nothing counts twice.
            await broker.publish_batch(*[r.raw for r in records], topic=side.topics.events)
            assert (projector.applied, projector.skipped) == (everywhere, everywhere)
            assert (index_rows(container), seen_seqs(container)) == first

    asyncio.run(deliver_twice())


def test_poison_records_go_to_the_dead_letter_topic(container: Container) -> None:
    bulk_seed(container, 1)
    records = container.store.notifications(0, 100)
    template = orjson.loads(records[0].raw)
    poison = [
        (b"{not json", "not JSON"),
        (orjson.dumps({**template, "dossier_id": str(uuid.uuid4()), "type": "DossierTeleported"}), "unknown"),
        (
            orjson.dumps({**template, "dossier_id": str(uuid.uuid4()), "schema_version": SCHEMA_VERSION + 1}),
            "newer",
        ),
    ]
    side = build_stream(container, with_inbound=False, with_relay=False)
    dead = capture(side, side.topics.dlq)

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            for value, _ in poison:
                await broker.publish(value, topic=side.topics.events, key=b"k-1", headers={"origin": "test"})
            await broker.publish_batch(*[r.raw for r in records], topic=side.topics.events)

    asyncio.run(deliver())
    [projector] = side.projectors
    assert (projector.dead, projector.applied) == (3, dict.fromkeys(projector.names, len(records)))
    # Each poison record is dead-lettered once: one consumer (group) reads for every view.
    assert len(dead) == 3
    for (value, reason), record in zip(poison, dead, strict=True):
        h = {k: bytes(v).decode() for k, v in record.headers}
        assert h["x-consumer-group"] == "unit.views"
        assert record.value == value and record.key == b"k-1"
        assert reason in h["x-error"], h["x-error"]
        assert h["x-source-topic"] == side.topics.events
        assert h["x-source-partition"] == "0" and h["x-source-offset"] == "0"
        assert h["origin"] == "test"  # the original headers travel along
    assert [r["dossier_id"] for r in container.view_db.query("SELECT dossier_id FROM dossier_index")] == [
        records[0].dossier_id
    ]


class Refusing:
    """A view that cannot take one chosen event (a bug in one view must not stop the others)."""

    def __init__(self, refuse: tuple[str, int], name: str = "refusing") -> None:
        self.refuse = refuse
        self.name = name
        self.schema = (f"CREATE TABLE IF NOT EXISTS {name} (dossier_id TEXT NOT NULL, seq INTEGER NOT NULL)",)

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        for item in batch:
            if (item.dossier_id, item.seq) == self.refuse:
                raise RuntimeError("cannot take this one")
            tx.execute(f"INSERT INTO {self.name} VALUES (?, ?)", (item.dossier_id, item.seq))

    def clear(self, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.name}")


def test_an_event_one_view_cannot_apply_is_dead_lettered_for_it_and_the_others_apply_it(
    container: Container,
) -> None:
    bulk_seed(container, 3)
    records = container.store.notifications(0, 1000)
    bad = records[len(records) // 2]
    container.runners.append(ViewRunner(container.view_db, Refusing((bad.dossier_id, bad.seq))))
    side = build_stream(container, with_inbound=False, with_relay=False)
    dead = capture(side, side.topics.dlq)
    [projector] = side.projectors

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish_batch(*[r.raw for r in records], topic=side.topics.events)

    asyncio.run(deliver())
    assert projector.dead == 1 and len(dead) == 1 and dead[0].value == bad.raw
    assert "cannot apply to view refusing" in dict(dead[0].headers)["x-error"].decode()
    assert projector.applied == {**dict.fromkeys(projector.names, len(records)), "refusing": len(records) - 1}
    stored = container.view_db.query("SELECT dossier_id, seq FROM refusing")
    assert len(stored) == len(records) - 1 and {"dossier_id": bad.dossier_id, "seq": bad.seq} not in stored
    assert len(index_rows(container)) == 3  # the other views took every event, the refused one too


def test_an_event_two_views_cannot_apply_is_dead_lettered_once_naming_both(container: Container) -> None:
    bulk_seed(container, 3)
    records = container.store.notifications(0, 1000)
    bad = records[len(records) // 3]
    first = Refusing((bad.dossier_id, bad.seq))
    second = Refusing((bad.dossier_id, bad.seq), name="refusing_too")
    container.runners.append(ViewRunner(container.view_db, first))
    container.runners.append(ViewRunner(container.view_db, second))
    side = build_stream(container, with_inbound=False, with_relay=False)
    dead = capture(side, side.topics.dlq)
    [projector] = side.projectors

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish_batch(*[r.raw for r in records], topic=side.topics.events)

    asyncio.run(deliver())
    assert projector.dead == 1 and len(dead) == 1 and dead[0].value == bad.raw
    error = dict(dead[0].headers)["x-error"].decode()
    assert "view refusing:" in error and "view refusing_too:" in error


def _ward_officer() -> str:
    """A token of an officer of the demo's ward, as an agency system sends with its commands."""
    return issue_token(
        SECRET,
        role="officer",
        sub="officer@ward",
        agency_code="000.21.99.H29",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )


def test_inbound_receive_answers_201_and_repeats_the_result_for_the_same_key(container: Container) -> None:
    load_catalogue(container.catalogue)
    officer = _ward_officer()
    command = orjson.dumps(
        {
            "idempotency_key": "portal-42",
            "token": officer,
            "command": "receive",
            "body": {
                "procedure_code": "DD.01-2025",
                "channel": "direct",
                "applicant": {"name": "Trần Thị Bình", "id_number": "079300004321"},
            },
        }
    )
    forged = orjson.loads(command) | {"idempotency_key": "portal-43", "token": officer[:-4] + "AAAA"}
    side = build_stream(container, views=["-none-"], with_relay=False)
    results = capture(side, side.topics.results)

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish(command, topic=side.topics.commands, key=b"portal-42")
            await broker.publish(command, topic=side.topics.commands, key=b"portal-42")
            await broker.publish(orjson.dumps(forged), topic=side.topics.commands, key=b"portal-43")

    asyncio.run(deliver())
    first, again, refused = results
    body = orjson.loads(first.value)
    assert body["status"] == 201 and body["idempotency_key"] == "portal-42" and first.key == b"portal-42"
    assert (
        body["dossier"]["holder_agency_code"] == "000.21.99.H29" and body["dossier"]["status"] == "received"
    )
    assert again.value == first.value  # the repeated key: the first result, byte for byte
    events = container.store.load(body["dossier"]["id"])
    assert [e.type for e in events] == ["DossierReceived"]
    problem = orjson.loads(refused.value)
    assert problem["status"] == 401 and problem["problem"]["status"] == 401 and problem["dossier"] is None


def test_an_inbound_command_with_a_field_it_does_not_declare_gets_a_problem_and_runs_nothing(
    container: Container,
) -> None:
    """A misspelt `expected_version` would otherwise skip the concurrency check without a word."""
    load_catalogue(container.catalogue)
    officer = _ward_officer()
    body = {"procedure_code": "DD.01-2025", "channel": "direct", "applicant": {"name": "A", "id_number": "1"}}
    raws = [
        orjson.dumps(
            {
                "idempotency_key": "k1",
                "token": officer,
                "command": "receive",
                "body": body,
                "expected_verison": 3,
            }
        ),
        orjson.dumps(
            {"idempotency_key": "k2", "token": officer, "command": "receive", "body": {**body, "chanel": "x"}}
        ),
    ]
    (_, envelope), (_, inner) = inbound.execute_batch(container, raws)
    assert envelope["status"] == 422 and envelope["idempotency_key"] == "k1"
    assert [e["name"] for e in envelope["problem"]["errors"]] == ["expected_verison"]
    assert inner["status"] == 422 and "chanel" in inner["problem"]["detail"]
    assert container.store.max_notification_id() == 0  # nothing received


def test_stream_helpers_run_the_same_views_without_the_relay() -> None:
    from gateways.kafka.processes import child_args

    # The relay is a single leader: helpers never run it; they keep the parent's choice of views.
    assert child_args(None, True, True) == ["stream", "--processes", "1", "--no-relay"]
    assert child_args(["sla", "bottleneck"], True, False) == [
        "stream",
        "--processes",
        "1",
        "--no-relay",
        "--view=sla",
        "--view=bottleneck",
        "--no-inbound",
    ]


def test_processes_of_the_same_views_share_a_group_and_a_subset_gets_its_own() -> None:
    from gateways.kafka.projector import group_role

    every = ["dossier_index", "sla", "bottleneck"]
    assert group_role(["bottleneck", "dossier_index", "sla"], every) == "views"
    assert group_role(["sla"], every) == "views.sla"
    assert group_role(["sla", "bottleneck"], every) == "views.bottleneck+sla"


def test_the_inbound_consumer_waits_longer_after_each_failed_batch_and_not_after_an_answer(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that lasts (the store down, the results topic refusing the producer) read the
    batch again some fifty times a second, each logged: it now waits 0.1 s, then twice as long
    each time, up to 5 s, and starts again from 0.1 s once a batch is answered."""
    load_catalogue(container.catalogue)
    side = build_stream(container, views=["-none-"], with_relay=False)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    side.inbound_pause.sleep = sleep
    results = capture(side, side.topics.results)
    answer = inbound.execute_batch

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the event store is down")

    command = orjson.dumps(
        {
            "idempotency_key": "k-1",
            "token": _ward_officer(),
            "command": "receive",
            "body": {
                "procedure_code": "DD.01-2025",
                "channel": "direct",
                "applicant": {"name": "A", "id_number": "1"},
            },
        }
    )

    async def deliver(times: int) -> None:
        async with TestKafkaBroker(side.broker) as broker:
            for _ in range(times):
                with pytest.raises(ConnectionError):
                    await broker.publish(command, topic=side.topics.commands)

    monkeypatch.setattr(inbound, "execute_batch", failing)
    asyncio.run(deliver(8))
    assert waited == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert results == []

    monkeypatch.setattr(inbound, "execute_batch", answer)

    async def answered() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish(command, topic=side.topics.commands)

    asyncio.run(answered())
    assert len(results) == 1 and orjson.loads(results[0].value)["status"] == 201
    monkeypatch.setattr(inbound, "execute_batch", failing)
    asyncio.run(deliver(1))
    assert waited[-1] == 0.1  # answered in between: from the start again
