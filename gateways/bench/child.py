"""Processes a benchmark starts beside itself, on the run's own settings (a JSON file):

- `serve`: the HTTP API (uvicorn, loopback), so clients measure it from another process;
- `stream`: the relay and the view projectors (`lienthong stream` without inbound);
- `projectors`: the view projector alone (`lienthong stream --no-relay --no-inbound`);
- `rebuild-rss`: rebuild every view and report the peak resident memory of doing so.

`python -m gateways.bench.child MODE SETTINGS_JSON [PORT]`. The parent stops `serve` and
`stream` with SIGTERM and waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from gateways.bootstrap import bootstrap
from gateways.settings import Settings


def write_settings(settings: Settings, path: Path) -> Path:
    path.write_text(settings.model_dump_json(), encoding="utf-8")
    return path


def read_settings(path: Path) -> Settings:
    # Arguments win over LIENTHONG_* variables: the child runs on exactly the parent's settings.
    return Settings(**orjson.loads(path.read_bytes()))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: Settings, port: int) -> None:
    import uvicorn

    from gateways.http.app import create_app
    from gateways.http.heap import settle

    container = bootstrap(settings)
    try:
        app = create_app(container)
        settle()  # as `lienthong serve` does
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        container.close()


def _stream(settings: Settings, with_relay: bool = True) -> None:
    from gateways.kafka.app import build_stream, run_stream

    container = bootstrap(settings)
    side = build_stream(container, with_inbound=False, with_relay=with_relay)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_stream(side, stop, event_partitions=settings.kafka_event_partitions)

    try:
        asyncio.run(main())
    finally:
        container.close()


def _peak_rss_bytes() -> int:
    """This process's own peak resident memory: Linux's `VmHWM`. Not `ru_maxrss`, which Linux
    carries over an exec from the parent that forked it (a child of a 300 MiB parent reports at
    least 300 MiB however little it uses)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: KiB as well


def _rss_bytes() -> int:
    """Resident memory right now (Linux: the second field of /proc/self/statm, in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def _rebuild_rss(settings: Settings) -> None:
    container = bootstrap(settings)
    try:
        before = _rss_bytes()
        started = time.perf_counter()
        results = container.feed.rebuild()
        seconds = time.perf_counter() - started
        report = {
            "rss_before": before,
            "peak_rss": _peak_rss_bytes(),
            "events": max((r.events for r in results), default=0),
            "seconds": seconds,
        }
    finally:
        container.close()
    sys.stdout.write(orjson.dumps(report).decode() + "\n")


def spawn(mode: str, settings_file: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateways.bench.child", mode, str(settings_file), *args],
        stdout=subprocess.PIPE if mode == "rebuild-rss" else subprocess.DEVNULL,
        start_new_session=True,
    )


@contextlib.contextmanager
def running(mode: str, settings_file: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A child for the length of the block; stopped (SIGTERM, then SIGKILL) however it ends."""
    child = spawn(mode, settings_file, *args)
    try:
        yield child
    finally:
        stop(child)


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s; nothing if it has already ended."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()


def wait_for_http(base: str, child: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the API process exited with {child.returncode} before answering")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the API at {base} did not answer within {timeout:.0f}s")


def main(argv: list[str]) -> None:
    mode, settings_file = argv[0], Path(argv[1])
    settings = read_settings(settings_file)
    if mode == "serve":
        _serve(settings, int(argv[2]))
    elif mode == "stream":
        _stream(settings)
    elif mode == "projectors":
        _stream(settings, with_relay=False)
    elif mode == "rebuild-rss":
        _rebuild_rss(settings)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
