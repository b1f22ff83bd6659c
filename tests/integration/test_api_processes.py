"""Several API processes on one PostgreSQL event store, each with its own group-commit writer.

- Two `lienthong run` processes, the same dossier, the same command at the same version
  (If-Match) sent to both at once: one wins (200), the other gets 409, and the stream holds
  exactly one new event. Then a command the domain allows once (accepting a handoff), sent to
  both without If-Match: again one 200, one 409, one event.
- `lienthong run --workers 2`: two processes answer on one port; kill -9 of the extra worker
  leaves the port answering; SIGTERM to the parent stops the extra worker too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateways.bootstrap import bootstrap
from gateways.seed.demo import load_catalogue
from tests.integration.test_write_path import (
    DEPT,
    LIENTHONG,
    PROCEDURE,
    WARD,
    Server,
    _settings,
    _token,
)
from tests.serving import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

ROUNDS = 12


@pytest.fixture
def store_url(tmp_path: Path, pg_database: Callable[..., str]) -> str:
    url = pg_database()
    setup = bootstrap(_settings(tmp_path, url))
    load_catalogue(setup.catalogue)
    setup.close()
    return url


def _post(
    http: httpx.Client, path: str, token: str, body: dict[str, Any], if_match: int | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"'
    return http.post(path, json=body, headers=headers)


async def _both(
    bases: list[str], path: str, token: str, bodies: list[dict[str, Any]], if_match: int | None
) -> list[httpx.Response]:
    """The same command to every server at once (one connection each, sent together)."""
    headers = {"Authorization": f"Bearer {token}"}
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"'
    clients = [httpx.AsyncClient(base_url=b, timeout=60) for b in bases]
    try:
        for client in clients:  # connect first, so the two requests leave together
            await client.get("/healthz")
        return list(
            await asyncio.gather(
                *(c.post(path, json=body, headers=headers) for c, body in zip(clients, bodies, strict=True))
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def test_two_api_processes_same_dossier_concurrent_commands_one_wins_one_409(
    store_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, store_url)
    servers = [Server(settings, tmp_path / f"api-{n}.log") for n in range(2)]
    try:
        for server in servers:
            server.start()
        bases = [s.base for s in servers]
        ward, dept = _token("officer", WARD, "desk@ward"), _token("officer", DEPT, "clerk@dept")
        dossiers: list[str] = []
        with httpx.Client(timeout=60) as http:
            for n in range(ROUNDS):
                created = _post(
                    http,
                    bases[n % 2] + "/api/v1/dossiers",
                    ward,
                    {
                        "procedure_code": PROCEDURE,
                        "channel": "direct",
                        "applicant": {"name": f"Công dân {n}", "id_number": f"07920000{n:04d}"},
                    },
                )
                assert created.status_code == 201, created.text
                dossier_id = orjson.loads(created.content)["id"]
                dossiers.append(dossier_id)
                # Both processes read the dossier (it is in each one's state cache).
                for base in bases:
                    assert (
                        http.get(
                            f"{base}/api/v1/dossiers/{dossier_id}",
                            headers={"Authorization": f"Bearer {ward}"},
                        ).status_code
                        == 200
                    )
        for dossier_id in dossiers:
            answers = asyncio.run(
                _both(
                    bases,
                    f"/api/v1/dossiers/{dossier_id}/handoffs",
                    ward,
                    [{"to_agency_code": DEPT, "note": f"từ tiến trình {n}"} for n in range(2)],
                    if_match=1,
                )
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 409], [(a.status_code, a.text[:300]) for a in answers]
            loser = next(a for a in answers if a.status_code == 409)
            assert loser.headers["content-type"].startswith("application/problem+json")
            # Accepting the handoff is allowed once, whatever version the process believes.
            answers = asyncio.run(
                _both(bases, f"/api/v1/dossiers/{dossier_id}/handoffs/accept", dept, [{}, {}], if_match=None)
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 409], [(a.status_code, a.text[:300]) for a in answers]
    finally:
        for server in servers:
            server.stop()
    container = bootstrap(settings)
    try:
        for dossier_id in dossiers:
            events = [r.type for r in container.store.notifications(0, 10_000) if r.dossier_id == dossier_id]
            assert container.store.version(dossier_id) == 3 == len(events), events
    finally:
        container.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _listens(pid: int, port: int) -> bool:
    """Process `pid` holds a socket listening on 127.0.0.1:`port` (from /proc, no tools)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inodes.add(f"socket:[{fields[9]}]")
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _worker_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> int:
    """The pid of `run --workers 2`'s extra worker, once it and the parent both listen on `port`."""
    deadline = time.monotonic() + 120
    while not (_listens(proc.pid, port) and [c for c in _children(proc.pid) if _listens(c, port)]):
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, "run --workers 2: two processes did not listen in 120 s"
        time.sleep(0.2)
    (worker,) = [c for c in _children(proc.pid) if _listens(c, port)]
    return worker


def test_run_with_two_workers_serves_one_port_from_two_processes(store_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, store_url)
    env = Server(settings, tmp_path / "unused.log").env
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "workers.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(LIENTHONG),
                "run",
                "--no-seed",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        worker = _worker_listening(proc, port, log)
        assert httpx.get(base + "/readyz", timeout=10).status_code == 200
        os.kill(worker, signal.SIGKILL)
        for _ in range(50):  # a new connection each time: the kernel no longer offers the dead one
            assert httpx.get(base + "/readyz", timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def test_sigterm_to_run_with_two_workers_stops_the_extra_worker_too(store_url: str, tmp_path: Path) -> None:
    """A service manager stops `run --workers 2` with SIGTERM to the process it started: the
    extra worker it spawned stops with it, and nothing is left listening on the port."""
    settings = _settings(tmp_path, store_url)
    env = Server(settings, tmp_path / "unused.log").env
    port = free_port()
    log = tmp_path / "workers.log"
    args = ["run", "--no-seed", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-stream"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(LIENTHONG), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        worker = _worker_listening(proc, port, log)
        os.kill(proc.pid, signal.SIGTERM)  # the parent only, as a service manager does
        proc.wait(60)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{worker}").exists() and "Z" not in _state(worker):
            assert time.monotonic() < deadline, f"worker {worker} still runs after its parent was stopped"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait(60)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
