"""The Kafka backbone against the real broker (deploy/kafka) and the real PostgreSQL (deploy/postgres).

Every test has its own topic prefix and its own stores, so tests never see each other's records.
The crash tests run on PostgreSQL (production); the others on SQLite. Every wait has a deadline
and says what it was waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from eventsourcing.persistence import StoredEvent

from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.calendar_factory import build_calendar
from gateways.eventstore.store import SCHEMA_VERSION, EventStore, RecordedEvent
from gateways.http.app import create_app
from gateways.kafka.app import StreamSide, build_stream, run_stream
from gateways.kafka.contracts import EventEnvelope
from gateways.kafka.projector import KAFKA_FEED
from gateways.kafka.relay import Relay, headers_for, notification_id_of
from gateways.kafka.topics import Topics, end_offsets, ensure_topics, partition_for
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from gateways.sql import Database
from gateways.views.registry import build_views
from tests.conftest import PG_URL, FakeClock
from tests.serving import free_port, serve

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

SECRET = "test-secret-of-at-least-thirty-two-bytes"
REPO = Path(__file__).resolve().parents[2]
LIENTHONG = Path(sys.executable).with_name("lienthong")
# DD.01-2025 of the demo catalogue routes ward 000.21.99.H29 -> department 000.00.21.H29 -> ward.
PROCEDURE, WARD, DEPT = "DD.01-2025", "000.21.99.H29", "000.00.21.H29"
APPLICANT = {"name": "Nguyễn Văn An", "id_number": "079200001234", "phone": "0909000111"}
ENVELOPE_FIELDS = {
    "event_id",
    "dossier_id",
    "seq",
    "type",
    "occurred_at",
    "recorded_at",
    "agency_code",
    "actor",
    "payload",
    "prev_hash",
    "hash",
    "schema_version",
}
CRASH_DOSSIERS = 8000  # ~7 events each: the crash tests need >= 50k events in flight

T = TypeVar("T")


# -- small tools -----------------------------------------------------------------------------------
def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last value: {value!r})")
        time.sleep(every)


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def delete_topics(bootstrap_servers: str, topics: Topics) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in (topics.events, topics.commands, topics.results, topics.dlq) if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A topic prefix of the test's own; its topics leave the shared broker afterwards."""
    name = new_prefix()
    yield name
    asyncio.run(delete_topics(kafka_bootstrap, Topics.with_prefix(name)))


def kafka_settings(
    data_dir: Path, store_url: str, bootstrap_servers: str, prefix: str, **extra: Any
) -> Settings:
    return Settings(
        data_dir=data_dir,
        event_store_url=store_url,
        kafka_bootstrap=bootstrap_servers,
        kafka_topic_prefix=prefix,
        jwt_secret=SECRET,
        **extra,
    )


def token(role: str, agency: str | None, sub: str | None = None) -> str:
    # Real time: tokens are checked against the wall clock, not the container's clock.
    return issue_token(
        SECRET,
        role=role,
        sub=sub or f"{role}@{agency}",
        agency_code=agency,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )


async def read_topic(
    bootstrap_servers: str, topic: str, timeout: float = 60
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of `topic` from the beginning to the ends it has now, partition by partition."""
    ends = await end_offsets(bootstrap_servers, topic)
    if not ends:
        return []  # not created yet
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[Any, Any]] = []
        remaining = {tp for tp in tps if ends[tp.partition] > 0}
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its ends {ends} within {timeout}s")
            got = await consumer.getmany(*remaining, timeout_ms=500, max_records=50_000)
            for tp, batch in got.items():
                records.extend(r for r in batch if r.offset < ends[tp.partition])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp.partition]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


def kafka_position(container: Container, topics: Topics) -> dict[str, dict[int, int]]:
    """view -> partition -> next offset, as each view's store holds it."""
    out: dict[str, dict[int, int]] = {}
    for runner in container.runners:
        stored = runner.positions(KAFKA_FEED)
        out[runner.name] = {
            int(part.rsplit(":", 1)[1]): offset
            for part, offset in stored.items()
            if part.startswith(topics.events + ":")
        }
    return out


def caught_up(container: Container, topics: Topics, ends: dict[int, int]) -> bool:
    """Every view stands at the end of every partition (an empty partition needs no position)."""
    return all(
        {p: stored.get(p, 0) for p in ends} == ends and set(stored) <= set(ends)
        for stored in kafka_position(container, topics).values()
    )


class StreamThread:
    """`run_stream` in a background thread's event loop, stopped (and its errors raised) on exit."""

    def __init__(self, side: StreamSide, partitions: int = 12) -> None:
        self.side = side
        self.partitions = partitions
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name="stream", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            self.ready.set()
            await run_stream(self.side, self.stop_event, event_partitions=self.partitions)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()
            self.loop.close()

    def __enter__(self) -> StreamThread:
        self.thread.start()
        assert self.ready.wait(10), "the stream thread did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive() and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)
        assert not self.thread.is_alive(), "the stream side did not stop within 60s"
        if self.error is not None:
            raise self.error


@dataclass
class Worker:
    """`lienthong stream …` in its own process group."""

    env: dict[str, str]
    args: list[str]
    log: Path
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(LIENTHONG), "stream", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        # Only while our child is unreaped: its pid (= its group id) cannot belong to anyone else.
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """kill -9 of the worker's process group: the crash under test."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Workers:
    tmp: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, settings: Settings, *args: str, log_level: str = "warning") -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        env.update(
            {
                "LIENTHONG_DATA_DIR": str(settings.data_dir),
                "LIENTHONG_EVENT_STORE_URL": settings.resolved_event_store_url,
                "LIENTHONG_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
                "LIENTHONG_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
                "LIENTHONG_JWT_SECRET": SECRET,
                "LIENTHONG_LOG_LEVEL": log_level,
                "LIENTHONG_RELAY_BATCH": str(settings.relay_batch),
                "LIENTHONG_PROJECTOR_BATCH": str(settings.projector_batch),
                "PYTHONUNBUFFERED": "1",
            }
        )
        worker = Worker(env, list(args), self.tmp / f"worker-{len(self.started)}.log", self.tmp)
        self.started.append(worker.start())
        return worker


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        for worker in pool.started:
            worker.kill()


@pytest.fixture
def containers() -> Iterator[Callable[[Settings], Container]]:
    made: list[Container] = []

    def make(settings: Settings) -> Container:
        container = bootstrap(settings)
        made.append(container)
        return container

    yield make
    for container in made:
        container.close()


# -- PostgreSQL databases for the crash tests ------------------------------------------------------
def _admin(statement: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(statement)


def _drop(name: str) -> None:
    """Drop a test database. A session of another role (the server's autovacuum on a freshly
    filled database) cannot be ended by this role: wait until it is gone, then drop."""
    deadline = time.monotonic() + 120
    while True:
        try:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            if time.monotonic() > deadline:
                warnings.warn(
                    f"test database {name} left behind: another role's session holds it", stacklevel=2
                )
                return
            time.sleep(0.5)


def _url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def copy_events(source: EventStore, target: EventStore, chunk: int = 5000) -> int:
    """Copy every stored event, bytes and order unchanged, many streams per transaction
    (bulk_seed straight into PostgreSQL commits once per stream: several times slower)."""
    copied = 0
    position = 0
    while records := source.notifications(position, chunk):
        target.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=uuid.UUID(r.dossier_id),
                    originator_version=r.seq,
                    topic=r.type,
                    state=r.raw,
                )
                for r in records
            ]
        )
        position = records[-1].notification_id or position
        copied += len(records)
    return copied


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database with CRASH_DOSSIERS walked dossiers, cloned by each crash test."""
    if not PG_URL:
        pytest.fail(
            "LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL"
        )
    tmp = tmp_path_factory.mktemp("seed")
    source = bootstrap(
        Settings(data_dir=tmp, event_store_url=f"sqlite:///{tmp / 'seed.sqlite'}", jwt_secret=SECRET)
    )
    name = f"lt_tpl_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    target = bootstrap(Settings(data_dir=tmp, event_store_url=_url(name), jwt_secret=SECRET))
    try:
        started = time.perf_counter()
        seeded = bulk_seed(source, CRASH_DOSSIERS)
        seeded_in = time.perf_counter() - started
        load_catalogue(target.catalogue)
        assert copy_events(source.store, target.store) == seeded.events >= 50_000
        print(
            f"seeded {seeded.events} events in {seeded_in:.1f}s (SQLite), "
            f"copied to PostgreSQL in {time.perf_counter() - started - seeded_in:.1f}s"
        )
    finally:
        source.close()
        target.close()
    yield name
    _drop(name)


@pytest.fixture
def pg_database() -> Iterator[Callable[[str | None], str]]:
    """Fresh PostgreSQL databases (optionally copies of a template), dropped afterwards."""
    if not PG_URL:
        pytest.fail(
            "LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL"
        )
    names: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"lt_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        names.append(name)
        return _url(name)

    yield make
    for name in names:
        _drop(name)


def assert_exactly_once(records: list[ConsumerRecord[Any, Any]], store: EventStore, partitions: int) -> None:
    """The topic holds every stored event exactly once, byte for byte, on its dossier's partition,
    and each dossier's seqs rise on its partition."""
    stored: dict[int, RecordedEvent] = {}
    position = 0
    while batch := store.notifications(position, 10_000):
        stored.update({r.notification_id or 0: r for r in batch})
        position = batch[-1].notification_id or position
    ids = Counter(notification_id_of(r.headers) for r in records)
    duplicates = sorted((nid, n) for nid, n in ids.items() if n > 1 and nid is not None)
    missing = sorted(set(stored) - set(ids))
    strangers = sorted(str(nid) for nid in set(ids) - set(stored))
    assert not duplicates and not missing and not strangers, (
        f"{len(records)} records for {len(stored)} stored events: duplicated notification ids "
        f"{duplicates[:20]} ({len(duplicates)}), missing {missing[:20]} ({len(missing)}), "
        f"not in the store {strangers[:20]}"
    )
    last_seq: dict[tuple[int, str], int] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = stored[notification_id_of(record.headers) or 0]
        assert record.value == event.raw
        assert record.key == event.dossier_id.encode()
        assert record.partition == partition_for(event.dossier_id, partitions)
        key = (record.partition, event.dossier_id)
        assert event.seq > last_seq.get(key, 0), f"{event.dossier_id}: seq {event.seq} after {last_seq[key]}"
        last_seq[key] = event.seq


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


# -- 2. projector killed mid-stream == rebuild -----------------------------------------------------
def view_tables() -> list[tuple[str, str]]:
    """(view, table) of every table every registered view creates."""
    out = []
    for view in build_views(build_calendar(Settings())):
        for statement in view.schema:
            match = re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement, re.IGNORECASE)
            if match and match.group(1) != "projection_positions":
                out.append((view.name, match.group(1)))
    assert out, "no view tables found in the registry"
    return out


def rows(db: Database, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = db.query(f"SELECT * FROM {table} {where}", params)
    return sorted((tuple(sorted(r.items())) for r in found), key=repr)


def published(
    containers: Callable[[Settings], Container], settings: Settings, kafka_bootstrap: str
) -> tuple[Container, Topics, int]:
    """A container on the seeded store whose whole history the relay has published:
    (container, topics, the last notification id)."""
    live = containers(settings)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
    head = live.store.max_notification_id()
    relay = Relay(live.store, live.db, kafka_bootstrap, topics, partitions=settings.kafka_event_partitions)
    started = time.perf_counter()
    assert asyncio.run(relay.drain()) == head
    print(f"relay.drain: {head} events in {time.perf_counter() - started:.1f}s")
    return live, topics, head


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


def assigned(worker: Worker, topic: str) -> list[set[int]]:
    """Every assignment the worker's projector logged, in order (partition numbers)."""
    found = re.findall(r"partitions assigned: \[([^\]]*)\]", worker.log.read_text(errors="replace"))
    return [{int(p) for p in re.findall(re.escape(topic) + r":(\d+)", line)} for line in found]


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

    def shared() -> tuple[set[int], set[int]] | None:
        assert first.alive() and second.alive(), f"a projector exited:\n{first.tail()}\n{second.tail()}"
        mine, theirs = assigned(first, topics.events), assigned(second, topics.events)
        if mine and theirs and mine[-1] and theirs[-1] and mine[-1] | theirs[-1] == every:
            return mine[-1], theirs[-1]
        return None

    split = wait_for(shared, 90, "the consumer group to split the partitions between the two processes")
    assert not split[0] & split[1], f"a partition is assigned twice: {split}"
    assert 0 < min(sum(p.values()) for p in kafka_position(live, topics).values()) < head, (
        "the views should be part way through the topic when the group has split it"
    )
    second.kill()  # kill -9 under load: its batch in flight is never committed
    at_kill = min(sum(p.values()) for p in kafka_position(live, topics).values())
    print(f"second projector killed at {at_kill} of {head}; it held partitions {sorted(split[1])}")

    wait_for(
        lambda: bool(assigned(first, topics.events)[-1] == every) or None,
        90,
        "the survivor to take every partition (after the dead member's session times out)",
        every=0.2,
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


# -- 3. broker stopped and restarted under a writer ------------------------------------------------
@dataclass
class PrivateBroker:
    """This checkout's deploy/kafka scripts and jars, run as a second node on free ports with its
    own data, so the test can stop and restart a broker without touching the shared one."""

    root: Path
    env: dict[str, str]

    @classmethod
    def make(cls, tmp: Path) -> PrivateBroker:
        libs = REPO / "var" / "kafka" / "libs"
        if not (libs / ".complete").exists():
            pytest.fail(
                f"no Kafka jars in {libs.relative_to(REPO)}: run deploy/kafka/start.sh (make test does)"
            )
        root = tmp / "node"
        shutil.copytree(REPO / "deploy" / "kafka", root / "deploy" / "kafka")
        (root / "var" / "kafka").mkdir(parents=True)
        (root / "var" / "kafka" / "libs").symlink_to(libs)
        env = dict(os.environ)
        env.update(
            {
                "LIENTHONG_KAFKA_PORT": str(free_port()),
                "LIENTHONG_KAFKA_CONTROLLER_PORT": str(free_port()),
                "LIENTHONG_KAFKA_HEAP": "-Xms128m -Xmx384m",
            }
        )
        return cls(root, env)

    def _script(self, name: str) -> str:
        done = subprocess.run(
            [str(self.root / "deploy" / "kafka" / name)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self) -> str:
        return self._script("start.sh")

    def stop(self) -> None:
        self._script("stop.sh")


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker.make(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()


class Writer(threading.Thread):
    """Appends walked dossiers in small batches until told to stop."""

    def __init__(self, container: Container) -> None:
        super().__init__(name="writer", daemon=True)
        self.container = container
        self.halt = threading.Event()
        self.accepted = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        batch = 0
        while not self.halt.is_set():
            try:
                self.accepted += bulk_seed(self.container, 5, seed=10_000 + batch, flush_every=1).events
            except BaseException as exc:
                self.errors.append(exc)
                return
            batch += 1
            time.sleep(0.01)


@contextlib.contextmanager
def relay_running(relay: Relay) -> Iterator[None]:
    """`Relay.run` (reconnecting with backoff) in a background thread's event loop."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(relay.run(stop))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main, name="relay", daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
    assert not thread.is_alive(), "the relay did not stop within 60s"
    loop.close()
    if errors:
        raise errors[0]


def test_broker_restart_under_a_writer_publishes_every_event_exactly_once(
    private_broker: PrivateBroker,
    pg_database: Callable[[str | None], str],
    containers: Callable[[Settings], Container],
    tmp_path: Path,
) -> None:
    started = time.perf_counter()
    bootstrap_servers = private_broker.start()
    print(f"private broker {bootstrap_servers} up in {time.perf_counter() - started:.1f}s")
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
            # The writer goes on while the broker is away, longer than the producer's request
            # timeout (15 s), so pending sends fail and the relay must resume in a new session.
            time.sleep(20)
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
            time.sleep(1)
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
    assert relay.stats.sessions >= 2, "the relay never lost the broker: the resume path was not exercised"
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


# -- 6. inbound commands ---------------------------------------------------------------------------
def test_inbound_commands_are_idempotent_and_bad_ones_get_problems(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    container = containers(settings)
    load_catalogue(container.catalogue)
    topics = Topics.with_prefix(settings.kafka_topic_prefix)
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
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
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
    [carried_on] = results_of["rx-2"]  # published after the garbage on the same partition
    assert carried_on["status"] == 201 and carried_on["dossier"]["id"] != dossier_id
    types = [e.type for e in container.store.load(dossier_id)]
    assert types.count("DossierReceived") == 1 and types.count("HandedOff") == 1, types


# -- 7. AsyncAPI and `projections status` ----------------------------------------------------------
def cli(settings: Settings, *args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(
        {
            "LIENTHONG_DATA_DIR": str(settings.data_dir),
            "LIENTHONG_EVENT_STORE_URL": settings.resolved_event_store_url,
            "LIENTHONG_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "LIENTHONG_JWT_SECRET": SECRET,
            "COLUMNS": "200",
        }
    )
    if settings.kafka_bootstrap:
        env["LIENTHONG_KAFKA_BOOTSTRAP"] = settings.kafka_bootstrap
    done = subprocess.run(
        [str(LIENTHONG), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def status_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.count("│") >= 7]


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
