"""Bulk paths (the demo seed, XES import, bulk history): decide in memory, append in batches.

`BufferedService` is a `DossierService` whose commands are decided against the dossier's
state in memory — each dossier is folded once, not re-read per command — and buffered;
`flush` appends every buffered stream through the process's writer in ONE transaction
(with the new dossiers' data keys). Call `flush` between dossiers, e.g. every few hundred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain import commands as cmd
from domain.decide import decide
from domain.dossier import Dossier, evolve, fold
from domain.errors import UnknownDossier
from domain.events import Actor, Channel, DossierEvent
from gateways.application.service import Created, DossierService, check_dossier_id
from gateways.eventstore.recorders import Row
from gateways.eventstore.store import GENESIS_HASH, StreamAppend


@dataclass
class _Pending:
    state: Dossier | None
    version: int  # stored version the buffered events follow
    prev_hash: str
    events: list[DossierEvent] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


class BufferedService(DossierService):
    def __init__(
        self, base: DossierService, recorded_at: Callable[[], datetime | None] | None = None
    ) -> None:
        super().__init__(base.store, base.catalogue, base.calendar, base.vault, base.clock, base.writer)
        self._pending: dict[str, _Pending] = {}
        self._recorded_at = recorded_at or self.now
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def exists(self, dossier_id: str) -> bool:
        return dossier_id in self._pending or super().exists(dossier_id)

    def _head(self, dossier_id: str) -> _Pending:
        pending = self._pending.get(dossier_id)
        if pending is None:
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
        if pending.state is None:
            self._pending.pop(dossier_id, None)
            raise UnknownDossier(f"no dossier {dossier_id}")
        return self._record(pending, build(pending.state))

    def create(
        self,
        *,
        dossier_id: str,
        procedure_code: str,
        channel: Channel,
        applicant: dict[str, object],
        receiving_agency_code: str | None,
        actor: Actor,
        occurred_at: datetime,
        submitted_only: bool = False,
        imported: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> Created:
        command, new_key, secret = self.receive_command(
            dossier_id=dossier_id,
            procedure_code=procedure_code,
            channel=channel,
            applicant=applicant,
            receiving_agency_code=receiving_agency_code,
            actor=actor,
            occurred_at=occurred_at,
            submitted_only=submitted_only,
            imported=imported,
        )
        pending = _Pending(None, 0, GENESIS_HASH, rows=list(new_key.rows))
        state = self._record(pending, command)
        self._pending[dossier_id] = pending
        return Created(state, secret)

    def flush(self) -> int:
        """Append every buffered stream in one transaction; returns the events written."""
        appends = [
            StreamAppend(dossier_id, p.version, p.prev_hash, p.events)
            for dossier_id, p in self._pending.items()
            if p.events
        ]
        rows: list[Any] = [row for p in self._pending.values() if p.events for row in p.rows]
        self._pending.clear()
        if not appends:
            return 0
        self.writer.write(appends, self._recorded_at(), rows)
        written = sum(len(a.events) for a in appends)
        self.written += written
        return written
