"""Bulk history for benchmarks and crash tests: the demo walker's dossiers, decided by the
domain in memory and appended through the writer a few hundred streams per transaction (no
HTTP, no per-command round trip). The events are exactly what the service would have recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain.errors import DomainError
from gateways.application.bulk import BufferedService
from gateways.seed.demo import Walker, _arrival, load_catalogue

if TYPE_CHECKING:
    from gateways.bootstrap import Container


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
    service = BufferedService(container.service)
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
        if service.pending >= flush_every:
            result.events += service.flush()
    result.events += service.flush()
    service.wait()
    return result
