"""Reports straight from facts: the definition the stores' bucket sums must agree with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime, tzinfo

from domain.agencies import Hierarchy
from projections.sla.facts import RECEIVED, DossierFacts
from projections.sla.form import Bieu06, Sums, bieu06
from projections.sla.hierarchy import level_on
from projections.sla.periods import Window
from projections.sla.tallies import Tally, tallies


def sums_between(
    items: Iterable[Tally],
    start: datetime | None,
    end: datetime,
    *,
    scope: str,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> Sums:
    counts: Counter[str] = Counter()
    for t in items:
        if t.scope != scope or (t.imported and not include_imported):
            continue
        if agencies is not None and t.agency_code not in agencies:
            continue
        if (start is None or start <= t.at) and t.at < end:
            counts[t.column] += 1
    return Sums.of(counts)


def bieu06_of(
    facts: Iterable[DossierFacts],
    w: Window,
    *,
    scope: str = RECEIVED,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> Bieu06:
    items = [t for f in facts for t in tallies(f)]

    def between(start: datetime | None, end: datetime) -> Sums:
        return sums_between(
            items, start, end, scope=scope, agencies=agencies, include_imported=include_imported
        )

    return bieu06(between(None, w.start), between(w.start, w.end))


def late_attributed_of(
    facts: Iterable[DossierFacts],
    w: Window,
    hierarchy: Hierarchy,
    tz: tzinfo,
    *,
    group_by: str,
    agencies: Collection[str] | None = None,
    include_imported: bool = False,
) -> dict[str, int]:
    """Steps that went over budget in the window, charged to the agency holding each step,
    to that agency's level on the day it went over, or to the dossier's procedure."""
    counts: Counter[str] = Counter()
    for f in facts:
        if f.imported and not include_imported:
            continue
        for step in f.steps:
            at = step.overrun_at
            if at is None or not step.on_route or not w.contains(at):
                continue
            if agencies is not None and step.agency_code not in agencies:
                continue
            if group_by == "agency":
                counts[step.agency_code] += 1
            elif group_by == "level":
                counts[level_on(hierarchy, step.agency_code, at.astimezone(tz).date())] += 1
            else:
                counts[f.procedure_code] += 1
    return dict(counts)
