"""`lienthong soak`: the province profile through the whole Kafka pipeline on the three-broker
cluster, compressed in time, while a broker (a partition leader), a stream process and an API
process are killed with -9 at random moments.

The parts, each a real process on this machine:
- two API processes (`lienthong run --no-stream`), each with its own group-commit writer;
- two stream processes (`lienthong stream`): projectors and inbound commands sharing the
  consumer groups, and the relay, active in one and standing by in the other (advisory lock);
- the cluster of deploy/kafka/cluster.sh (topics of three replicas, min.insync.replicas=2);
- a fresh PostgreSQL database for the event store and the views.

The workload: the province profile's world (communes, districts, departments, procedures) and
its arrivals (which procedure at which desk, in which order), scaled to `dossiers` and spread
over `minutes`; each dossier walks its route through the HTTP API (receive, handoffs and
accepts, decision, result ready, returned) with an Idempotency-Key per command. A client whose
API process dies retries the same request on the other one until it is answered.

At the end, with the faults healed: every acknowledged command is in the store (versions and
counts), the events topic holds every stored event exactly once (no gap), the views built from
Kafka equal a rebuild from the store, and `lienthong audit verify` passes. Throughput, the
lag from acknowledgement to the SLA view (p50/p99) and the faults survived are printed and
written to var/bench/soak.json.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gateways.auth import issue_token
from gateways.bench.api import percentile
from gateways.bench.child import free_port
from gateways.bench.report import BenchResult
from gateways.bootstrap import Container, bootstrap
from gateways.settings import Settings

CLUSTER_SH = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "cluster.sh"
SECRET_BYTES = 48
LAG_VIEW = "sla"


class SoakFailed(Exception):
    """A check at the end did not hold (or the run could not proceed)."""


@dataclass
class Sent:
    path: str
    body: dict[str, Any]
    token: str
    key: str
    status: int | None = None
    content: bytes = b""
    answered_at: float = 0.0
    attempts: int = 0


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateways.cli", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Fault:
    what: str
    at_seconds: float
    detail: str = ""
    healed_after_seconds: float | None = None


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    acked: list[tuple[str, int, float]] = field(default_factory=list)  # dossier, version, when
    abandoned: Counter[str] = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    lags_ms: list[float] = field(default_factory=list)


def _cluster(*args: str) -> str:
    if not CLUSTER_SH.exists():
        raise SoakFailed(f"{CLUSTER_SH.name} not found: run the soak from a checkout (make soak)")
    done = subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SoakFailed(f"cluster.sh {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def _drop_database(admin_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _new_database(admin_url: str) -> str:
    import psycopg

    name = f"lt_soak_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


class Soak:
    def __init__(
        self,
        kafka: str,
        admin_url: str,
        out_dir: Path,
        work_dir: Path,
        dossiers: int,
        minutes: float,
        clients: int,
        seed: int,
    ) -> None:
        self.kafka = kafka
        self.admin_url = admin_url
        self.store_url = _new_database(admin_url)
        self.out_dir = out_dir
        self.work = work_dir
        self.dossiers = dossiers
        self.seconds = minutes * 60
        self.clients = clients
        self.rng = random.Random(seed)
        self.seed = seed
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex
        self.prefix = f"soak{uuid.uuid4().hex[:8]}"
        self.settings = Settings(
            data_dir=work_dir / "var",
            event_store_url=self.store_url,
            kafka_bootstrap=kafka,
            kafka_topic_prefix=self.prefix,
            kafka_replication_factor=3,
            jwt_secret=self.secret,
            log_level="warning",
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        self.env.update(
            {
                "LIENTHONG_DATA_DIR": str(self.settings.data_dir),
                "LIENTHONG_EVENT_STORE_URL": self.store_url,
                "LIENTHONG_KAFKA_BOOTSTRAP": kafka,
                "LIENTHONG_KAFKA_TOPIC_PREFIX": self.prefix,
                "LIENTHONG_KAFKA_REPLICATION_FACTOR": "3",
                "LIENTHONG_JWT_SECRET": self.secret,
                "LIENTHONG_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.run = Run()
        self.databases_to_drop: list[str] = []  # only once every check passed (kept for a post-mortem)
        self.apis: list[Process] = []
        self.streams: list[Process] = []
        self.started = 0.0

    # -- the parts -----------------------------------------------------------------------------
    def _api(self, n: int) -> Process:
        port = free_port()
        args = ["run", "--no-seed", "--no-stream", "--host", "127.0.0.1", "--port", str(port)]
        process = Process(f"api-{n}", args, self.env, self.work / f"api-{n}.log")
        process.base = f"http://127.0.0.1:{port}"
        return process

    def _stream(self, n: int) -> Process:
        return Process(f"stream-{n}", ["stream"], self.env, self.work / f"stream-{n}.log")

    def _wait_http(self, process: Process, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise SoakFailed(f"{process.name} exited: {process.log.read_text()[-2000:]}")
            try:
                if httpx.get(process.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SoakFailed(f"{process.name} did not answer /readyz in {timeout:.0f}s")

    def setup(self) -> list[tuple[str, str, str]]:
        """World into the catalogue; the planned dossiers: (procedure, desk, channel)."""
        from gateways.simulation.engine import Simulation
        from gateways.simulation.profiles import profile
        from gateways.simulation.run import install_world

        container = bootstrap(self.settings)
        try:
            chosen = profile("province").sized(self.dossiers)
            simulation = Simulation(chosen, self.seed, container.calendar, seal=lambda _id, a: a, now=None)
            install_world(container.catalogue, simulation.world)
            plans = [p for p in simulation.plans() if not p.refused][: self.dossiers]
        finally:
            container.close()
        return [(p.procedure.code, p.desk, p.channel.value) for p in plans]

    # -- the clients ---------------------------------------------------------------------------
    def _token(self, agency: str) -> str:
        return issue_token(
            self.secret,
            role="officer",
            sub=f"soak@{agency}",
            agency_code=agency,
            now=datetime.now(UTC),
            ttl=timedelta(hours=6),
        )

    async def _send(self, http: Any, path: str, agency: str, body: dict[str, Any], start: int) -> Sent:
        import httpx

        sent = Sent(path, body, self._token(agency), f"soak-{uuid.uuid4().hex}")
        self.run.sent.append(sent)
        n = start
        deadline = time.monotonic() + 300
        while True:
            base = self.apis[n % len(self.apis)].base
            sent.attempts += 1
            try:
                response = await http.post(
                    base + path,
                    json=body,
                    headers={"Authorization": f"Bearer {sent.token}", "Idempotency-Key": sent.key},
                )
                if response.status_code not in (502, 503):
                    sent.status, sent.content = response.status_code, response.content
                    sent.answered_at = time.monotonic()
                    return sent
            except httpx.TransportError:
                pass  # that API process is gone: the same request, same key, to the other one
            if time.monotonic() > deadline:
                raise SoakFailed(f"{path}: no answer from any API process in 300 s")
            n += 1
            await asyncio.sleep(0.05)

    def _ack(self, sent: Sent) -> dict[str, Any] | None:
        if sent.status is None or not 200 <= sent.status < 300:
            return None
        body: dict[str, Any] = orjson.loads(sent.content)
        self.run.acked.append((body["id"], int(body["version"]), sent.answered_at))
        return body

    async def _walk(self, http: Any, n: int, procedure: str, desk: str, channel: str) -> None:
        created = self._ack(
            await self._send(
                http,
                "/api/v1/dossiers",
                desk,
                {
                    "procedure_code": procedure,
                    "channel": channel,
                    "receiving_agency_code": desk,
                    "applicant": {"name": f"Công dân {n}", "id_number": f"0792{n:08d}"},
                },
                n,
            )
        )
        if created is None:
            self.run.abandoned["receive refused"] += 1
            return
        route = [step["agency_code"] for step in created["route"]]
        decider = len(route) - 2 if len(route) > 1 else 0
        base = f"/api/v1/dossiers/{created['id']}"
        steps: list[tuple[str, str, dict[str, Any]]] = []
        for index, holder in enumerate(route):
            if index == decider:
                steps.append(("decision", holder, {"outcome": "approved", "decision_number": f"{n}/QĐ"}))
            if index == len(route) - 1:
                steps += [("result-ready", holder, {}), ("result-returned", holder, {})]
                break
            steps += [
                ("handoffs", holder, {"to_agency_code": route[index + 1]}),
                ("handoffs/accept", route[index + 1], {}),
            ]
        for path, agency, body in steps:
            if self._ack(await self._send(http, f"{base}/{path}", agency, body, n)) is None:
                self.run.abandoned[path] += 1
                return

    async def _drive(self, plans: list[tuple[str, str, str]]) -> None:
        import httpx

        gate = asyncio.Semaphore(self.clients)
        span = self.seconds

        async def one(http: Any, n: int, plan: tuple[str, str, str]) -> None:
            # Arrivals in the profile's order, spread evenly over the run (the period compressed).
            await asyncio.sleep(max(0.0, self.started + span * n / len(plans) - time.monotonic()))
            async with gate:
                await self._walk(http, n, *plan)

        limits = httpx.Limits(max_connections=self.clients * 2)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            await asyncio.gather(*(one(http, n, plan) for n, plan in enumerate(plans)))

    # -- faults --------------------------------------------------------------------------------
    def _partition_leader(self) -> tuple[int, int]:
        from aiokafka.admin import AIOKafkaAdminClient

        from gateways.kafka.topics import Topics, servers

        async def ask() -> tuple[int, int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=servers(self.kafka), request_timeout_ms=15000)
            await admin.start()
            try:
                (described,) = await admin.describe_topics([Topics.with_prefix(self.prefix).events])
                partition = self.rng.choice(described["partitions"])
                return int(partition["partition"]), int(partition["leader"])
            finally:
                await admin.close()

        return asyncio.run(ask())

    def _faults(self, stop: threading.Event) -> None:
        moments = sorted(self.rng.uniform(0.15, 0.75) * self.seconds for _ in range(3))
        kinds = ["broker", "projector", "api"]
        self.rng.shuffle(kinds)
        for at, kind in zip(moments, kinds, strict=True):
            if stop.wait(max(0.0, self.started + at - time.monotonic())):
                return
            when = time.monotonic() - self.started
            hit = time.monotonic()
            if kind == "broker":
                partition, leader = self._partition_leader()
                _cluster("kill", str(leader))
                fault = Fault("broker", when, f"node {leader}, leader of partition {partition}")
                self.run.faults.append(fault)
                stop.wait(15)  # the cluster runs on two brokers a while (min.insync.replicas=2)
                _cluster("start", str(leader))
            elif kind == "projector":
                victim = self.rng.choice(self.streams)
                victim.kill()
                fault = Fault(
                    "projector", when, f"{victim.name} (projectors, inbound, relay active or standby)"
                )
                self.run.faults.append(fault)
                victim.start()
            else:
                victim = self.rng.choice(self.apis)
                victim.kill()
                fault = Fault("api", when, victim.name)
                self.run.faults.append(fault)
                victim.start()
                self._wait_http(victim)
            fault.healed_after_seconds = round(time.monotonic() - hit, 1)

    def _lag_sampler(self, stop: threading.Event) -> None:
        """Every half second: the newest acknowledged command, timed until the SLA view shows it."""
        container = bootstrap(self.settings)
        try:
            while not stop.wait(0.5):
                if not self.run.acked:
                    continue
                dossier_id, version, acked_at = self.run.acked[-1]
                while not stop.is_set():
                    rows = container.view_db.query(
                        "SELECT seq FROM projection_seqs WHERE view = ? AND dossier_id = ?",
                        (LAG_VIEW, dossier_id),
                    )
                    if rows and int(rows[0]["seq"]) >= version:
                        self.run.lags_ms.append((time.monotonic() - acked_at) * 1000)
                        break
                    time.sleep(0.005)
        finally:
            container.close()

    # -- the run -------------------------------------------------------------------------------
    def execute(self, say: Any) -> BenchResult:
        self.work.mkdir(parents=True, exist_ok=True)
        say(f"soak: PostgreSQL {self.store_url.rsplit('@', 1)[-1]}, Kafka cluster {self.kafka}")
        plans = self.setup()
        say(f"soak: {len(plans)} dossiers of the province profile over {self.seconds / 60:.1f} min")
        self.apis = [self._api(n) for n in range(2)]
        self.streams = [self._stream(n) for n in range(2)]
        try:
            for process in [*self.streams, *self.apis]:
                process.start()
            for api in self.apis:
                self._wait_http(api)
            stop = threading.Event()
            self.started = time.monotonic()
            threads = [
                threading.Thread(target=self._faults, args=(stop,), daemon=True),
                threading.Thread(target=self._lag_sampler, args=(stop,), daemon=True),
            ]
            for thread in threads:
                thread.start()
            asyncio.run(self._drive(plans))
            drove = time.monotonic() - self.started
            threads[0].join()  # every fault has happened and healed
            stop.set()
            threads[1].join(60)
            say(f"soak: load done in {drove:.0f}s; faults: {[f.what for f in self.run.faults]}")
            checks = self._check(say)
        finally:
            for process in [*self.apis, *self.streams]:
                process.stop()
        for url in self.databases_to_drop:
            _drop_database(self.admin_url, url)
        return self._result(drove, checks)

    def _check(self, say: Any) -> dict[str, Any]:
        from gateways.kafka.relay import Relay
        from gateways.kafka.topics import Topics, end_offsets

        container = bootstrap(self.settings)
        topics = Topics.with_prefix(self.prefix)
        try:
            acked: dict[str, int] = {}
            keys = set()
            for sent in self.run.sent:
                if sent.status is not None and 200 <= sent.status < 300:
                    keys.add(sent.key)
                    body = orjson.loads(sent.content)
                    acked[body["id"]] = max(acked.get(body["id"], 0), int(body["version"]))
            missing = [d for d, v in acked.items() if container.store.version(d) != v]
            if missing:
                raise SoakFailed(f"{len(missing)} dossiers lack acknowledged commands: {missing[:5]}")
            head = container.store.max_notification_id()
            stored = len(container.store.notifications(0, head + 10))
            if stored != len(keys) or stored != sum(acked.values()):
                raise SoakFailed(f"{stored} events stored for {len(keys)} acknowledged commands")
            say(f"soak: every acknowledged command is in the store ({len(keys)} commands)")
            relay = Relay(container.store, container.db, self.kafka, topics)
            deadline = time.monotonic() + 600
            while relay.position() < head:
                if time.monotonic() > deadline:
                    raise SoakFailed(f"the relay stopped at {relay.position()} of {head}")
                time.sleep(0.2)
            published = self._topic_check(container, topics, head)
            ends = asyncio.run(end_offsets(self.kafka, topics.events))
            self._views_caught_up(container, topics, ends)
            self._views_equal_rebuild(container, head)
            say("soak: the topic has every event once; the views equal a rebuild")
            self.databases_to_drop.append(self.store_url)
        finally:
            container.close()
        verify = subprocess.run(
            [sys.executable, "-m", "gateways.cli", "audit", "verify"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if verify.returncode != 0:
            raise SoakFailed(f"audit verify failed: {verify.stdout[-2000:]}{verify.stderr[-2000:]}")
        say("soak: audit verify is green")
        return {"commands_acknowledged": len(keys), "events": head, "records_on_topic": published}

    def _topic_check(self, container: Container, topics: Any, head: int) -> int:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from gateways.kafka.relay import notification_id_of
        from gateways.kafka.topics import end_offsets, servers

        async def read() -> list[int]:
            ends = await end_offsets(self.kafka, topics.events)
            consumer = AIOKafkaConsumer(bootstrap_servers=servers(self.kafka), enable_auto_commit=False)
            await consumer.start()
            try:
                tps = [TopicPartition(topics.events, p) for p in ends]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                ids: list[int] = []
                remaining = {tp for tp in tps if ends[tp.partition]}
                while remaining:
                    got = await consumer.getmany(*remaining, timeout_ms=1000, max_records=50_000)
                    for tp, batch in got.items():
                        ids += [
                            notification_id_of(r.headers) or 0 for r in batch if r.offset < ends[tp.partition]
                        ]
                    for tp in list(remaining):
                        if await consumer.position(tp) >= ends[tp.partition]:
                            remaining.discard(tp)
                return ids
            finally:
                await consumer.stop()

        ids = asyncio.run(read())
        counts = Counter(ids)
        stored = {r.notification_id for r in container.store.notifications(0, head + 10)}
        gaps = stored - set(counts)
        duplicates = [n for n, c in counts.items() if c > 1]
        if gaps or duplicates or set(counts) - stored:
            raise SoakFailed(f"topic: {len(gaps)} missing, {len(duplicates)} duplicated notification ids")
        return len(ids)

    def _views_caught_up(self, container: Container, topics: Any, ends: dict[int, int]) -> None:
        from gateways.kafka.projector import KAFKA_FEED

        deadline = time.monotonic() + 600
        while True:
            behind = []
            for runner in container.runners:
                stored = runner.positions(KAFKA_FEED)
                at = {
                    int(k.rsplit(":", 1)[1]): v
                    for k, v in stored.items()
                    if k.startswith(topics.events + ":")
                }
                if any(at.get(p, 0) < end for p, end in ends.items()):
                    behind.append(runner.name)
            if not behind:
                return
            if time.monotonic() > deadline:
                raise SoakFailed(f"views behind the topic after 600 s: {behind}")
            time.sleep(0.2)

    def _views_equal_rebuild(self, container: Container, head: int) -> None:
        import re

        views_url = _new_database(self.admin_url)
        self.databases_to_drop.append(views_url)
        rebuilt = bootstrap(
            Settings(
                data_dir=self.work / "rebuild",
                event_store_url=self.store_url,
                view_store_url=views_url,
                jwt_secret=self.secret,
            )
        )
        try:
            rebuilt.feed.rebuild()
            for runner in container.runners:
                for statement in runner.view.schema:
                    match = re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement, re.IGNORECASE)
                    if not match or match.group(1) == "projection_positions":
                        continue
                    table = match.group(1)
                    live = sorted(
                        repr(sorted(r.items())) for r in container.view_db.query(f"SELECT * FROM {table}")
                    )
                    again = sorted(
                        repr(sorted(r.items())) for r in rebuilt.view_db.query(f"SELECT * FROM {table}")
                    )
                    if live != again:
                        raise SoakFailed(f"view {runner.name}: table {table} differs from a rebuild")
            seqs = "SELECT view, dossier_id, seq FROM projection_seqs"
            if sorted(map(repr, container.view_db.query(seqs))) != sorted(
                map(repr, rebuilt.view_db.query(seqs))
            ):
                raise SoakFailed("projection_seqs differ from a rebuild")
        finally:
            rebuilt.close()

    def _result(self, drove: float, checks: dict[str, Any]) -> BenchResult:
        lags = sorted(self.run.lags_ms)
        answered = [s for s in self.run.sent if s.status is not None and 200 <= s.status < 300]
        return BenchResult(
            name="soak",
            value=round(len(answered) / drove, 1),
            unit="commands/s",
            baseline=None,
            target_ratio=None,
            params={
                "profile": "province",
                "dossiers": self.dossiers,
                "minutes": round(self.seconds / 60, 2),
                "clients": self.clients,
                "seed": self.seed,
                "api_processes": 2,
                "stream_processes": 2,
                "brokers": 3,
                "replication_factor": 3,
                "min_insync_replicas": 2,
            },
            extra={
                **checks,
                "seconds": round(drove, 1),
                "events_per_second": round(checks["events"] / drove, 1),
                "lag_p50_ms": round(percentile(lags, 50), 1),
                "lag_p99_ms": round(percentile(lags, 99), 1),
                "lag_samples": len(lags),
                "retried_requests": sum(1 for s in self.run.sent if s.attempts > 1),
                "abandoned_walks": dict(self.run.abandoned),
                "faults_survived": [f.__dict__ for f in self.run.faults],
                "checks": [
                    "every acknowledged command in the store",
                    "topic: every stored event exactly once",
                    "views equal a rebuild",
                    "audit verify",
                ],
            },
        )
