"""The SLA view's queries: Biểu 06, SLA by agency, level or procedure, and the at-risk list."""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from domain.agencies import Hierarchy
from domain.calendar import WorkingCalendar
from domain.dossier import working_hours_until
from domain.errors import InvalidValue
from gateways.catalogue import Catalogue
from gateways.sql import Database
from gateways.views.report_cache import ReportCache
from gateways.views.sla.schema import GROUPS, SCHEMA, VIEW, _at, _at_required, _us
from projections import sla
from projections.sla import COLUMNS, HANDLED, RECEIVED, Bieu06, Sums, Window

T = TypeVar("T")

# --- queries -------------------------------------------------------------------------------

# For the parts of a range that are not whole local days: the fact rows that give the same
# tallies as `projections.sla.tallies` — (table, agency column, instant column, tally column
# as an SQL expression, condition).
_EDGES: dict[str, list[tuple[str, str, str, str, str]]] = {
    RECEIVED: [
        ("sla_dossiers", "receiving_agency_code", "received_us", "'rcv_' || channel", ""),
        ("sla_dossiers", "receiving_agency_code", "resolved_us", "'res_' || timeliness", ""),
        ("sla_dossiers", "receiving_agency_code", "closed_us", "'closed'", ""),
        ("sla_spans", "agency_code", "start_us", "'ov_start'", "scope = 'received'"),
        ("sla_spans", "agency_code", "end_us", "'ov_end'", "scope = 'received'"),
    ],
    HANDLED: [
        ("sla_steps", "agency_code", "entered_us", "'rcv_' || channel", "on_route"),
        (
            "sla_steps",
            "agency_code",
            "left_us",
            "CASE WHEN closed_without_result THEN 'closed' ELSE 'res_' || timeliness END",
            "on_route",
        ),
        ("sla_steps", "agency_code", "overrun_us", "'overrun'", "on_route"),
        ("sla_spans", "agency_code", "start_us", "'ov_start'", "scope = 'handled'"),
        ("sla_spans", "agency_code", "end_us", "'ov_end'", "scope = 'handled'"),
    ],
}
_CONSTANT = re.compile(r"'\w+'")  # a tally column named outright (nothing to group by)
Part = tuple[datetime | None, datetime]  # [start, end); start None: since ever
# Bucket sums per procedure over every agency: one row per procedure and bucket, where
# `sla_by_procedure` has one per agency and procedure (~45,000 rows read for a 120-day report at
# the default benchmark size, against a few hundred).
_PROCEDURES = "sla_procedure_totals"
_AGENCY_SETS = 256  # agency sets kept (by root, days, children), the least recently used dropped


@dataclass(frozen=True)
class Bieu06Report:
    agency_code: str
    include_children: bool
    scope: str
    window: Window  # as asked
    judged_at: datetime  # the window's end, or now if that is earlier
    agencies: tuple[str, ...]  # the desks (or step holders) counted
    form: Bieu06
    include_imported: bool = False  # imported legacy history counted too (left out by default)


@dataclass(frozen=True)
class SlaRow:
    group: str
    form: Bieu06
    late_attributed: int  # steps of this group that went over budget in the window


@dataclass(frozen=True)
class SlaReport:
    group_by: str
    scope: str
    window: Window
    judged_at: datetime
    rows: tuple[SlaRow, ...]
    include_imported: bool = False  # imported legacy history counted too (left out by default)


@dataclass(frozen=True)
class AtRisk:
    dossier_id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    holder_agency_code: str
    pending_handoff_to: str | None
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    paused: str | None  # waiting for the citizen: the clock is stopped
    remaining_working_hours: float  # negative: overdue by that much
    step_due_at: datetime | None
    step_remaining_working_hours: float | None

    @property
    def overdue(self) -> bool:
        return self.remaining_working_hours < 0


@dataclass(frozen=True)
class LateStep:
    """A step that went over its budget (delay attribution): whose, on which dossier, by how much."""

    dossier_id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    agency_code: str  # the agency charged: it held the dossier while its step overran
    level: str  # that agency's level on the day the step went over budget
    route_step: int | None
    entered_at: datetime
    step_due_at: datetime | None
    overrun_at: datetime  # the instant the step went over budget
    left_at: datetime | None  # None: still open at the report's end
    timeliness: str | None
    budget_working_hours: float
    used_working_hours: float  # up to the report's end while open

    @property
    def overrun_working_hours(self) -> float:
        return self.used_working_hours - self.budget_working_hours


@dataclass(frozen=True)
class LateSteps:
    window: Window
    judged_at: datetime
    agencies: tuple[str, ...] | None  # None: every agency
    total: int  # every step over budget in the window; `items` stops at the limit
    items: tuple[LateStep, ...]


class SlaReports:
    """Biểu 06, SLA by agency/level/procedure and the at-risk list, from the SLA view.

    Levels and subtrees come from the catalogue at query time (the view stores agency codes
    only), so a catalogue edit shows in the next report without a rebuild.
    """

    def __init__(
        self, db: Database, catalogue: Catalogue, calendar: WorkingCalendar, cache: ReportCache | None = None
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.calendar = calendar
        self.tz = calendar.tz
        self.cache = cache or ReportCache(db)
        self._agency_sets: OrderedDict[tuple[str, date, date, bool], tuple[Hierarchy, frozenset[str]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        db.executescript(SCHEMA)

    # -- ranges and agencies ----------------------------------------------------------------
    def _window(
        self, first: date | datetime, last: date | datetime, now: datetime | None
    ) -> tuple[Window, Window]:
        try:
            asked = sla.window(first, last, self.tz)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from exc
        if now is not None and asked.start > now:
            # Nothing of it has happened: judged at `now`, its form would carry today's open
            # dossiers over from a "previous period" that has not ended either.
            raise InvalidValue(
                f"the range starts on {asked.start.astimezone(self.tz).isoformat()}, after now "
                f"({now.astimezone(self.tz).isoformat()}): nothing of it can be reported yet"
            )
        return asked, (sla.capped(asked, now) if now is not None else asked)

    def agencies(self, root: str, w: Window, include_children: bool) -> frozenset[str]:
        """The desks counted for `root` over the window's days. Kept per hierarchy object (a
        catalogue edit makes a new one): for a province's subtree this was most of a Biểu 06
        judged now (about 4 ms of walking successions, at every request)."""
        hierarchy = self.catalogue.hierarchy
        if root not in hierarchy:
            raise InvalidValue(f"unknown agency '{root}'")
        first, last = w.days(self.tz)
        key = (root, first, last, include_children)
        with self._lock:
            known = self._agency_sets.get(key)
            if known is not None and known[0] is hierarchy:
                self._agency_sets.move_to_end(key)
                return known[1]
        agencies = sla.agencies_during(hierarchy, root, first, last, include_children)
        with self._lock:
            self._agency_sets[key] = (hierarchy, agencies)
            self._agency_sets.move_to_end(key)
            while len(self._agency_sets) > _AGENCY_SETS:
                self._agency_sets.popitem(last=False)
        return agencies

    def _split(
        self, start: datetime | None, end: datetime
    ) -> tuple[tuple[date, date] | None, list[tuple[datetime, datetime]]]:
        """`[start, end)` as whole local days `[first, stop)` and the edges that are not."""
        tz = self.tz
        if start is not None and end <= start:
            return None, []
        edges: list[tuple[datetime, datetime]] = []
        if start is None:
            first = date.min
        else:
            first = start.astimezone(tz).date()
            if sla.midnight(first, tz) != start:
                head_end = min(sla.midnight(first + timedelta(days=1), tz), end)
                edges.append((start, head_end))
                first += timedelta(days=1)
                if head_end >= end:
                    return None, edges
        stop = end.astimezone(tz).date()
        if sla.midnight(stop, tz) != end:
            edges.append((sla.midnight(stop, tz), end))
        return ((first, stop) if first < stop else None), edges

    # -- sums -------------------------------------------------------------------------------
    def _sums(
        self,
        scope: str,
        agencies: Collection[str] | None,
        parts: Mapping[str, Part],
        group: str | None,
        include_imported: bool,
    ) -> dict[tuple[str, str], Sums]:
        """Tally sums per (part, group) — group: None, 'agency_code' or 'procedure_code'."""
        ranges: dict[str, list[tuple[str, str, str]]] = {}
        edges: list[tuple[str, datetime, datetime]] = []
        for label, (start, end) in parts.items():
            days, part_edges = self._split(start, end)
            if days is not None:
                ranges[label] = sla.bucket_ranges(*days)
            edges.extend((label, a, b) for a, b in part_edges)
        sums: dict[tuple[str, str], Sums] = {}
        if ranges:
            # Whole local days are read from the buckets, and cached by view position: a report
            # judged now recounts only the part of today (and of a first day) that is not whole.
            key = (
                _bucket_table(agencies, group),
                scope,
                None if agencies is None else frozenset(agencies),
                tuple((label, tuple(r)) for label, r in sorted(ranges.items())),
                group,
                include_imported,
            )
            sums = dict(
                self.cache.answer(
                    VIEW,
                    key,
                    None,
                    lambda: _bucket_totals(
                        self._bucket_sums(scope, agencies, ranges, group, include_imported)
                    ),
                )
            )
        if edges:
            counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            for row in self._edge_counts(scope, agencies, edges, group, include_imported):
                counts[(row["part"], row["grp"] or "")][row["k"]] += int(row["n"])
            for part_group, c in counts.items():
                sums[part_group] = sums.get(part_group, Sums()) + Sums.of(c)
        return sums

    def _bucket_sums(
        self,
        scope: str,
        agencies: Collection[str] | None,
        ranges: Mapping[str, list[tuple[str, str, str]]],
        group: str | None,
        include_imported: bool,
    ) -> list[dict[str, Any]]:
        table = _bucket_table(agencies, group)
        grp = group or "''"
        subqueries: list[str] = []
        params: list[Any] = []
        for label, label_ranges in ranges.items():
            for grain, low, high in label_ranges:
                where = "scope = ? AND grain = ? AND bucket >= ? AND bucket <= ?"
                params += [scope, grain, low, high]
                if agencies is not None:
                    where += f" AND agency_code IN ({','.join('?' * len(agencies))})"
                    params += sorted(agencies)
                if not include_imported:
                    where += " AND imported = ?"
                    params.append(False)
                # `label` is one of this module's own part names, never user input.
                subqueries.append(
                    f"SELECT '{label}' AS part, {grp} AS grp, {', '.join(COLUMNS)} FROM {table} WHERE {where}"
                )
        sums = ", ".join(f"SUM({c}) AS {c}" for c in COLUMNS)
        sql = f"SELECT part, grp, {sums} FROM ({' UNION ALL '.join(subqueries)}) u GROUP BY part, grp"
        return self.db.query(sql, params)

    def _edge_counts(
        self,
        scope: str,
        agencies: Collection[str] | None,
        edges: Sequence[tuple[str, datetime, datetime]],
        group: str | None,
        include_imported: bool,
    ) -> list[dict[str, Any]]:
        """Tallies inside each `(label, start, end)` edge, counted from the fact rows (one query)."""
        selects: list[str] = []
        params: list[Any] = []
        for label, start, end in edges:
            for table, agency_column, at_column, column, condition in _EDGES[scope]:
                where = [f"{at_column} >= ?", f"{at_column} < ?"]
                params += [_us(start), _us(end)]
                if condition:
                    where.append(condition)
                if not include_imported:
                    where.append("imported = ?")
                    params.append(False)
                if agencies is not None:
                    where.append(f"{agency_column} IN ({','.join('?' * len(agencies))})")
                    params += sorted(agencies)
                grp = {"agency_code": agency_column, "procedure_code": "procedure_code"}.get(group or "")
                grouped = [e for e in (grp, column) if e is not None and not _CONSTANT.fullmatch(e)]
                selects.append(
                    f"SELECT '{label}' AS part, {grp or chr(39) * 2} AS grp, {column} AS k, COUNT(*) AS n "
                    f"FROM {table} WHERE {' AND '.join(where)}"
                    + (f" GROUP BY {', '.join(grouped)}" if grouped else "")
                )
        return [r for r in self.db.query(" UNION ALL ".join(selects), params) if r["k"]]

    # -- reports ----------------------------------------------------------------------------
    def _cached(self, judged_now: bool, query: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """The answer cached by (query, view position). A range judged now is judged at a new
        instant each time: computed afresh (its whole days come from the cached bucket sums)."""
        if judged_now:
            return compute()
        return self.cache.answer(VIEW, query, self.catalogue.hierarchy, compute)

    def bieu06(
        self,
        agency_code: str,
        first: date | datetime,
        last: date | datetime,
        *,
        include_children: bool = False,
        scope: str = RECEIVED,
        include_imported: bool = False,
        now: datetime | None = None,
    ) -> Bieu06Report:
        """Biểu 06 of the desk `agency_code` (and its children), judged at the end of `last`
        (or at `now`, when the range is not over yet). Cached by (query, view position)."""
        asked, judged = self._window(first, last, now)
        return self._cached(
            judged != asked,
            ("bieu06", agency_code, asked, include_children, scope, include_imported),
            lambda: self._bieu06(
                agency_code,
                first,
                last,
                include_children=include_children,
                scope=scope,
                include_imported=include_imported,
                now=now,
            ),
        )

    def _bieu06(
        self,
        agency_code: str,
        first: date | datetime,
        last: date | datetime,
        *,
        include_children: bool = False,
        scope: str = RECEIVED,
        include_imported: bool = False,
        now: datetime | None = None,
    ) -> Bieu06Report:
        if scope not in sla.SCOPES:
            raise InvalidValue(f"scope must be one of {', '.join(sla.SCOPES)}")
        asked, judged = self._window(first, last, now)
        agencies = self.agencies(agency_code, asked, include_children)
        sums = self._sums(
            scope,
            agencies,
            {"b": (None, judged.start), "d": (judged.start, judged.end)},
            None,
            include_imported,
        )
        form = sla.bieu06(sums.get(("b", ""), Sums()), sums.get(("d", ""), Sums()))
        return Bieu06Report(
            agency_code,
            include_children,
            scope,
            asked,
            judged.end,
            tuple(sorted(agencies)),
            form,
            include_imported,
        )

    def sla(
        self,
        group_by: str,
        first: date | datetime,
        last: date | datetime,
        *,
        agency_code: str | None = None,
        include_children: bool = True,
        scope: str = RECEIVED,
        include_imported: bool = False,
        now: datetime | None = None,
    ) -> SlaReport:
        """Biểu 06 counts per agency, level or procedure, plus the steps charged to each.
        Cached by (query, view position)."""
        asked, judged = self._window(first, last, now)
        return self._cached(
            judged != asked,
            ("sla", group_by, agency_code, asked, include_children, scope, include_imported),
            lambda: self._sla(
                group_by,
                first,
                last,
                agency_code=agency_code,
                include_children=include_children,
                scope=scope,
                include_imported=include_imported,
                now=now,
            ),
        )

    def _sla(
        self,
        group_by: str,
        first: date | datetime,
        last: date | datetime,
        *,
        agency_code: str | None = None,
        include_children: bool = True,
        scope: str = RECEIVED,
        include_imported: bool = False,
        now: datetime | None = None,
    ) -> SlaReport:
        if group_by not in GROUPS:
            raise InvalidValue(f"group_by must be one of {', '.join(GROUPS)}")
        if scope not in sla.SCOPES:
            raise InvalidValue(f"scope must be one of {', '.join(sla.SCOPES)}")
        asked, judged = self._window(first, last, now)
        agencies = self.agencies(agency_code, asked, include_children) if agency_code else None
        column = "procedure_code" if group_by == "procedure" else "agency_code"
        sums = self._sums(
            scope,
            agencies,
            {"b": (None, judged.start), "d": (judged.start, judged.end)},
            column,
            include_imported,
        )
        hierarchy = self.catalogue.hierarchy
        first_day, last_day = asked.days(self.tz)
        forms: dict[str, Bieu06] = {}
        none, zero = Sums(), Bieu06()
        for grp in sorted({g for _, g in sums}):
            form = sla.bieu06(sums.get(("b", grp), none), sums.get(("d", grp), none))
            key = sla.level_during(hierarchy, grp, first_day, last_day) if group_by == "level" else grp
            known = forms.get(key)  # a group is added up only where groups share a level
            forms[key] = form if known is None else known + form
        late = self._late(agencies, judged, asked, group_by, include_imported)
        rows = tuple(
            SlaRow(key, forms.get(key, zero), late.get(key, 0))
            for key in sorted(set(forms) | set(late))
            if forms.get(key, zero) != zero or late.get(key, 0)
        )
        return SlaReport(group_by, scope, asked, judged.end, rows, include_imported)

    def _late(
        self,
        agencies: Collection[str] | None,
        judged: Window,
        asked: Window,
        group_by: str,
        include_imported: bool,
    ) -> dict[str, int]:
        """Steps over budget in the window, by the step's agency, its level then, or procedure."""
        if group_by != "level":
            column = "procedure_code" if group_by == "procedure" else "agency_code"
            sums = self._sums(HANDLED, agencies, {"d": (judged.start, judged.end)}, column, include_imported)
            return {grp: s.overrun for (_, grp), s in sums.items() if s.overrun}
        # Levels can change inside the window (a reform): cut it where any version starts or
        # ends, so each piece has one level per agency — the one it had when its step overran.
        hierarchy = self.catalogue.hierarchy
        first, last = asked.days(self.tz)
        cuts = [
            sla.midnight(day, self.tz) for day in sla.boundary_days(hierarchy, hierarchy.codes(), first, last)
        ]
        edges = [judged.start, *(c for c in cuts if judged.start < c < judged.end), judged.end]
        parts = {f"p{i}": (a, b) for i, (a, b) in enumerate(itertools.pairwise(edges)) if a < b}
        sums = self._sums(HANDLED, agencies, parts, "agency_code", include_imported)
        counts: Counter[str] = Counter()
        for (label, agency), s in sums.items():
            day = parts[label][0]
            assert day is not None
            counts[sla.level_on(hierarchy, agency, day.astimezone(self.tz).date())] += s.overrun
        return {level: n for level, n in counts.items() if n}

    def late_steps(
        self,
        agency_code: str | None,
        first: date | datetime,
        last: date | datetime,
        *,
        include_children: bool = True,
        include_imported: bool = False,
        now: datetime | None = None,
        limit: int = 200,
    ) -> LateSteps:
        """The steps behind `late_attributed`: on-route steps of the agency (and, with children,
        its subtree) that went over budget in the range, in the order they did. Not cached:
        a list, read straight from the step rows like the at-risk list."""
        asked, judged = self._window(first, last, now)
        agencies = self.agencies(agency_code, asked, include_children) if agency_code else None
        where = ["s.on_route", "s.overrun_us >= ?", "s.overrun_us < ?"]
        params: list[Any] = [_us(judged.start), _us(judged.end)]
        if not include_imported:
            where.append("s.imported = ?")
            params.append(False)
        if agencies is not None:
            where.append(f"s.agency_code IN ({','.join('?' * len(agencies))})")
            params += sorted(agencies)
        condition = " AND ".join(where)
        [counted] = self.db.query(f"SELECT COUNT(*) AS n FROM sla_steps s WHERE {condition}", params)
        rows = self.db.query(
            "SELECT s.*, d.receipt_code, d.receiving_agency_code FROM sla_steps s "
            f"JOIN sla_dossiers d ON d.dossier_id = s.dossier_id WHERE {condition} "
            "ORDER BY s.overrun_us, s.dossier_id, s.n LIMIT ?",
            [*params, limit],
        )
        hierarchy = self.catalogue.hierarchy
        items: list[LateStep] = []
        for row in rows:
            overrun = _at_required(row["overrun_us"])
            used = float(row["used_working_hours"])
            running = _at(row["running_since_us"])
            if row["left_us"] is None and running is not None and running < judged.end:
                used += self.calendar.working_hours_between(running, judged.end)
            items.append(
                LateStep(
                    dossier_id=row["dossier_id"],
                    receipt_code=row["receipt_code"],
                    procedure_code=row["procedure_code"],
                    receiving_agency_code=row["receiving_agency_code"],
                    agency_code=row["agency_code"],
                    level=sla.level_on(hierarchy, row["agency_code"], overrun.astimezone(self.tz).date()),
                    route_step=row["route_index"],
                    entered_at=_at_required(row["entered_us"]),
                    step_due_at=_at(row["due_us"]),
                    overrun_at=overrun,
                    left_at=_at(row["left_us"]),
                    timeliness=row["timeliness"],
                    budget_working_hours=float(row["budget_working_hours"] or 0.0),
                    used_working_hours=used,
                )
            )
        chosen = None if agencies is None else tuple(sorted(agencies))
        return LateSteps(asked, judged.end, chosen, int(counted["n"]), tuple(items))

    def at_risk(
        self,
        agency_code: str | None,
        within_hours: float,
        now: datetime,
        *,
        include_children: bool = True,
        include_imported: bool = False,
        limit: int = 200,
    ) -> list[AtRisk]:
        """Open dossiers (received or held by the agency and, with children, its subtree)
        with less than `within_hours` working hours left, overdue ones first."""
        if within_hours < 0:
            raise InvalidValue("within_hours must not be negative")
        agencies: frozenset[str] | None = None
        if agency_code is not None:
            today = now.astimezone(self.tz).date()
            agencies = self.agencies(agency_code, Window(sla.midnight(today, self.tz), now), include_children)
        # Due before this instant <=> fewer than `within_hours` working hours left now.
        threshold = _us(self.calendar.add_working_hours(now, within_hours))
        rows: dict[str, dict[str, Any]] = {}
        for column in ("receiving_agency_code", "holder_agency_code") if agencies is not None else (None,):
            for clock in ("paused IS NULL AND due_us < ?", "paused IS NOT NULL"):
                where = ["is_open = ?", clock]
                params: list[Any] = [True] + ([threshold] if "?" in clock else [])
                if not include_imported:
                    where.append("imported = ?")
                    params.append(False)
                if column is not None and agencies is not None:
                    where.append(f"{column} IN ({','.join('?' * len(agencies))})")
                    params += sorted(agencies)
                for row in self.db.query(f"SELECT * FROM sla_dossiers WHERE {' AND '.join(where)}", params):
                    rows[row["dossier_id"]] = row
        items = [
            item
            for row in rows.values()
            if (item := self._at_risk(row, now)).remaining_working_hours < within_hours
        ]
        items.sort(key=lambda i: (i.remaining_working_hours, i.receipt_code))
        return items[:limit]

    def _at_risk(self, row: dict[str, Any], now: datetime) -> AtRisk:
        due, step_due = _at(row["due_us"]), _at(row["step_due_us"])
        paused = row["paused"]
        if paused is not None:
            remaining = float(row["remaining_at_pause"] or 0.0)  # frozen while the citizen is awaited
        else:
            remaining = working_hours_until(self.calendar, now, due) if due is not None else 0.0
        step_remaining = (
            working_hours_until(self.calendar, now, step_due)
            if step_due is not None and paused is None
            else None
        )
        return AtRisk(
            dossier_id=row["dossier_id"],
            receipt_code=row["receipt_code"],
            procedure_code=row["procedure_code"],
            receiving_agency_code=row["receiving_agency_code"],
            holder_agency_code=row["holder_agency_code"],
            pending_handoff_to=row["pending_handoff_to"],
            received_at=_at(row["received_us"]),
            due_at=due,
            promised_at=_at(row["promised_us"]),
            paused=paused,
            remaining_working_hours=remaining,
            step_due_at=step_due,
            step_remaining_working_hours=step_remaining,
        )


def _bucket_table(agencies: Collection[str] | None, group: str | None) -> str:
    """The counter table whose buckets a sum reads."""
    if group == "procedure_code":
        return _PROCEDURES if agencies is None else "sla_by_procedure"
    return "sla_totals"


def _bucket_totals(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Sums]:
    """The bucket sums' rows as Sums per (part, group), made once per cached answer."""
    totals: dict[tuple[str, str], Sums] = {}
    for row in rows:
        key = (row["part"], row["grp"] or "")
        totals[key] = totals[key] + Sums.of(row) if key in totals else Sums.of(row)
    return totals
