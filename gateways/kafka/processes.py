"""More projector processes on one machine: `lienthong stream --processes N`.

Nothing is scheduled here: the parent starts N - 1 copies of `lienthong stream` beside
itself, and Kafka's consumer group shares the events topic's partitions among all of
them (and gives a dead process's partitions to the others). Only the parent runs the
relay: it is a single leader per event store.
"""

from __future__ import annotations

import contextlib
import signal
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
