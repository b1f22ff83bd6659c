"""The write path under load and across crashes, against `lienthong run` in its own process.

- 64 clients for 30 s on SQLite and on PostgreSQL: no 5xx, and every acknowledged command's
  event is in the store.
- kill -9 of the server at random moments under load, round after round: every acknowledged
  command is in the store, nothing is recorded twice, every retried request (same
  Idempotency-Key, same body) returns its first response byte for byte, the hash chains
  verify and the views equal a rebuild.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from tests.serving import free_port

pytestmark = pytest.mark.integration

SECRET = "test-secret-of-at-least-thirty-two-bytes"
LIENTHONG = Path(sys.executable).with_name("lienthong")
# DD.01-2025 of the demo catalogue routes ward 000.21.99.H29 -> department 000.00.21.H29 -> ward.
PROCEDURE, WARD, DEPT = "DD.01-2025", "000.21.99.H29", "000.00.21.H29"


def _token(role: str, agency: str, sub: str) -> str:
    return issue_token(
        SECRET, role=role, sub=sub, agency_code=agency, now=datetime.now(UTC), ttl=timedelta(hours=2)
    )


def _settings(tmp: Path, url: str) -> Settings:
    return Settings(data_dir=tmp / "var", event_store_url=url, jwt_secret=SECRET)


class Server:
    """`lienthong run --no-seed` on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        self.env.update(
            {
                "LIENTHONG_DATA_DIR": str(settings.data_dir),
                "LIENTHONG_EVENT_STORE_URL": settings.resolved_event_store_url,
                "LIENTHONG_JWT_SECRET": SECRET,
                "LIENTHONG_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> Server:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(LIENTHONG), "run", "--no-seed", "--host", "127.0.0.1", "--port", str(port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, f"the server exited: {self.log.read_text()[-2000:]}"
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz in 120 s"
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for server in made:
        server.kill()


@dataclass
class Sent:
    """One command as a client sent it, and what it got back first."""

    path: str
    body: dict[str, Any]
    token: str
    key: str
    status: int | None = None  # None: no answer (the server died)
    content: bytes = b""


@dataclass
class Traffic:
    sent: list[Sent] = field(default_factory=list)

    @property
    def answered(self) -> list[Sent]:
        return [s for s in self.sent if s.status is not None]


def _walk(n: int, client_no: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(path relative to the dossier, who acts, body) of a ward -> department -> ward walk."""
    return [
        ("handoffs", "ward", {"to_agency_code": DEPT, "note": "chuyển Sở"}),
        ("handoffs/accept", "dept", {}),
        ("decision", "dept", {"outcome": "approved", "decision_number": f"{client_no}-{n}/QĐ"}),
        ("handoffs", "dept", {"to_agency_code": WARD}),
        ("handoffs/accept", "ward", {}),
        ("result-ready", "ward", {}),
        ("result-returned", "ward", {}),
    ]


async def _client(
    base: str, traffic: Traffic, client_no: int, deadline: float, tag: str, stop: asyncio.Event
) -> None:
    tokens = {
        "ward": _token("officer", WARD, f"desk-{client_no}@ward"),
        "dept": _token("officer", DEPT, f"clerk-{client_no}@dept"),
    }
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:

        async def send(path: str, who: str, body: dict[str, Any]) -> Sent | None:
            sent = Sent(path, body, tokens[who], f"{tag}-{client_no}-{len(traffic.sent)}")
            traffic.sent.append(sent)
            try:
                response = await http.post(
                    path,
                    json=body,
                    headers={"Authorization": f"Bearer {sent.token}", "Idempotency-Key": sent.key},
                )
            except httpx.TransportError:
                stop.set()  # the server is gone: this client stops; its request is unknown
                return None
            sent.status, sent.content = response.status_code, response.content
            return sent

        n = 0
        while time.monotonic() < deadline and not stop.is_set():
            n += 1
            created = await send(
                "/api/v1/dossiers",
                "ward",
                {
                    "procedure_code": PROCEDURE,
                    "channel": "direct",
                    "applicant": {
                        "name": f"Công dân {client_no}-{n}",
                        "id_number": f"0792{client_no:04d}{n:04d}",
                    },
                },
            )
            if created is None or created.status != 201:
                return
            dossier_id = orjson.loads(created.content)["id"]
            for path, who, body in _walk(n, client_no):
                step = await send(f"/api/v1/dossiers/{dossier_id}/{path}", who, body)
                if step is None or step.status != 200 or stop.is_set():
                    return


async def _load(base: str, clients: int, seconds: float, tag: str, traffic: Traffic) -> asyncio.Event:
    stop = asyncio.Event()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client(base, traffic, c, deadline, tag, stop) for c in range(clients)))
    return stop


def _versions(traffic: Traffic) -> dict[str, int]:
    """The highest version each dossier reached in an answered 2xx response."""
    highest: dict[str, int] = {}
    for sent in traffic.answered:
        if sent.status is not None and 200 <= sent.status < 300:
            body = orjson.loads(sent.content)
            highest[body["id"]] = max(highest.get(body["id"], 0), int(body["version"]))
    return highest


def _view_snapshot(container: Container) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for runner in container.runners:
        for statement in runner.view.schema:
            words = statement.split()
            if words[:2] == ["CREATE", "TABLE"]:
                table = words[5] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2]
                rows = container.view_db.query(f"SELECT * FROM {table}")
                tables[table] = sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))
    tables["projection_seqs"] = container.view_db.query(
        "SELECT * FROM projection_seqs ORDER BY view, dossier_id"
    )
    return tables


def test_64_clients_for_30_seconds_get_no_5xx_and_every_acknowledged_command_is_stored(
    backend_url: str, tmp_path: Path, servers: list[Server]
) -> None:
    settings = _settings(tmp_path, backend_url)
    setup = bootstrap(settings)
    load_catalogue(setup.catalogue)
    setup.close()
    server = Server(settings, tmp_path / "server.log").start()
    servers.append(server)
    traffic = Traffic()
    asyncio.run(_load(server.base, 64, 30.0, "load", traffic))
    server.stop()
    statuses = [s.status for s in traffic.sent]
    assert None not in statuses, "the server stopped answering under load"
    errors = [(s.path, s.status, s.content[:300]) for s in traffic.sent if s.status and s.status >= 500]
    assert not errors, errors
    refused = [(s.path, s.status, s.content[:300]) for s in traffic.sent if s.status and s.status >= 300]
    assert not refused, refused
    assert len(traffic.sent) > 64 * 8, "every client walked at least one dossier"
    container = bootstrap(settings)
    try:
        for dossier_id, version in _versions(traffic).items():
            assert container.store.version(dossier_id) == version
        total = sum(_versions(traffic).values())
        assert container.store.max_notification_id() >= total
        assert len(container.store.notifications(0, total + 10)) == total == len(traffic.sent)
    finally:
        container.close()


def test_kill_9_under_load_loses_nothing_acknowledged_and_every_retry_gets_its_first_answer(
    backend_url: str, tmp_path: Path, servers: list[Server]
) -> None:
    settings = _settings(tmp_path, backend_url)
    setup = bootstrap(settings)
    load_catalogue(setup.catalogue)
    setup.close()
    rng = random.Random(20261204)
    everything = Traffic()
    rounds = 5
    for n in range(rounds):
        server = Server(settings, tmp_path / "server.log").start()
        servers.append(server)
        traffic = Traffic()

        async def round_under_load(
            srv: Server = server, traffic: Traffic = traffic, tag: str = f"r{n}"
        ) -> None:
            load = asyncio.create_task(_load(srv.base, 16, 60.0, tag, traffic))
            # Kill at a random moment once the round has answered some commands.
            target = rng.randint(20, 400)
            while len(traffic.answered) < target and not load.done():
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0, 0.2))
            srv.kill()
            await load

        asyncio.run(round_under_load())
        assert any(s.status is None for s in traffic.sent), "the kill interrupted requests in flight"
        everything.sent.extend(traffic.sent)
        # Restart; every request of the round is retried with its key and body.
        server = Server(settings, tmp_path / "server.log").start()
        servers.append(server)
        with httpx.Client(base_url=server.base, timeout=120) as http:
            for sent in traffic.sent:
                headers = {"Authorization": f"Bearer {sent.token}", "Idempotency-Key": sent.key}
                retried = http.post(sent.path, json=sent.body, headers=headers)
                if sent.status is None:
                    # Unknown outcome: the retry is its first answer (run now, or replayed).
                    assert retried.status_code < 500, retried.text
                    sent.status, sent.content = retried.status_code, retried.content
                    retried = http.post(sent.path, json=sent.body, headers=headers)
                assert (retried.status_code, retried.content) == (sent.status, sent.content), sent.path
                if sent.path == "/api/v1/dossiers" and sent.status == 201:
                    assert orjson.loads(retried.content)["lookup_secret"]  # returned again on replay
        server.kill()

    container = bootstrap(settings)
    try:
        versions = _versions(everything)
        for dossier_id, version in versions.items():
            assert container.store.version(dossier_id) == version, "an acknowledged command is missing"
        committed = {s.key for s in everything.sent if s.status is not None and 200 <= s.status < 300}
        # Each command appends one event: more events than commands would be a duplicate.
        assert len(container.store.notifications(0, 1_000_000)) == len(committed) == sum(versions.values())
        container.feed.catch_up()
        live = _view_snapshot(container)
        assert live["dossier_index"]
        container.feed.rebuild()
        assert _view_snapshot(container) == live
    finally:
        container.close()
    env = Server(settings, tmp_path / "verify.log").env
    verify = subprocess.run(
        [str(LIENTHONG), "audit", "verify"], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
