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
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gateways.auth import issue_token
from gateways.bench.api import percentile
from gateways.bench.child import free_port
from gateways.bench.report import BenchResult
from gateways.bootstrap import bootstrap
from gateways.settings import Settings
from gateways.soak.checks import topic_check, views_caught_up, views_equal_rebuild
from gateways.soak.parts import (
    LAG_VIEW,
    Fault,
    Process,
    Run,
    Sent,
    SoakFailed,
    cluster,
    drop_database,
    new_database,
)


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
        self.store_url = new_database(admin_url)
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
                cluster("kill", str(leader))
                fault = Fault("broker", when, f"node {leader}, leader of partition {partition}")
                self.run.faults.append(fault)
                stop.wait(15)  # the cluster runs on two brokers a while (min.insync.replicas=2)
                cluster("start", str(leader))
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
            drop_database(self.admin_url, url)
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
            published = topic_check(self.kafka, container, topics, head)
            ends = asyncio.run(end_offsets(self.kafka, topics.events))
            views_caught_up(container, topics, ends)
            views_equal_rebuild(
                container, self.admin_url, self.store_url, self.work, self.secret, self.databases_to_drop
            )
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
