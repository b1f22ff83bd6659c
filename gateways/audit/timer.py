"""A background thread that signs checkpoints while the server runs, so the window
of events covered by their chains alone stays short even when traffic stops."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from gateways.audit.checkpointer import Checkpointer

log = logging.getLogger("lienthong.audit")


class CheckpointTimer:
    def __init__(
        self, checkpointer: Checkpointer, clock: Callable[[], datetime], poll_seconds: float = 5.0
    ) -> None:
        self._checkpointer = checkpointer
        self._clock = clock
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self._checkpointer.maybe_checkpoint(self._clock())
            except Exception:
                # A database that is away for a moment must not end the thread; the next poll retries.
                log.exception("audit checkpoint attempt failed")
