"""Bulk paths (the demo seed, XES import, bulk history): decide in memory, append in batches.

`BufferedService` is a `DossierService` whose commands are decided against the dossier's
state in memory — each dossier is folded once, not re-read per command — and buffered;
`flush` appends every buffered stream through the process's writer in ONE transaction
(with the new dossiers' data keys). Call `flush` between dossiers, e.g. every few hundred.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain import commands as cmd
from domain.decide import decide
from domain.dossier import Dossier, evolve, fold
from domain.errors import UnknownDossier
from domain.events import DossierEvent
from gateways.application.service import DossierService, check_dossier_id
from gateways.application.writer import BulkJob
from gateways.eventstore.recorders import Row
from gateways.eventstore.store import GENESIS_HASH, Encoded, StreamAppend, encode


@dataclass
class _Pending:
    state: Dossier | None
    version: int  # stored version the buffered events follow
    prev_hash: str
    events: list[DossierEvent] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    encoded: Encoded | None = None  # the events as stored (`seal`): no more may be added


class BufferedService(DossierService):
    def __init__(
        self, base: DossierService, recorded_at: Callable[[], datetime | None] | None = None
    ) -> None:
        super().__init__(
            base.store,
            base.catalogue,
            base.calendar,
            base.vault,
            base.clock,
            base.writer,
            base.supplement_window_working_hours,
        )
        self._pending: dict[str, _Pending] = {}
        self._recorded_at = recorded_at or self.now
        self._in_flight: Future[Any] | None = None
        self._flushing: set[str] = set()
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def buffered(self, dossier_id: str) -> bool:
        """Decided in this run and not yet recorded (buffered or being written)."""
        return dossier_id in self._pending or dossier_id in self._flushing

    def exists(self, dossier_id: str) -> bool:
        return self.buffered(dossier_id) or super().exists(dossier_id)

    def current(self, dossier_id: str) -> Dossier | None:
        """The dossier's state as decided so far (buffered, or stored); None if it has none."""
        if not self.exists(dossier_id):
            return None
        return self._head(dossier_id).state

    def _head(self, dossier_id: str) -> _Pending:
        pending = self._pending.get(dossier_id)
        if pending is None:
            if dossier_id in self._flushing:
                self.wait()  # its stored version is the one being written
            records = self.store.load(dossier_id)
            state = fold(r.to_domain() for r in records)
            pending = _Pending(state, len(records), records[-1].hash if records else GENESIS_HASH)
            self._pending[dossier_id] = pending
        return pending

    def _record(self, pending: _Pending, command: cmd.Command) -> Dossier:
        events = decide(pending.state, command, self.calendar)
        state = pending.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        pending.state = state
        pending.events.extend(events)
        return state

    def execute(
        self,
        dossier_id: str,
        build: Callable[[Dossier], cmd.Command],
        expected_version: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Dossier:
        check_dossier_id(dossier_id)
        pending = self._head(dossier_id)
        if pending.encoded is not None:
            raise ValueError(f"dossier {dossier_id} is sealed until the next flush")
        if pending.state is None:
            self._pending.pop(dossier_id, None)
            raise UnknownDossier(f"no dossier {dossier_id}")
        return self._record(pending, build(pending.state))

    def _append_new(
        self, dossier_id: str, command: cmd.Command, key_rows: list[Any], metadata: dict[str, str] | None
    ) -> Dossier:
        pending = _Pending(None, 0, GENESIS_HASH, rows=list(key_rows))
        state = self._record(pending, command)
        self._pending[dossier_id] = pending
        return state

    def add_new(self, dossier_id: str, state: Dossier, events: list[DossierEvent], rows: list[Row]) -> None:
        """A new dossier's stream decided elsewhere (a bulk import decides a whole trace at
        once) and the state it folds to, appended by the next flush like any other."""
        check_dossier_id(dossier_id)
        if self.buffered(dossier_id):
            raise ValueError(f"dossier {dossier_id} is already buffered")
        self._pending[dossier_id] = _Pending(state, 0, GENESIS_HASH, list(events), list(rows))

    def seal(self, dossier_id: str) -> None:
        """Encode the dossier's buffered events now, as the next flush stores them. Raises
        `OversizedEvent` for an event too large to store: the dossier's buffered events are
        then dropped (nothing of them is written). An importer seals each trace it decides, so
        a trace refused for its size is known before it is counted."""
        pending = self._pending.get(dossier_id)
        if pending is None or not pending.events or pending.encoded is not None:
            return
        append = StreamAppend(dossier_id, pending.version, pending.prev_hash, pending.events)
        try:
            # An importer's events are never changed once decided: their attributes need no copy.
            pending.encoded = encode(append, self._recorded_at(), copy=False)
        except BaseException:
            del self._pending[dossier_id]
            raise

    def flush(self) -> int:
        """Hand every buffered stream to the writer as one transaction and go on deciding
        while it is written; at most one flush is in flight (the previous one is awaited
        first, so memory stays bounded and an error surfaces here). Returns the events."""
        appends = [
            StreamAppend(dossier_id, p.version, p.prev_hash, p.events)
            for dossier_id, p in self._pending.items()
            if p.events and p.encoded is None
        ]
        sealed = [p.encoded for p in self._pending.values() if p.encoded is not None]
        rows: list[Any] = [row for p in self._pending.values() if p.events for row in p.rows]
        self._pending.clear()
        if not appends and not sealed:
            return 0
        self.wait()
        self._flushing = {a.dossier_id for a in appends} | {e.append.dossier_id for e in sealed}
        job = BulkJob(appends, self._recorded_at(), rows, encoded=sealed or None, answer=False)
        self._in_flight = self.writer.submit(job)
        written = sum(len(a.events) for a in appends) + sum(len(e.records) for e in sealed)
        self.written += written
        return written

    def wait(self) -> None:
        """Until the last flush is recorded (raises what it failed with)."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()
        self._flushing = set()
