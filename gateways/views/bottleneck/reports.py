"""The bottleneck view's queries: per agency, edge and step, heat map, WIP series, drill-down."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from domain.calendar import WorkingCalendar
from gateways.catalogue import Catalogue
from gateways.sql import Database
from gateways.views.bottleneck.schema import _MS_PER_HOUR, _SUM_COLUMNS, SCHEMA, VIEW
from gateways.views.bottleneck.sums import _Sums
from gateways.views.report_cache import ReportCache
from projections import bottleneck as b

_HEAT_METRICS = ("dwell", "overdue_wip")


def _hours(ms: int | None) -> float | None:
    return None if ms is None else round(ms / _MS_PER_HOUR, 4)


def _mean_hours(total_ms: int, n: int) -> float | None:
    return round(total_ms / n / _MS_PER_HOUR, 4) if n > 0 else None


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {name: (round(v, 4) if v is not None else None) for name, v in values.items()}


def iso_week(number: int) -> str:
    year, week, _ = b.day_of(number).isocalendar()
    return f"{year}-W{week:02d}"


def _local(text: str | None, calendar: WorkingCalendar) -> str | None:
    return datetime.fromisoformat(text).astimezone(calendar.tz).isoformat() if text else None


class BottleneckReports:
    """Queries of the bottleneck view: per agency / edge / step, heat map, WIP series, drill-down."""

    def __init__(
        self, db: Database, catalogue: Catalogue, calendar: WorkingCalendar, cache: ReportCache | None = None
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.calendar = calendar
        self.cache = cache or ReportCache(db)
        db.executescript(SCHEMA)

    def _cached(self, query: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A cached answer (by query and view position); a copy, since callers add to it."""
        return dict(self.cache.answer(VIEW, query, self.catalogue.hierarchy, compute))

    # -- reading blocks -------------------------------------------------------------------------
    def _first_day(self) -> int | None:
        # Every edge or step fact comes with an agency fact on the same day.
        rows = self.db.query(
            "SELECT MIN(start) AS first FROM bottleneck_counts WHERE kind = 'agency' AND span = 1"
        )
        first = rows[0]["first"] if rows else None
        return int(first) if first is not None else None

    def _upto(self, last: int) -> list[tuple[int, int]]:
        """Blocks covering every day from the first with data to `last`."""
        first = self._first_day()
        if first is None or first > last:
            return []
        top = b.SPANS[-1]
        return b.cover(first - first % top, last)  # aligned, so big blocks are used at once

    def _blocks(
        self,
        blocks: Iterable[tuple[int, int]],
        columns: str,
        kinds: Sequence[str] = ("agency",),
        agency_code: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of the given blocks: one indexed term per (kind, span), OR-ed."""
        by_span: dict[int, list[int]] = {}
        for span, start in set(blocks):
            by_span.setdefault(span, []).append(start)
        terms: list[str] = []
        args: list[Any] = []
        subject = " AND agency_code = ?" if agency_code is not None else ""
        for kind in kinds:
            for span, starts in sorted(by_span.items()):
                terms.append(f"(kind = ?{subject} AND span = ? AND start IN ({','.join('?' * len(starts))}))")
                args += [kind, *([agency_code] if agency_code is not None else []), span, *sorted(starts)]
        if not terms:
            return []
        return self.db.query(f"SELECT {columns} FROM bottleneck_counts WHERE {' OR '.join(terms)}", args)

    def _names(self, codes: Iterable[str]) -> dict[str, str | None]:
        """Agencies' latest names (the catalogue is asked once per report)."""
        hierarchy = self.catalogue.hierarchy
        return {code: (a.name if (a := hierarchy.latest(code)) else None) for code in codes}

    # -- the bottleneck report ------------------------------------------------------------------
    def bottlenecks(
        self,
        first: date,
        last: date,
        agencies: set[str] | None = None,
        today: date | None = None,
        steps: bool = False,
    ) -> dict[str, Any]:
        scope = frozenset(agencies) if agencies is not None else None
        return self._cached(
            ("bottlenecks", first, last, scope, today, steps),
            lambda: self._bottlenecks(first, last, agencies, today, steps),
        )

    def _bottlenecks(
        self,
        first: date,
        last: date,
        agencies: set[str] | None = None,
        today: date | None = None,
        steps: bool = False,
    ) -> dict[str, Any]:
        """Per agency and per edge (and per route step if `steps`) over the local days [first, last].

        `agencies` limits the rows to those agencies (edges: either end). Levels (WIP, in
        transit, overdue) are at the end of `last`, or of `today` if that is earlier.
        """
        lo, hi = b.number_of(first), b.number_of(last)
        end = min(hi, b.number_of(today)) if today else hi
        subject = "kind, agency_code, other, route_step"
        kinds = ("agency", "edge", "step") if steps else ("agency", "edge")
        window: dict[tuple[str, str, str, int], _Sums] = {}
        for row in self._blocks(b.cover(lo, hi), f"{subject}, {', '.join(_SUM_COLUMNS)}, hist", kinds):
            key = (row["kind"], row["agency_code"], row["other"], row["route_step"])
            if self._within(agencies, key):
                window.setdefault(key, _Sums()).add_row(row)
        levels: dict[str, _Sums] = {}
        for row in self._blocks(self._upto(end), "agency_code, wip, in_transit, overdue"):
            if agencies is None or row["agency_code"] in agencies:
                levels.setdefault(row["agency_code"], _Sums()).add_row(row, b.LEVELS)
        codes = sorted(
            {k[1] for k in window if k[0] == "agency"} | {c for c, v in levels.items() if not v.is_zero()}
        )
        names = self._names(codes)
        body: dict[str, Any] = {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "levels_at": (b.day_of(end) + timedelta(days=1)).isoformat(),
            "quantile_relative_error": round(b.RELATIVE_ERROR, 4),
            "agencies": [
                self._agency_row(
                    code,
                    names[code],
                    window.get(("agency", code, "", -1), _Sums()),
                    levels.get(code, _Sums()),
                )
                for code in codes
            ],
            "edges": [self._edge_row(k[1], k[2], s) for k, s in sorted(window.items()) if k[0] == "edge"],
        }
        if steps:
            chosen = sorted((k for k in window if k[0] == "step"), key=lambda k: (k[2], k[3], k[1]))
            body["steps"] = [self._step_row(k[1], k[2], k[3], window[k]) for k in chosen]
        return body

    @staticmethod
    def _within(agencies: set[str] | None, key: tuple[str, str, str, int]) -> bool:
        kind, code, other, _step = key
        return agencies is None or code in agencies or (kind == "edge" and other in agencies)

    @staticmethod
    def _agency_row(code: str, name: str | None, window: _Sums, levels: _Sums) -> dict[str, Any]:
        stays = window.of("samples")
        return {
            "group": code,
            "agency_code": code,
            "agency_name": name,
            "wip": levels.of(b.WIP),
            "in_transit": levels.of(b.IN_TRANSIT),
            "overdue_wip": levels.of(b.OVERDUE),
            **{name: window.of(name) for name in (b.ARRIVALS, b.COMPLETIONS, b.RETURNS)},
            **{name: window.of(name) for name in (b.SUPPLEMENTS, b.CONSULTATIONS)},
            "stays": stays,
            "dwell_hours": _rounded(b.quantiles(window.hist())),
            "mean_dwell_hours": _mean_hours(window.of("working_ms"), stays),
            "mean_dwell_calendar_hours": _mean_hours(window.of("calendar_ms"), stays),
        }

    def _edge_row(self, giver: str, receiver: str, s: _Sums) -> dict[str, Any]:
        count = s.of("samples")
        return {
            "group": f"{giver}>{receiver}",
            "from_agency_code": giver,
            "to_agency_code": receiver,
            "count": count,
            "returns": s.of(b.RETURNS),
            "transit_hours": _rounded(b.quantiles(s.hist())),
            "mean_transit_hours": _mean_hours(s.of("working_ms"), count),
            "mean_transit_calendar_hours": _mean_hours(s.of("calendar_ms"), count),
        }

    def _step_row(self, code: str, procedure: str, step: int, s: _Sums) -> dict[str, Any]:
        return {
            "group": f"{procedure}#{step}",
            "procedure_code": procedure,
            "route_step": step,
            "agency_code": code,
            "stays": s.of("samples"),
            "dwell_hours": _rounded(b.quantiles(s.hist())),
            "mean_dwell_hours": _mean_hours(s.of("working_ms"), s.of("samples")),
        }

    # -- heat map ----------------------------------------------------------------------------
    def heatmap(
        self,
        metric: str,
        first: date,
        last: date,
        agencies: set[str] | None = None,
        today: date | None = None,
    ) -> dict[str, Any]:
        scope = frozenset(agencies) if agencies is not None else None
        return self._cached(
            ("heatmap", metric, first, last, scope, today),
            lambda: self._heatmap(metric, first, last, agencies, today),
        )

    def _heatmap(
        self,
        metric: str,
        first: date,
        last: date,
        agencies: set[str] | None = None,
        today: date | None = None,
    ) -> dict[str, Any]:
        """Agency x ISO week: the weeks that meet [first, last], whole, up to `today`'s week.

        dwell: p50 (and p90) working hours of the stays that ended that week;
        overdue_wip: held dossiers past their step's due instant at the end of the week
        (of `today` for the running week), with the week's WIP beside it.
        """
        if metric not in _HEAT_METRICS:
            raise ValueError(f"metric must be one of {', '.join(_HEAT_METRICS)}")
        lo, hi = b.week_start(b.number_of(first)), b.week_start(b.number_of(last))
        end = b.number_of(today) if today else hi + 6
        weeks = [w for w in range(lo, hi + 1, 7) if w <= end]
        cells: dict[str, dict[int, dict[str, Any]]] = {}
        if metric == "dwell" and weeks:
            for row in self.db.query(
                "SELECT agency_code, start, samples, p50_hours, p90_hours FROM bottleneck_counts "
                "WHERE kind = 'agency' AND span = 7 AND start >= ? AND start <= ?",
                (weeks[0], weeks[-1]),
            ):
                if row["samples"] and (agencies is None or row["agency_code"] in agencies):
                    cells.setdefault(row["agency_code"], {})[int(row["start"])] = {
                        "value": _round(row["p50_hours"]),
                        "p90": _round(row["p90_hours"]),
                        "count": int(row["samples"]),
                    }
        elif weeks:
            cells = self._overdue_cells(weeks, end, agencies)
        empty: dict[str, Any] = (
            {"value": None, "p90": None, "count": 0} if metric == "dwell" else {"value": 0, "wip": 0}
        )
        rows = []
        names = self._names(cells)
        # Each week's labels made once, not once per agency (a cold heat map spent a third of
        # its time on them).
        labels = [(w, iso_week(w), b.day_of(w).isoformat()) for w in weeks]
        for code in sorted(cells):
            mine = cells[code]
            row_cells = [
                {"week": week, "week_start": start, **(mine.get(w) or empty)} for w, week, start in labels
            ]
            rows.append({"group": code, "agency_name": names[code], "cells": row_cells})
        return {
            "metric": metric,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "weeks": [week for _, week, _ in labels],
            "rows": rows,
        }

    def _overdue_cells(
        self, weeks: list[int], end: int, agencies: set[str] | None
    ) -> dict[str, dict[int, dict[str, Any]]]:
        running = weeks[-1] + 6 > end  # the last week is still going: read it up to `end` by days
        levels: dict[str, list[int]] = {}  # agency -> [wip, overdue] so far
        columns = "agency_code, span, start, wip, overdue"

        def add(row: dict[str, Any]) -> None:
            if agencies is None or row["agency_code"] in agencies:
                level = levels.setdefault(row["agency_code"], [0, 0])
                level[0] += int(row["wip"])
                level[1] += int(row["overdue"])

        for row in self._blocks(self._upto(weeks[0] - 1), columns):
            add(row)
        full = weeks[:-1] if running else weeks
        by_week: dict[int, list[dict[str, Any]]] = {}
        for row in self._blocks([(7, w) for w in full], columns):
            by_week.setdefault(int(row["start"]), []).append(row)
        if running:
            for row in self._blocks([(1, d) for d in range(weeks[-1], end + 1)], columns):
                by_week.setdefault(weeks[-1], []).append(row)
        cells: dict[str, dict[int, dict[str, Any]]] = {}
        for w in weeks:
            for row in by_week.get(w, []):
                add(row)
            for code, (wip, overdue) in levels.items():
                if wip or overdue:
                    cells.setdefault(code, {})[w] = {"value": overdue, "wip": wip}
        return cells

    # -- WIP series ------------------------------------------------------------------------------
    def wip(
        self, agency_code: str, first: date, last: date, bucket: str = "day", today: date | None = None
    ) -> dict[str, Any]:
        return self._cached(
            ("wip", agency_code, first, last, bucket, today),
            lambda: self._wip(agency_code, first, last, bucket, today),
        )

    def _wip(
        self, agency_code: str, first: date, last: date, bucket: str = "day", today: date | None = None
    ) -> dict[str, Any]:
        """Per day or ISO week: WIP, in transit and overdue at the end of it; arrivals and completions."""
        if bucket not in ("day", "week"):
            raise ValueError("bucket must be day or week")
        lo, hi = b.number_of(first), b.number_of(last)
        if today is not None:
            hi = min(hi, b.number_of(today))
        level = [0, 0, 0]
        columns = "span, start, arrivals, completions, wip, in_transit, overdue"
        for row in self._blocks(self._upto(lo - 1), columns, agency_code=agency_code):
            level = _add_levels(level, row)
        days = {
            int(row["start"]): row
            for row in self.db.query(
                f"SELECT {columns} FROM bottleneck_counts WHERE kind = 'agency' AND agency_code = ? "
                "AND span = 1 AND start >= ? AND start <= ?",
                (agency_code, lo, hi),
            )
        }
        points: list[dict[str, Any]] = []
        for d in range(lo, hi + 1):
            day_row = days.get(d)
            arrivals = int(day_row["arrivals"]) if day_row else 0
            completions = int(day_row["completions"]) if day_row else 0
            if day_row:
                level = _add_levels(level, day_row)
            label = b.day_of(d).isoformat() if bucket == "day" else iso_week(d)
            if points and points[-1]["period"] == label:
                point = points[-1]
                point["arrivals"] += arrivals
                point["completions"] += completions
            else:
                point = {
                    "period": label,
                    "start": b.day_of(d).isoformat(),
                    "arrivals": arrivals,
                    "completions": completions,
                }
                points.append(point)
            point.update(wip=level[0], in_transit=level[1], overdue_wip=level[2])
        return {
            "agency_code": agency_code,
            "agency_name": self._names([agency_code])[agency_code],
            "bucket": bucket,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "items": points,
        }

    # -- drill-down --------------------------------------------------------------------------------
    def stays(
        self,
        agency_code: str,
        first: date | None,
        last: date | None,
        now: datetime,
        held: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Stays at an agency: finished in [first, last], slowest first; or held now, oldest first."""
        columns = (
            "dossier_id, stay_no, agency_code, procedure_code, route_step, receipt_code, entered_at, "
            "left_at, working_ms, calendar_ms, running_since"
        )
        if held:
            sql = f"SELECT {columns} FROM bottleneck_stays WHERE agency_code = ? AND left_day IS NULL"
            params: list[Any] = [agency_code]
            order, keys = "entered_at, dossier_id, stay_no", ("entered_at", "dossier_id", "stay_no")
        else:
            assert first is not None and last is not None
            sql = (
                f"SELECT {columns} FROM bottleneck_stays "
                "WHERE agency_code = ? AND left_day >= ? AND left_day <= ?"
            )
            params = [agency_code, b.number_of(first), b.number_of(last)]
            order, keys = "working_ms DESC, dossier_id, stay_no", ("working_ms", "dossier_id", "stay_no")
        rows = self._page(sql, params, order, keys, held, limit, cursor)
        items = []
        for r in rows[:limit]:
            working, calendar = int(r["working_ms"]), int(r["calendar_ms"])
            since = r["running_since"]
            if since:  # still running: add the open segment up to now
                start = datetime.fromisoformat(since)
                working += round(self.calendar.working_hours_between(start, now) * _MS_PER_HOUR)
                calendar += max(0, (now - start) // timedelta(milliseconds=1))
            items.append(
                {
                    "dossier_id": r["dossier_id"],
                    "receipt_code": r["receipt_code"],
                    "procedure_code": r["procedure_code"],
                    "route_step": r["route_step"],
                    "agency_code": r["agency_code"],
                    "entered_at": _local(r["entered_at"], self.calendar),
                    "left_at": _local(r["left_at"], self.calendar),
                    "dwell_hours": _hours(working),
                    "dwell_calendar_hours": _hours(calendar),
                }
            )
        return {"items": items, "next_cursor": self._cursor(rows, keys, limit)}

    def transits(
        self,
        giver: str,
        receiver: str,
        first: date | None,
        last: date | None,
        now: datetime,
        pending: bool = False,
        returned_only: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Handoffs over an edge: ended in [first, last], slowest first; or in transit now, oldest first."""
        columns = (
            "dossier_id, handoff_seq, from_agency_code, to_agency_code, receipt_code, handed_at, off_route, "
            "ended_at, outcome, working_ms, calendar_ms"
        )
        base = f"SELECT {columns} FROM bottleneck_transits WHERE from_agency_code = ? AND to_agency_code = ?"
        params: list[Any] = [giver, receiver]
        if pending:
            sql = base + " AND end_day IS NULL"
            order, keys = "handed_at, dossier_id, handoff_seq", ("handed_at", "dossier_id", "handoff_seq")
        else:
            assert first is not None and last is not None
            sql = (
                base
                + " AND end_day >= ? AND end_day <= ? AND outcome "
                + ("= 'returned'" if returned_only else "IN ('accepted', 'returned')")
            )
            params += [b.number_of(first), b.number_of(last)]
            order, keys = (
                "working_ms DESC, dossier_id, handoff_seq",
                ("working_ms", "dossier_id", "handoff_seq"),
            )
        rows = self._page(sql, params, order, keys, pending, limit, cursor)
        items = []
        for r in rows[:limit]:
            handed = datetime.fromisoformat(r["handed_at"])
            working, calendar = r["working_ms"], r["calendar_ms"]
            if r["ended_at"] is None:  # still in transit: so far
                working = round(self.calendar.working_hours_between(handed, now) * _MS_PER_HOUR)
                calendar = max(0, (now - handed) // timedelta(milliseconds=1))
            items.append(
                {
                    "dossier_id": r["dossier_id"],
                    "receipt_code": r["receipt_code"],
                    "from_agency_code": r["from_agency_code"],
                    "to_agency_code": r["to_agency_code"],
                    "handed_at": _local(r["handed_at"], self.calendar),
                    "ended_at": _local(r["ended_at"], self.calendar),
                    "outcome": r["outcome"],
                    "off_route": bool(r["off_route"]),
                    "transit_hours": _hours(working),
                    "transit_calendar_hours": _hours(calendar),
                }
            )
        return {"items": items, "next_cursor": self._cursor(rows, keys, limit)}

    def _page(
        self,
        sql: str,
        params: list[Any],
        order: str,
        keys: tuple[str, str, str],
        ascending: bool,
        limit: int,
        cursor: str | None,
    ) -> list[dict[str, Any]]:
        """Keyset pagination on (first key, dossier id, number); the first key descends unless `ascending`."""
        if cursor:
            first, dossier, number = _read_cursor(cursor, ascending)
            cmp = ">" if ascending else "<"
            sql += (
                f" AND ({keys[0]} {cmp} ? OR ({keys[0]} = ? AND (dossier_id > ? "
                f"OR (dossier_id = ? AND {keys[2]} > ?))))"
            )
            params = [*params, first, first, dossier, dossier, number]
        return self.db.query(f"{sql} ORDER BY {order} LIMIT ?", [*params, limit + 1])

    @staticmethod
    def _cursor(rows: list[dict[str, Any]], keys: tuple[str, str, str], limit: int) -> str | None:
        if len(rows) <= limit:
            return None
        last = rows[limit - 1]
        return "~".join(str(last[k]) for k in keys)


class InvalidCursor(ValueError):
    """A cursor this list did not give."""


def _read_cursor(cursor: str, textual: bool) -> tuple[Any, str, int]:
    parts = cursor.split("~")
    try:
        if len(parts) != 3:
            raise ValueError(cursor)
        return (parts[0] if textual else int(parts[0])), parts[1], int(parts[2])
    except ValueError:
        raise InvalidCursor(f"'{cursor}' is not a cursor of this list") from None


def _add_levels(level: list[int], row: dict[str, Any]) -> list[int]:
    return [level[0] + int(row["wip"]), level[1] + int(row["in_transit"]), level[2] + int(row["overdue"])]


def _round(value: Any) -> float | None:
    return round(float(value), 4) if value is not None else None
