"""What the Kafka tests share: settings, tokens, reading a topic, worker processes and threads,
PostgreSQL databases cloned from a seeded template, the views' tables, a writer thread.

Every test has its own topic prefix and its own stores, so tests never see each other's records.
Every wait has a deadline and says what it was waiting for. The fixtures built on these are in
tests/integration/conftest.py.
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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from eventsourcing.persistence import StoredEvent

from gateways.auth import issue_token
from gateways.bootstrap import Container
from gateways.calendar_factory import build_calendar
from gateways.eventstore.store import EventStore, RecordedEvent
from gateways.kafka.app import StreamSide, run_stream
from gateways.kafka.projector import KAFKA_FEED
from gateways.kafka.relay import Relay, notification_id_of
from gateways.kafka.topics import Topics, end_offsets, partition_for
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from gateways.sql import Database, drop_database
from gateways.views.registry import build_views
from tests.conftest import PG_URL
from tests.serving import free_port

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


def inbound_setup(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> tuple[Settings, Container, Topics]:
    """A store with the catalogue, on topics of its own prefix."""
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    container = containers(settings)
    load_catalogue(container.catalogue)
    return settings, container, Topics.with_prefix(settings.kafka_topic_prefix)


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


# -- PostgreSQL databases for the crash tests ------------------------------------------------------
def _admin(statement: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(statement)


def _drop(name: str) -> None:
    if not drop_database(_url(name)):
        warnings.warn(f"test database {name} left behind: another role's session holds it", stacklevel=2)


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


def assigned(worker: Worker, topic: str) -> list[set[int]]:
    """Every assignment the worker's projector logged, in order (partition numbers)."""
    found = re.findall(r"partitions assigned: \[([^\]]*)\]", worker.log.read_text(errors="replace"))
    return [{int(p) for p in re.findall(re.escape(topic) + r":(\d+)", line)} for line in found]


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

    def _script(self, name: str, **extra: str) -> str:
        done = subprocess.run(
            [str(self.root / "deploy" / "kafka" / name)],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        assert done.returncode == 0, f"{name} failed:\n{done.stderr[-3000:]}"
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self, mark: Path | None = None) -> str:
        """Start it (or find it running); `mark`: the file start.sh creates when it started
        the broker itself (what `make run-kafka` stops on exit)."""
        return self._script("start.sh", **({"LIENTHONG_STARTED_MARK": str(mark)} if mark else {}))

    def stop(self) -> None:
        self._script("stop.sh")


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
