"""The soak's parts: the processes it starts and kills, what it sent and saw, the cluster and
the databases it makes (and drops once every check passed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateways import sql

CLUSTER_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "cluster.sh"
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


def cluster(*args: str) -> str:
    if not CLUSTER_SH.exists():
        raise SoakFailed(f"{CLUSTER_SH.name} not found: run the soak from a checkout (make soak)")
    done = subprocess.run([str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SoakFailed(f"cluster.sh {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if not sql.drop_database(admin_url.rsplit("/", 1)[0] + "/" + name):
        raise SoakFailed(f"could not drop {name}: another role's session holds it")


def new_database(admin_url: str) -> str:
    import psycopg

    name = f"lt_soak_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name
