"""One active relay per event store: a PostgreSQL session-level advisory lock.

Every relay process (each `lienthong run` with Kafka, each `lienthong stream`) asks for
the lock; the one that holds it publishes, the others wait as standbys and ask again every
`poll` seconds. PostgreSQL releases a session's advisory locks when its connection ends,
so a relay killed with -9 (or whose machine vanished, once the server notices the dead
connection) frees the lock and a standby takes over from the topic's heads (see relay.py).

The holder checks its lock connection before each position save and while idle: if that
connection is gone, it stops publishing. Events a fenced-off relay still had in flight are
duplicates on the topic, never gaps; consumers deduplicate by (dossier_id, seq).

On SQLite (one machine) the same rule is an exclusive `flock` on a file beside the database,
released by the kernel when the holder's process ends: `lienthong run --workers N` on SQLite
still has one active relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import zlib
from typing import Any

log = logging.getLogger("lienthong.relay")

# Two-int advisory lock: (class "ltRL", crc32 of the relay's name and topic).
LOCK_CLASS = 0x6C74_524C


def lock_key(name: str, topic: str) -> tuple[int, int]:
    objid = zlib.crc32(f"{name}\0{topic}".encode()) - 2**31  # into int4's range
    return LOCK_CLASS, objid


class LeadershipLost(Exception):
    """The lock connection ended: another relay may be the leader now."""


class Leadership:
    def __init__(self, url: str, is_postgres: bool, key: tuple[int, int], poll: float = 1.0) -> None:
        self.url = url
        self.is_postgres = is_postgres
        self.key = key
        self.poll = poll
        self._conn: Any = None
        self._file: int | None = None
        self.held = False

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this process holds the lock (True) or `stop` is set (False)."""
        announced = False
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self.try_acquire):
                    log.info("relay: this process is the active relay")
                    return True
                if not announced:
                    log.info("relay: another process holds the relay lock; standing by")
                    announced = True
            except Exception as exc:  # the database may be away; a standby just retries
                log.warning("relay: could not ask for the relay lock (%s)", exc)
                await asyncio.to_thread(self._close)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)
        return False

    def try_acquire(self) -> bool:
        """Take the lock if it is free (True), without waiting."""
        self.held = self._try_file() if not self.is_postgres else self._try()
        return self.held

    def _try(self) -> bool:
        import psycopg

        if self._conn is None or self._conn.closed:
            # Keepalives: a vanished holder's connection is noticed in ~30 s, not hours.
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
                application_name="lienthong-relay",
            )
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key).fetchone()
        return bool(row and row[0])

    def _try_file(self) -> bool:
        path = self.url.removeprefix("sqlite:///")
        if path == ":memory:":
            return True  # a store no other process can open
        if self._file is None:
            self._file = os.open(
                f"{path}.relay-{self.key[1] & 0xFFFFFFFF:08x}.lock", os.O_RDWR | os.O_CREAT, 0o600
            )
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def check(self) -> None:
        """Raise LeadershipLost unless the lock connection is alive (so the lock is held)."""
        if not self.is_postgres:
            return
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid::bigint = %s AND objid::bigint = %s AND granted",
                (self.key[0] & 0xFFFFFFFF, self.key[1] & 0xFFFFFFFF),
            ).fetchone()
        except Exception as exc:
            self.held = False
            raise LeadershipLost(str(exc)) from exc
        if not row or not row[0]:
            self.held = False
            raise LeadershipLost("the relay lock is no longer held by this session")

    def release(self) -> None:
        self.held = False
        self._close()

    def _close(self) -> None:
        if self._file is not None:
            os.close(self._file)  # releases the flock
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
