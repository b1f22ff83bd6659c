"""The Kafka backbone against the real broker (deploy/kafka) and the real PostgreSQL (deploy/postgres).

Every test has its own topic prefix and its own stores, so tests never see each other's records.
The crash tests run on PostgreSQL (production); the others on SQLite. Every wait has a deadline
and says what it was waiting for.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.store import SCHEMA_VERSION
from gateways.http.app import create_app
from gateways.kafka import inbound
from gateways.kafka.app import build_stream
from gateways.kafka.contracts import EventEnvelope
from gateways.kafka.observe import StreamCollector
from gateways.kafka.relay import Relay, headers_for
from gateways.kafka.topics import Topics, end_offsets, ensure_topics, group_assignment, partition_for
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from tests.conftest import FakeClock
from tests.integration.kafka_support import (
    APPLICANT,
    CRASH_DOSSIERS,
    DEPT,
    ENVELOPE_FIELDS,
    PROCEDURE,
    SECRET,
    WARD,
    StreamThread,
    Workers,
    assigned,
    caught_up,
    cli,
    header,
    inbound_setup,
    kafka_position,
    kafka_settings,
    published,
    read_topic,
    rows,
    status_rows,
    token,
    view_tables,
    wait_for,
)
from tests.serving import serve

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


# -- 1. HTTP command -> topic -> view --------------------------------------------------------------
@pytest.fixture
def served(tmp_path: Path, kafka_bootstrap: str, prefix: str) -> Iterator[Any]:
    clock = FakeClock(datetime.fromisoformat("2026-08-28T14:00:00+07:00"))
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    container = bootstrap(settings, clock=clock)
    load_catalogue(container.catalogue)
    try:
        with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=20) as http:
            yield container, http
    finally:
        container.close()


def test_http_command_reaches_the_topic_and_the_views(served: Any, kafka_bootstrap: str) -> None:
    container, http = served
    topics = Topics.with_prefix(container.settings.kafka_topic_prefix)
    ward = {"Authorization": f"Bearer {token('officer', WARD)}"}
    dept = {"Authorization": f"Bearer {token('officer', DEPT)}"}
    with StreamThread(build_stream(container)):
        r = http.post(
            "/api/v1/dossiers",
            json={"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT},
            headers=ward,
        )
        assert r.status_code == 201, r.text
        dossier_id, receipt = r.json()["id"], r.json()["receipt_code"]
        [first] = container.store.load(dossier_id)
        [noted] = [e for e in container.store.notifications(0, 100) if e.dossier_id == dossier_id]

        def on_topic() -> list[ConsumerRecord[Any, Any]]:
            records = asyncio.run(read_topic(kafka_bootstrap, topics.events))
            return [rec for rec in records if rec.key == dossier_id.encode()]

        [record] = wait_for(on_topic, 30, f"dossier {dossier_id} on {topics.events}", every=0.3)
        assert record.value == first.raw  # the stored bytes, never re-encoded
        assert record.partition == partition_for(dossier_id, container.settings.kafka_event_partitions)
        assert header(record, "notification_id") == str(noted.notification_id)
        assert header(record, "content-type") == "application/json"
        envelope = orjson.loads(record.value)
        assert set(envelope) >= ENVELOPE_FIELDS and envelope["type"] == "DossierReceived"
        assert EventEnvelope.model_validate(envelope).seq == 1

        def listed() -> dict[str, Any] | None:
            got = http.get("/api/v1/dossiers", params={"receipt_code": receipt}, headers=ward).json()
            return got if got["items"] else None

        page = wait_for(listed, 30, "the dossier index to list the new dossier")
        assert [(i["id"], i["status"], i["holder_agency_code"]) for i in page["items"]] == [
            (dossier_id, "received", WARD)
        ]
        assert page["view_position"] >= (noted.notification_id or 0)

        r = http.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs",
            json={"to_agency_code": DEPT, "note": "chuyển Sở"},
            headers=ward,
        )
        assert r.status_code == 200, r.text

        def incoming() -> list[dict[str, Any]]:
            items = http.get(f"/api/v1/agencies/{DEPT}/inbox", headers=dept).json()["items"]
            return [i for i in items if i["id"] == dossier_id and i["incoming"]]

        [item] = wait_for(incoming, 30, f"the handoff to show in the inbox of {DEPT}")
        assert item["pending_handoff_to"] == DEPT and item["version"] == 2


def test_projector_killed_mid_stream_resumes_and_equals_a_rebuild(
    seeded_template: str,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    workers: Workers,
    tmp_path: Path,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    settings = kafka_settings(tmp_path / "var", pg_database(seeded_template), kafka_bootstrap, prefix)
    live, topics, head = published(containers, settings, kafka_bootstrap)
    assert head >= 50_000
    ends = asyncio.run(end_offsets(kafka_bootstrap, topics.events))
    assert sum(ends.values()) == head

    projector = workers.start(settings, "--no-relay", "--no-inbound")

    def under_way() -> bool:
        assert projector.alive(), f"the projector exited:\n{projector.tail()}"
        done = [sum(p.values()) for p in kafka_position(live, topics).values()]
        return len(done) == len(live.runners) and min(done) >= head // 5

    wait_for(under_way, 90, "every view to project a fifth of the topic", every=0.02)
    time.sleep(0.05)  # into the next batch
    projector.kill()
    at_kill = {view: sum(p.values()) for view, p in kafka_position(live, topics).items()}
    print(f"projector killed at {at_kill} of {head}")
    for view, position in at_kill.items():
        assert 0 < position < head, f"view {view} was at {position} of {head} when killed: not mid-way"

    started = time.perf_counter()
    projector = workers.start(settings, "--no-relay", "--no-inbound")
    wait_for(
        lambda: min(sum(p.values()) for p in kafka_position(live, topics).values()) > min(at_kill.values()),
        120,
        "the restarted projector to move on",
        every=0.05,
    )
    resumed = time.perf_counter()
    wait_for(
        lambda: caught_up(live, topics, ends),
        120,
        f"every view's positions to reach the partitions' ends {ends}",
        every=0.05,
    )
    done = time.perf_counter()
    rest = head - min(at_kill.values())
    print(
        f"projector restarted: first batch after {resumed - started:.1f}s (process start and group "
        f"rebalance), then {rest} events in {done - resumed:.1f}s"
    )
    projector.stop()

    rebuilt = containers(
        Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=settings.event_store_url,
            view_store_url=pg_database(None),
            jwt_secret=SECRET,
        )
    )
    assert rebuilt.view_db is not rebuilt.db
    assert {r.view: r.events for r in rebuilt.feed.rebuild()} == {r.name: head for r in live.runners}
    dossiers = len({r["dossier_id"] for r in live.view_db.query("SELECT dossier_id FROM projection_seqs")})
    assert dossiers >= CRASH_DOSSIERS * 0.9
    for view, table in view_tables():
        assert rows(live.view_db, table) == rows(rebuilt.view_db, table), (
            f"view {view}: table {table} differs"
        )
        seqs = ("WHERE view = ?", (view,))
        assert rows(live.view_db, "projection_seqs", *seqs) == rows(rebuilt.view_db, "projection_seqs", *seqs)
        assert len(rows(live.view_db, "projection_seqs", *seqs)) == dossiers


def test_two_projector_processes_share_the_partitions_and_the_survivor_of_a_kill_takes_them_all(
    seeded_template: str,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    workers: Workers,
    tmp_path: Path,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    settings = kafka_settings(tmp_path / "var", pg_database(seeded_template), kafka_bootstrap, prefix)
    live, topics, head = published(containers, settings, kafka_bootstrap)
    ends = asyncio.run(end_offsets(kafka_bootstrap, topics.events))
    every = set(range(settings.kafka_event_partitions))

    first = workers.start(settings, "--no-relay", "--no-inbound", log_level="info")
    wait_for(lambda: assigned(first, topics.events), 60, "the first projector to get partitions")
    second = workers.start(settings, "--no-relay", "--no-inbound", log_level="info")

    group = topics.group("views")

    def shared() -> tuple[set[int], set[int]] | None:
        assert first.alive() and second.alive(), f"a projector exited:\n{first.tail()}\n{second.tail()}"
        state, members = asyncio.run(group_assignment(kafka_bootstrap, group, topics.events))
        if state == "Stable" and len(members) == 2 and all(members) and members[0] | members[1] == every:
            return members[0], members[1]
        return None

    split = wait_for(
        shared, 120, "the broker to show the group stable with the partitions split between two members"
    )
    assert not split[0] & split[1], f"a partition is assigned twice: {split}"
    assert 0 < min(sum(p.values()) for p in kafka_position(live, topics).values()) < head, (
        "the views should be part way through the topic when the group has split it"
    )
    second.kill()  # kill -9 under load: its batch in flight is never committed
    at_kill = min(sum(p.values()) for p in kafka_position(live, topics).values())
    print(f"second projector killed at {at_kill} of {head}; it held partitions {sorted(split[1])}")

    def survivor_holds_all() -> bool | None:
        state, members = asyncio.run(group_assignment(kafka_bootstrap, group, topics.events))
        return (state == "Stable" and members == [every]) or None

    wait_for(
        survivor_holds_all,
        120,
        "the broker to show the survivor alone in the group with every partition "
        "(after the dead member's session times out)",
        every=0.5,
    )
    wait_for(
        lambda: caught_up(live, topics, ends),
        180,
        f"every view's positions to reach the partitions' ends {ends}",
        every=0.1,
    )
    first.stop()

    rebuilt = containers(
        Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=settings.event_store_url,
            view_store_url=pg_database(None),
            jwt_secret=SECRET,
        )
    )
    assert {r.view: r.events for r in rebuilt.feed.rebuild()} == {r.name: head for r in live.runners}
    for view, table in view_tables():
        assert rows(live.view_db, table) == rows(rebuilt.view_db, table), (
            f"view {view}: table {table} differs"
        )
        seqs = ("WHERE view = ?", (view,))
        assert rows(live.view_db, "projection_seqs", *seqs) == rows(rebuilt.view_db, "projection_seqs", *seqs)


# -- 5. poison records go to the dead-letter topic -------------------------------------------------
def test_poison_records_are_dead_lettered_and_the_projector_goes_on(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    container = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    assert bulk_seed(container, 1).dossiers == 1
    real = container.store.notifications(0, 100)
    dossier_id = real[0].dossier_id
    partition = partition_for(dossier_id, settings.kafka_event_partitions)
    template = orjson.loads(real[0].raw)
    unknown = {**template, "dossier_id": str(uuid.uuid4()), "type": "DossierTeleported"}
    future = {**template, "dossier_id": str(uuid.uuid4()), "schema_version": SCHEMA_VERSION + 1}
    poison = [
        (b"\x00\xffnot an envelope{", "not JSON"),
        (orjson.dumps(unknown), "DossierTeleported"),
        (orjson.dumps(future), "schema version"),
    ]

    async def publish() -> list[int]:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            offsets = []
            for value, _ in poison:  # on the real dossier's partition, before its events
                sent = await producer.send_and_wait(
                    topics.events,
                    value,
                    key=dossier_id.encode(),
                    partition=partition,
                    headers=[("content-type", b"application/json")],
                )
                offsets.append(sent.offset)
            for record in real:
                await producer.send_and_wait(
                    topics.events,
                    record.raw,
                    key=dossier_id.encode(),
                    partition=partition,
                    headers=headers_for(record),
                )
            return offsets
        finally:
            await producer.stop()

    offsets = asyncio.run(publish())
    with StreamThread(build_stream(container, with_inbound=False, with_relay=False)):
        wait_for(
            lambda: all(
                r.db.query(
                    "SELECT seq FROM projection_seqs WHERE view = ? AND dossier_id = ?", (r.name, dossier_id)
                )
                == [{"seq": len(real)}]
                for r in container.runners
            ),
            60,
            f"every view to apply the {len(real)} valid events after the poison",
        )
    expected = len(poison)  # one consumer (group) reads for every view: each poison record once

    def dead_letters() -> list[ConsumerRecord[Any, Any]] | None:
        got = asyncio.run(read_topic(kafka_bootstrap, topics.dlq))
        return got if len(got) >= expected else None

    dead = wait_for(dead_letters, 30, f"{expected} records on {topics.dlq}", every=0.3)
    assert len(dead) == expected
    dead.sort(key=lambda r: int(header(r, "x-source-offset") or -1))
    for record, (value, reason), offset in zip(dead, poison, offsets, strict=True):
        assert header(record, "x-consumer-group") == topics.group("views")
        assert record.value == value and record.key == dossier_id.encode()
        assert reason in (header(record, "x-error") or ""), header(record, "x-error")
        assert header(record, "x-source-topic") == topics.events
        assert header(record, "x-source-partition") == str(partition)
        assert header(record, "x-source-offset") == str(offset)
        assert header(record, "content-type") == "application/json"  # the original headers travel too
    strangers = [unknown["dossier_id"], future["dossier_id"]]
    for runner in container.runners:
        marks = runner.db.query(
            "SELECT dossier_id FROM projection_seqs WHERE dossier_id IN (?, ?)", tuple(strangers)
        )
        assert marks == [], f"view {runner.name} applied a poison record"


def test_records_the_framework_or_the_dead_letter_topic_choke_on_are_dead_lettered_and_lose_nothing(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """A header that is not UTF-8, a notification id that is not a number, a value too large to
    go to the dead-letter topic with its headers, an event under another dossier's key ahead of
    its turn: each is dead-lettered, nothing fetched with it is lost, and the views equal a rebuild."""
    store = tmp_path / "events.sqlite"
    settings = kafka_settings(tmp_path / "var", f"sqlite:///{store}", kafka_bootstrap, prefix)
    container = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    assert bulk_seed(container, 3).dossiers == 3
    real = container.store.notifications(0, 1000)
    first, other = sorted({r.dossier_id for r in real})[:2]
    partition = partition_for(first, settings.kafka_event_partitions)
    mine = next(r for r in real if r.dossier_id == first)
    later = [r for r in real if r.dossier_id == other][2]  # its third event, ahead of the first two
    huge = b"{" + b" " * (1024 * 1024 - 400)  # fits a record, not with the dead-letter headers
    poison: list[tuple[bytes, bytes, list[tuple[str, bytes]], str]] = [
        (mine.raw, first.encode(), [("trace", b"\xff\xfe")], ""),  # a real event, bad header: applied
        (b"{}", first.encode(), [("notification_id", b"twelve")], "notification_id"),
        (huge, first.encode(), [], "not JSON"),
        (later.raw, b"somewhere-else", headers_for(later), "key"),
    ]

    async def publish() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for value, key, headers, _ in poison:  # all on one partition, before the real events
                await producer.send_and_wait(
                    topics.events, value, key=key, partition=partition, headers=headers
                )
            for record in real:
                await producer.send_and_wait(
                    topics.events,
                    record.raw,
                    key=record.dossier_id.encode(),
                    partition=partition_for(record.dossier_id, settings.kafka_event_partitions),
                    headers=headers_for(record),
                )
        finally:
            await producer.stop()

    asyncio.run(publish())
    ends = asyncio.run(end_offsets(kafka_bootstrap, topics.events))
    with StreamThread(build_stream(container, with_inbound=False, with_relay=False)):
        wait_for(lambda: caught_up(container, topics, ends), 90, f"every view to reach the ends {ends}")
    expected = [reason for *_, reason in poison if reason]

    def dead_letters() -> list[ConsumerRecord[Any, Any]] | None:
        got = asyncio.run(read_topic(kafka_bootstrap, topics.dlq))
        return got if len(got) >= len(expected) else None

    dead = wait_for(dead_letters, 30, f"{len(expected)} records on {topics.dlq}", every=0.3)
    dead.sort(key=lambda r: int(header(r, "x-source-offset") or -1))
    assert [header(r, "x-source-offset") for r in dead] == ["1", "2", "3"]
    for record, reason in zip(dead, expected, strict=True):
        assert reason in (header(record, "x-error") or ""), header(record, "x-error")
    assert dead[1].value == b"" and header(dead[1], "x-value-omitted") == f"{len(huge)} bytes"
    rebuilt = containers(
        Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=f"sqlite:///{store}",
            view_store_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite'}",
            jwt_secret=SECRET,
        )
    )
    rebuilt.feed.rebuild()
    for view, table in view_tables():
        assert rows(container.view_db, table) == rows(rebuilt.view_db, table), f"view {view}: {table} differs"


# -- 6. inbound commands ---------------------------------------------------------------------------


def _results_of(kafka_bootstrap: str, topics: Topics, commands: int) -> list[ConsumerRecord[Any, Any]]:
    """The result records once `commands` distinct keys have one (a replay may add more)."""

    def enough() -> list[ConsumerRecord[Any, Any]] | None:
        got = asyncio.run(read_topic(kafka_bootstrap, topics.results))
        return got if len({orjson.loads(r.value)["idempotency_key"] for r in got}) >= commands else None

    got: list[ConsumerRecord[Any, Any]] = wait_for(
        enough, 60, f"a result of each of {commands} commands on {topics.results}", every=0.3
    )
    return got


def test_inbound_commands_are_idempotent_and_bad_ones_get_problems(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)

    async def send(*messages: tuple[bytes, bytes]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topics.commands, value, key=key)
        finally:
            await producer.stop()

    def results(count: int) -> list[ConsumerRecord[Any, Any]]:
        def enough() -> list[ConsumerRecord[Any, Any]] | None:
            got = asyncio.run(read_topic(kafka_bootstrap, topics.results))
            return got if len(got) >= count else None

        got = wait_for(enough, 60, f"{count} records on {topics.results}", every=0.3)
        assert len(got) == count, [r.value for r in got]
        return got

    def command(
        key: str, name: str, body: dict[str, Any], tok: str = ward, dossier: str | None = None
    ) -> bytes:
        message = {"idempotency_key": key, "token": tok, "command": name, "body": body}
        if dossier:
            message["dossier_id"] = dossier
        return orjson.dumps(message)

    def by_key(records: list[ConsumerRecord[Any, Any]]) -> dict[str, list[bytes]]:
        # Results of one key share a partition, so their order is the order of the commands.
        grouped: dict[str, list[bytes]] = defaultdict(list)
        for record in records:
            grouped[orjson.loads(record.value)["idempotency_key"]].append(record.value)
        return grouped

    receive = command(
        "rx-1", "receive", {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}
    )
    side = build_stream(container, views=["-none-"], with_relay=False)
    with StreamThread(side):
        asyncio.run(ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions))
        asyncio.run(send((b"rx-1", receive), (b"rx-1", receive)))
        [first, again] = by_key(results(2))["rx-1"]
        received = orjson.loads(first)
        assert received["status"] == 201 and received["problem"] is None
        dossier_id = received["dossier"]["id"]
        assert (
            received["dossier"]["holder_agency_code"] == WARD and received["dossier"]["status"] == "received"
        )
        assert again == first  # the repeated key: the first result, byte for byte

        handoff = command(
            "ho-1", "handoff", {"to_agency_code": DEPT, "note": "chuyển Sở"}, dossier=dossier_id
        )
        unknown = command("xx-1", "teleport", {}, dossier=dossier_id)
        forged = command("bad-1", "receive", {"procedure_code": PROCEDURE}, tok=ward[:-4] + "AAAA")
        later = command(
            "rx-2", "receive", {"procedure_code": PROCEDURE, "channel": "online", "applicant": APPLICANT}
        )
        asyncio.run(
            send(
                (dossier_id.encode(), handoff),
                (dossier_id.encode(), handoff),
                (b"bad-1", forged),
                (dossier_id.encode(), unknown),
                (b"rx-2", b"\x00 this is not a command"),
                (b"rx-2", later),
            )
        )
        grouped = by_key(results(8))
    results_of = {key: [orjson.loads(v) for v in values] for key, values in grouped.items()}
    assert sorted(results_of) == ["", "bad-1", "ho-1", "rx-1", "rx-2", "xx-1"]
    handed, _ = results_of["ho-1"]
    assert handed["status"] == 200 and handed["dossier"]["pending_handoff_to"] == DEPT
    assert grouped["ho-1"][0] == grouped["ho-1"][1]
    [forged_result] = results_of["bad-1"]
    assert forged_result["status"] == 401 and forged_result["problem"]["status"] == 401
    [unknown_result] = results_of["xx-1"]
    assert unknown_result["status"] == 422 and "teleport" in unknown_result["problem"]["detail"]
    [junk] = results_of[""]  # garbage has no idempotency key to echo
    assert junk["status"] in (400, 422) and junk["problem"]["status"] == junk["status"]
    # ... so the record itself goes to the dead-letter topic too, saying why and where it was.
    [dead] = asyncio.run(read_topic(kafka_bootstrap, topics.dlq))
    assert dead.value == b"\x00 this is not a command" and dead.key == b"rx-2"
    assert header(dead, "x-source-topic") == topics.commands
    assert header(dead, "x-consumer-group") == topics.group("commands")
    assert (header(dead, "x-error") or "").startswith("not a command: "), header(dead, "x-error")
    # ... and is counted where an operator watches dead letters (/metrics, by consumer group).
    assert side.inbound_dead == 1
    scraped = {m.name: m for m in StreamCollector(side).collect()}
    counted = {
        s.labels["group"]: s.value
        for s in scraped["lienthong_dlq_records"].samples
        if s.name.endswith("_total")
    }
    assert counted == {topics.group("commands"): 1.0}
    [carried_on] = results_of["rx-2"]  # published after the garbage on the same partition
    assert carried_on["status"] == 201 and carried_on["dossier"]["id"] != dossier_id
    types = [e.type for e in container.store.load(dossier_id)]
    assert types.count("DossierReceived") == 1 and types.count("HandedOff") == 1, types


def test_a_command_with_a_header_that_is_not_utf8_still_gets_its_result_and_so_do_its_neighbours(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}

    def receive(key: str) -> bytes:
        return orjson.dumps({"idempotency_key": key, "token": ward, "command": "receive", "body": body})

    async def send() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=200)
        await producer.start()
        try:
            # Sent together (one partition, one fetch): the bad header must not cost the others.
            sent = [
                await producer.send(
                    topics.commands, receive(f"hd-{n}"), key=b"portal", partition=0, headers=h
                )
                for n, h in enumerate([[], [("trace", b"\xff\xfe")], []])
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        got = _results_of(kafka_bootstrap, topics, 3)
    answers = {orjson.loads(r.value)["idempotency_key"]: orjson.loads(r.value)["status"] for r in got}
    assert answers == {"hd-0": 201, "hd-1": 201, "hd-2": 201}
    assert container.store.max_notification_id() == 3


def test_a_batch_of_commands_whose_handling_fails_is_read_again_not_acknowledged_without_results(
    containers: Callable[[Settings], Container],
    tmp_path: Path,
    kafka_bootstrap: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure between consuming a batch and confirming its results (here the first handling of
    the batch; in production a results topic that times out) must not commit the batch's offsets:
    the commands would never get a result. Read again, each runs once and answers."""
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}
    failures = [RuntimeError("results topic timed out")]
    execute_batch = inbound.execute_batch

    def failing_once(container: Container, raws: Any, keys: Any = None) -> Any:
        outcomes = execute_batch(container, raws, keys)  # the commands run (and are stored) ...
        if failures:
            raise failures.pop()  # ... and their results do not go out
        return outcomes

    monkeypatch.setattr(inbound, "execute_batch", failing_once)

    async def send() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(3):
                message = {"idempotency_key": f"ak-{n}", "token": ward, "command": "receive", "body": body}
                await producer.send_and_wait(
                    topics.commands, orjson.dumps(message), key=b"portal", partition=0
                )
        finally:
            await producer.stop()

    asyncio.run(send())
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        got = _results_of(kafka_bootstrap, topics, 3)
    assert not failures
    assert {orjson.loads(r.value)["idempotency_key"]: orjson.loads(r.value)["status"] for r in got} == {
        f"ak-{n}": 201 for n in range(3)
    }
    assert container.store.max_notification_id() == 3  # each command once, though its batch ran twice


def test_asyncapi_document_and_projection_status(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    out = tmp_path / "asyncapi.json"
    cli(settings, "asyncapi", "--out", str(out), cwd=tmp_path)
    document = orjson.loads(out.read_bytes())
    schemas = document["components"]["schemas"]
    messages = document["components"]["messages"]
    payloads: dict[str, set[str]] = defaultdict(set)
    for channel in document["channels"].values():
        for message in channel["messages"].values():
            name = message["$ref"].rsplit("/", 1)[1]
            payloads[channel["address"]].add(messages[name]["payload"].get("$ref", "").rsplit("/", 1)[-1])
    assert {topics.events, topics.commands, topics.results, topics.dlq} <= set(payloads)
    assert "EventEnvelope" in payloads[topics.events]
    assert "CommandMessage" in payloads[topics.commands]
    assert "CommandResult" in payloads[topics.results]
    assert {"dossier_id", "seq", "schema_version", "hash"} <= set(schemas["EventEnvelope"]["properties"])
    assert {"idempotency_key", "token", "command", "body"} <= set(schemas["CommandMessage"]["properties"])
    assert {"idempotency_key", "status", "problem"} <= set(schemas["CommandResult"]["properties"])

    container = containers(settings)
    bulk_seed(container, 40)
    head = container.store.max_notification_id()
    relay = Relay(
        container.store, container.db, kafka_bootstrap, topics, partitions=settings.kafka_event_partitions
    )
    assert asyncio.run(relay.drain()) == head
    ends = asyncio.run(end_offsets(kafka_bootstrap, topics.events))
    views = {r.name for r in container.runners}

    def lags() -> dict[tuple[str, str], tuple[int, int, int]]:
        table = status_rows(cli(settings, "projections", "status", cwd=tmp_path))
        return {(r[0], r[2]): (int(r[3]), int(r[4]), int(r[5])) for r in table}

    before = lags()
    assert before.pop(("(relay)", "notifications")) == (head, head, 0)
    # Nothing projected yet: every view lags each partition by all of its records.
    assert before == {(v, str(p)): (0, end, end) for v in views for p, end in ends.items()}
    with StreamThread(build_stream(container, with_inbound=False, with_relay=False)):
        wait_for(
            lambda: caught_up(container, topics, ends),
            60,
            "the views to catch up",
        )
    after = lags()
    after.pop(("(relay)", "notifications"))
    assert after == {(v, str(p)): (end, end, 0) for v in views for p, end in ends.items()}
