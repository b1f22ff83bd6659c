"""More processes on one machine: `lienthong stream --processes N`, `lienthong run --workers N`.

Nothing is scheduled here: the parent starts N - 1 copies of `lienthong stream` beside
itself, and Kafka's consumer group shares the events topic's partitions among all of
them (and gives a dead process's partitions to the others). Only the parent runs the
relay: it is a single leader per event store.

API workers each bind their own socket to the same address with SO_REUSEPORT; the kernel
spreads new connections over the live ones, so a killed worker's clients reconnect to another.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence


def child_args(views: Sequence[str] | None, projectors: bool, inbound: bool) -> list[str]:
    """The `lienthong stream` options of a helper process: the parent's, without the relay."""
    args = ["stream", "--processes", "1", "--no-relay"]
    args += [f"--view={name}" for name in views or ()]
    args += [] if projectors else ["--no-projectors"]
    args += [] if inbound else ["--no-inbound"]
    return args


def api_child_args(host: str, port: int, stream: bool = True) -> list[str]:
    """The `lienthong run` options of an extra API worker: same address, never seeds."""
    args = ["run", "--no-seed", "--host", host, "--port", str(port), "--reuse-port"]
    return args if stream else [*args, "--no-stream"]


def shared_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other processes may bind as well (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock


def spawn(count: int, args: Sequence[str]) -> list[subprocess.Popen[bytes]]:
    """Start `count` helper processes running `lienthong <args>`, with this one's environment."""
    command = [sys.executable, "-m", "gateways.cli", *args]
    return [subprocess.Popen(command) for _ in range(count)]


def stop(children: Sequence[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    """Ask every helper to stop (SIGTERM), and kill the ones that do not within `timeout`."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
