"""The app served for real over HTTP: uvicorn on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn's server, which stops as soon as `stop` is called. uvicorn's own loop looks at
    `should_exit` every 0.1 s: every served test waited for that tick at its end."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._told = asyncio.Event()

    async def main_loop(self) -> None:
        # uvicorn's loop (a tick every 0.1 s, the date header renewed every tenth), except
        # that a tick comes at once when `stop` is called.
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._told.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None:  # else the next tick sees should_exit
            self._loop.call_soon_threadsafe(self._told.set)


@contextmanager
def serve(app: FastAPI, startup_seconds: float = 20, log_level: str = "warning") -> Iterator[str]:
    """Yields the base address once uvicorn answers; stops it afterwards."""
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)


def stream_chunked(base: str, head: str, first: bytes, offered: int, chunk: bytes) -> tuple[bytes, int]:
    """Send a request (`head`: request line and headers, without Transfer-Encoding) with a
    chunked body — `first`, then `chunk` again and again up to `offered` bytes — over a raw
    socket, stopping as soon as the server answers. Returns the answer's first bytes and how
    many body bytes went out."""
    parts = urlsplit(base)
    sent = 0
    answer = b""
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=60) as sock:
        opening = (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
        if first:
            opening += b"%x\r\n" % len(first) + first + b"\r\n"
        sock.sendall(opening)
        while sent < offered:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answer = sock.recv(65536)
                break
            try:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        if not answer:
            sock.settimeout(60)
            answer = sock.recv(65536)
    return answer, sent
