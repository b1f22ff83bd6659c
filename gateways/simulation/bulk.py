"""Bulk history for benchmarks and crash tests: the demo walker's dossiers, decided by the
domain in memory and appended one whole stream per call (no HTTP, no per-command
round trip). The events are exactly what the service would have recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain import commands as cmd
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.errors import DomainError
from domain.events import DossierEvent
from gateways.eventstore.store import GENESIS_HASH
from gateways.seed.demo import Walker, _arrival, load_catalogue
from gateways.service import DossierService, Loaded

if TYPE_CHECKING:
    from gateways.bootstrap import Container


class _BufferedService(DossierService):
    """Decides in memory; `flush` appends each new dossier's whole stream at once."""

    def __init__(self, base: DossierService) -> None:
        super().__init__(base.store, base.catalogue, base.calendar, base.vault, base.clock)
        self.pending: dict[str, tuple[Dossier, list[DossierEvent]]] = {}

    def load(self, dossier_id: str) -> Loaded:
        if dossier_id in self.pending:
            return Loaded(self.pending[dossier_id][0], [])
        return super().load(dossier_id)

    def _append(
        self, dossier_id: str, loaded: Loaded, command: cmd.Command, metadata: dict[str, str] | None = None
    ) -> tuple[Dossier, list]:  # type: ignore[type-arg]
        events = decide(loaded.state, command, self.calendar)
        state = loaded.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        _, earlier = self.pending.get(dossier_id, (state, []))
        self.pending[dossier_id] = (state, [*earlier, *events])
        return state, []

    def flush(self) -> int:
        written = 0
        recorded_at = self.now()
        for dossier_id, (_state, events) in self.pending.items():
            self.store.append(dossier_id, 0, GENESIS_HASH, events, recorded_at)
            written += len(events)
        self.pending.clear()
        return written


@dataclass
class BulkResult:
    dossiers: int = 0
    events: int = 0


def bulk_seed(
    container: Container,
    dossiers: int,
    seed: int = 7,
    now: datetime | None = None,
    days: int = 396,
    flush_every: int = 200,
) -> BulkResult:
    """Write `dossiers` walked dossiers (catalogue loaded if missing); views are not fed."""
    if container.catalogue.is_empty():
        load_catalogue(container.catalogue)
    service = _BufferedService(container.service)
    now = now or service.now()
    rng = random.Random(seed)
    codes = [p.code for p in container.catalogue.procedures() if p.code.endswith("-2025")]
    walker = Walker(service, rng, now)
    result = BulkResult()
    start = now - timedelta(days=days)
    for _ in range(dossiers):
        arrival = _arrival(rng, service.calendar, start, now)
        if arrival > now:
            continue
        try:
            walker.walk(rng.choice(codes), arrival)
        except DomainError:
            continue
        result.dossiers += 1
        if len(service.pending) >= flush_every:
            result.events += service.flush()
    result.events += service.flush()
    return result
