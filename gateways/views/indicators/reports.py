"""The indicators view's queries: summed counters per desk or per level over whole local days."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from domain.calendar import WorkingCalendar
from domain.errors import InvalidValue
from gateways.catalogue import Catalogue
from gateways.sql import Database
from gateways.views.indicators.schema import SCHEMA, VIEW
from gateways.views.report_cache import ReportCache
from projections import indicators, sla
from projections.indicators import COLUMNS, Indicator

GROUPS = ("agency", "level")


@dataclass(frozen=True)
class IndicatorRow:
    group: str  # an agency code, or a level
    counts: dict[str, int]
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class IndicatorsReport:
    group_by: str
    first: date
    last: date  # inclusive
    agencies: frozenset[str] | None  # None: every agency
    rows: tuple[IndicatorRow, ...]
    total: IndicatorRow


def _row(group: str, counts: dict[str, int]) -> IndicatorRow:
    return IndicatorRow(group, counts, indicators.indicators(counts))


class IndicatorsReports:
    """Indicators per receiving desk or per level, for a range of whole local days.

    Levels come from the catalogue at query time: one level per agency per report, the last
    version in force in the range (as the SLA report's levels), so a reform inside the range
    does not split an agency's counts.
    """

    def __init__(
        self, db: Database, catalogue: Catalogue, calendar: WorkingCalendar, cache: ReportCache | None = None
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.tz = calendar.tz
        self.cache = cache or ReportCache(db)
        db.executescript(SCHEMA)

    def report(
        self,
        first: date | datetime,
        last: date | datetime,
        *,
        group_by: str = "agency",
        agency_code: str | None = None,
        include_children: bool = True,
        include_imported: bool = False,
    ) -> IndicatorsReport:
        if group_by not in GROUPS:
            raise InvalidValue(f"group_by must be one of {', '.join(GROUPS)}, not '{group_by}'")
        if isinstance(first, datetime) or isinstance(last, datetime):
            raise InvalidValue("indicators are counted per local day: give dates (2026-03-14) or a period")
        if last < first:
            raise InvalidValue("the range ends before it starts")
        hierarchy = self.catalogue.hierarchy
        agencies: frozenset[str] | None = None
        if agency_code is not None:
            if agency_code not in hierarchy:
                raise InvalidValue(f"unknown agency '{agency_code}'")
            agencies = sla.agencies_during(hierarchy, agency_code, first, last, include_children)
        key = (first, last, agencies, include_imported)
        sums = self.cache.answer(VIEW, key, None, lambda: self._sums(first, last, agencies, include_imported))
        groups: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
        total = dict.fromkeys(COLUMNS, 0)
        for agency, counts in sums.items():
            group = sla.level_during(hierarchy, agency, first, last) if group_by == "level" else agency
            for column, n in counts.items():
                groups[group][column] += n
                total[column] += n
        rows = tuple(_row(g, dict(c)) for g, c in sorted(groups.items()))
        return IndicatorsReport(group_by, first, last, agencies, rows, _row("total", total))

    def _sums(
        self, first: date, last: date, agencies: Collection[str] | None, include_imported: bool
    ) -> dict[str, dict[str, int]]:
        sql = (
            f"SELECT agency_code, {', '.join(f'SUM({c}) AS {c}' for c in COLUMNS)} FROM ind_totals "
            "WHERE day >= ? AND day <= ?"
        )
        params: list[object] = [first.isoformat(), last.isoformat()]
        if not include_imported:
            sql += " AND imported = ?"
            params.append(False)
        if agencies is not None:
            sql += f" AND agency_code IN ({', '.join('?' * len(agencies))})"
            params.extend(sorted(agencies))
        rows = self.db.query(sql + " GROUP BY agency_code", params)
        return {r["agency_code"]: {c: int(r[c] or 0) for c in COLUMNS} for r in rows}
