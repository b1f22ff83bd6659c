"""Read an XES log in a child process while the importer decides and writes what it has read.

`ChildXesLog` behaves as `XesLog` (`name`, `attributes`, `problems`, `traces()`), but the
parse runs in a forked child, which hands the traces over a pipe a batch at a time: on two
cores the reading overlaps the deciding and writing. This process runs the check pass
(`check_well_formed`) while the child starts parsing, and reads nothing from the child before the
whole file passed, so a file that is not an XES log still writes nothing (its `NotXes` is
raised by the first `traces()` step, and the child is stopped). The pipe holds at most what
it buffers beyond the batch being sent: memory stays bounded.

A batch crosses the pipe as `marshal` bytes of plain values (each trace's and event's typed
attributes are JSON-like dicts and lists), not as pickled `XesTrace` objects: this process
rebuilds the traces from them in about a third of the time unpickling takes, and this
process, not the child, is the one with no time to spare. Each message is one `marshal`
record sent as raw bytes (`send_bytes`), not a pickled tuple wrapping them: no copy of the
batch by pickle on either side. Where the system allows it (Linux)
the pipe holds up to 1 MiB, two batches of a log like receipt.xes: the child writes a batch
and goes on parsing the next without waiting for this process to be scheduled and drain it
64 KiB at a time, and this process finds a whole batch waiting.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gateways.interchange.xes import XesEvent, XesLog, XesTrace, check_well_formed

# A trace as it crosses the pipe: its attributes, its events' (attributes, position), its position.
Plain = tuple[dict[str, Any], list[tuple[dict[str, Any], int]], int]


PIPE_BYTES = 1 << 20  # the pipe's capacity asked for (Linux's default ceiling for a user)


def _widen(end: Connection) -> None:
    """The pipe made to hold PIPE_BYTES where the system can (else it stays as it is)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:  # pragma: no cover - not Linux
        return
    with contextlib.suppress(OSError):  # above the system's limit: the default size
        fcntl.fcntl(end.fileno(), set_size, PIPE_BYTES)


def can_fork() -> bool:
    """A child process can read beside the importer: fork exists and there is a second core."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def _send(out: Connection, kind: str, first: Any, second: Any) -> None:
    """One message: `(kind, first, second)` as `marshal` bytes."""
    out.send_bytes(marshal.dumps((kind, first, second)))


def _read(path: Path, batch: int, out: Connection) -> None:
    """The child: send the log's traces `batch` at a time, then the end."""
    try:
        log = XesLog(path)
        chunk: list[Plain] = []
        for trace in log.traces():
            chunk.append((trace.typed, [(e.typed, e.position) for e in trace.events], trace.position))
            if len(chunk) == batch:
                _send(out, "traces", log.attributes, chunk)
                chunk = []
        _send(out, "traces", log.attributes, chunk)
        _send(out, "end", log.attributes, dict(log.problems))
    except Exception as exc:  # the parent raises it; an exception is not a plain value
        _send(out, "error", f"{type(exc).__name__}: {exc}", None)
    finally:
        out.close()


@dataclass
class ChildXesLog(XesLog):
    """An XES log read by a child process, `batch` traces at a time (see the module docstring)."""

    batch: int = 200

    def traces(self) -> Iterator[XesTrace]:
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        _widen(send)
        child = context.Process(target=_read, args=(self.path, self.batch, send), daemon=True)
        child.start()
        send.close()  # the child's end: the parent sees EOF if the child dies
        try:
            # Meanwhile the child parses: nothing is read from it before the file passed.
            check_well_formed(self.path)
            while True:
                try:
                    kind, first, second = marshal.loads(receive.recv_bytes())
                except EOFError:
                    raise RuntimeError(f"the process reading {self.path.name} ended unexpectedly") from None
                if kind == "error":
                    raise RuntimeError(f"reading {self.path.name} failed: {first}")
                self.attributes.update(first)
                if kind == "end":
                    self.problems.update(second)
                    return
                yield from _traces(second)
        finally:
            receive.close()
            if child.is_alive():
                child.kill()
            child.join()


def _traces(plain: list[Plain]) -> Iterator[XesTrace]:
    for typed, events, position in plain:
        yield XesTrace(typed, [XesEvent(attributes, index) for attributes, index in events], position)
