"""Agencies and levels as of a report's range (catalogue versions, the 2025 reorganisation)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from domain.agencies import Hierarchy
from projections.sla.periods import _ONE_DAY


def boundary_days(hierarchy: Hierarchy, codes: Collection[str], first: date, last: date) -> list[date]:
    """Days in `(first, last]` on which a version of one of `codes` starts or ends."""
    days: set[date] = set()
    for code in codes:
        for version in hierarchy.history(code):
            if version.valid_from is not None and first < version.valid_from <= last:
                days.add(version.valid_from)
            if version.valid_to is not None and first < version.valid_to + _ONE_DAY <= last:
                days.add(version.valid_to + _ONE_DAY)
    return sorted(days)


def agencies_during(
    hierarchy: Hierarchy, root: str, first: date, last: date, include_children: bool
) -> frozenset[str]:
    """`root`, and with `include_children` every agency below it on some day of `[first, last]`
    and the ended agencies it (or one below it) is the default heir of (their history rolls up
    under it: DOMAIN.md, succession)."""
    if not include_children:
        return frozenset({root})
    candidates = hierarchy.subtree_ever(root)
    found: set[str] = {root}
    for day in [first, *boundary_days(hierarchy, hierarchy.codes(), first, last)]:
        found |= {code for code in candidates if hierarchy.is_within(code, root, day)}
    return frozenset(found | hierarchy.predecessors_of_any(found, default_heir_only=True))


def level_on(hierarchy: Hierarchy, code: str, day: date) -> str:
    level = hierarchy.level_on(code, day)
    return level.value if level is not None else "unknown"


def level_during(hierarchy: Hierarchy, code: str, first: date, last: date) -> str:
    """The level an agency had in `[first, last]`: its last version in force there.

    One level per agency per report keeps each level's row consistent (carried over +
    received = resolved + closed + in process); levels change at reforms, at period edges.
    """
    history = hierarchy.history(code)
    in_force = [
        v for v in history if (v.valid_from or date.min) <= last and (v.valid_to or date.max) >= first
    ]
    version = in_force[-1] if in_force else (history[-1] if history else None)
    return version.level.value if version is not None else "unknown"
