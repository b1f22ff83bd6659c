"""The SLA view in SQL (SQLite and PostgreSQL): Biểu 06, SLA by group, at-risk list.

Tables (instants are UTC epoch microseconds, BIGINT, so ranges compare as numbers):

- `sla_dossiers`, `sla_steps`, `sla_spans` — the facts of `projections.sla`, one row per
  dossier, per step and per overdue span; the fold is re-run on them for each batch.
- `sla_totals` (per scope, agency, local day/month/year bucket) and `sla_by_procedure` (the
  same per procedure) — running sums of the tallies. A report sums a handful of buckets
  (`bucket_ranges`), so its cost does not grow with the number of dossiers; only the parts
  of a range that are not whole local days are counted from the fact rows, by index.

A batch changes a counter by the difference between a dossier's tallies after and before
it, so counters always equal the sum over the current facts (rows that fall back to zero
are deleted: a rebuild and a live view hold the same rows).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar import WorkingCalendar
from domain.dossier import working_hours_until
from domain.errors import InvalidValue
from gateways.catalogue import Catalogue
from gateways.sql import Database, Tx
from gateways.views.report_cache import ReportCache
from gateways.views.runtime import Applied
from projections import sla
from projections.sla import COLUMNS, HANDLED, RECEIVED, Bieu06, DossierFacts, Span, StepFacts, Sums, Window

VIEW = "sla"
GROUPS = ("agency", "level", "procedure")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_COUNTS = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COLUMNS)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS sla_dossiers (dossier_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, "
    "receipt_code TEXT NOT NULL, procedure_code TEXT NOT NULL, receiving_agency_code TEXT NOT NULL, "
    "holder_agency_code TEXT NOT NULL, channel TEXT NOT NULL, imported BOOLEAN NOT NULL, "
    "supplement_policy TEXT NOT NULL, route_budgets TEXT NOT NULL, submitted_us BIGINT, received_us BIGINT, "
    "due_us BIGINT, promised_us BIGINT, resolved_us BIGINT, timeliness TEXT, closed_us BIGINT, "
    "closed_as TEXT, returned_us BIGINT, pending_handoff_to TEXT, paused TEXT, "
    "remaining_at_pause DOUBLE PRECISION, is_open BOOLEAN NOT NULL, step_due_us BIGINT)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_received ON sla_dossiers (receiving_agency_code, received_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_resolved ON sla_dossiers (receiving_agency_code, resolved_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_closed ON sla_dossiers (receiving_agency_code, closed_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_open ON sla_dossiers (is_open, due_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_desk_open ON sla_dossiers "
    "(receiving_agency_code, is_open, due_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_holder_open ON sla_dossiers "
    "(holder_agency_code, is_open, due_us)",
    "CREATE TABLE IF NOT EXISTS sla_steps (dossier_id TEXT NOT NULL, n INTEGER NOT NULL, "
    "agency_code TEXT NOT NULL, procedure_code TEXT NOT NULL, channel TEXT NOT NULL, "
    "imported BOOLEAN NOT NULL, route_index INTEGER, on_route BOOLEAN NOT NULL, entered_us BIGINT NOT NULL, "
    "budget_working_hours DOUBLE PRECISION, due_us BIGINT, running_since_us BIGINT, "
    "used_working_hours DOUBLE PRECISION NOT NULL, left_us BIGINT, timeliness TEXT, "
    "closed_without_result BOOLEAN NOT NULL, overrun_us BIGINT, PRIMARY KEY (dossier_id, n))",
    "CREATE INDEX IF NOT EXISTS sla_steps_entered ON sla_steps (agency_code, entered_us)",
    "CREATE INDEX IF NOT EXISTS sla_steps_left ON sla_steps (agency_code, left_us)",
    "CREATE INDEX IF NOT EXISTS sla_steps_overrun ON sla_steps (agency_code, overrun_us)",
    "CREATE TABLE IF NOT EXISTS sla_spans (dossier_id TEXT NOT NULL, scope TEXT NOT NULL, "
    "n INTEGER NOT NULL, k INTEGER NOT NULL, agency_code TEXT NOT NULL, procedure_code TEXT NOT NULL, "
    "imported BOOLEAN NOT NULL, "
    "start_us BIGINT NOT NULL, end_us BIGINT, PRIMARY KEY (dossier_id, scope, n, k))",
    "CREATE INDEX IF NOT EXISTS sla_spans_start ON sla_spans (scope, agency_code, start_us)",
    "CREATE INDEX IF NOT EXISTS sla_spans_end ON sla_spans (scope, agency_code, end_us)",
    "CREATE TABLE IF NOT EXISTS sla_totals (scope TEXT NOT NULL, grain TEXT NOT NULL, "
    f"agency_code TEXT NOT NULL, bucket TEXT NOT NULL, imported BOOLEAN NOT NULL, {_COUNTS}, "
    "PRIMARY KEY (scope, grain, agency_code, bucket, imported))",
    "CREATE INDEX IF NOT EXISTS sla_totals_bucket ON sla_totals (scope, grain, bucket)",
    "CREATE TABLE IF NOT EXISTS sla_by_procedure (scope TEXT NOT NULL, grain TEXT NOT NULL, "
    "bucket TEXT NOT NULL, agency_code TEXT NOT NULL, procedure_code TEXT NOT NULL, "
    f"imported BOOLEAN NOT NULL, {_COUNTS}, "
    "PRIMARY KEY (scope, grain, bucket, agency_code, procedure_code, imported))",
]
TABLES = ("sla_dossiers", "sla_steps", "sla_spans", "sla_totals", "sla_by_procedure")

_DOSSIER_COLUMNS = (
    "dossier_id", "last_seq", "receipt_code", "procedure_code", "receiving_agency_code",
    "holder_agency_code", "channel", "imported", "supplement_policy", "route_budgets", "submitted_us",
    "received_us", "due_us", "promised_us", "resolved_us", "timeliness", "closed_us", "closed_as",
    "returned_us", "pending_handoff_to", "paused", "remaining_at_pause", "is_open", "step_due_us",
)  # fmt: skip
_STEP_COLUMNS = (
    "dossier_id", "n", "agency_code", "procedure_code", "channel", "imported", "route_index", "on_route",
    "entered_us", "budget_working_hours", "due_us", "running_since_us", "used_working_hours", "left_us",
    "timeliness", "closed_without_result", "overrun_us",
)  # fmt: skip
_SPAN_COLUMNS = (
    "dossier_id",
    "scope",
    "n",
    "k",
    "agency_code",
    "procedure_code",
    "imported",
    "start_us",
    "end_us",
)
_TOTAL_KEY = ("scope", "grain", "agency_code", "bucket", "imported")
_PROCEDURE_KEY = ("scope", "grain", "bucket", "agency_code", "procedure_code", "imported")


def _upsert(table: str, columns: Sequence[str], key: Sequence[str], add: bool = False) -> str:
    """An insert that updates on conflict: sets the new values, or adds them (counters)."""
    rest = [c for c in columns if c not in key]
    sets = [f"{c} = {table}.{c} + excluded.{c}" if add else f"{c} = excluded.{c}" for c in rest]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
    )


def _us(at: datetime | None) -> int | None:
    return None if at is None else (at - _EPOCH) // _US


def _at(us: Any) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=int(us))


def _at_required(us: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


# --- facts <-> rows ------------------------------------------------------------------------


def _dossier_row(f: DossierFacts) -> list[Any]:
    current = f.current_step
    return [
        f.dossier_id, f.last_seq, f.receipt_code, f.procedure_code, f.receiving_agency_code,
        f.holder_agency_code, f.channel, f.imported, f.supplement_policy,
        ",".join(repr(b) for b in f.route_budgets), _us(f.submitted_at), _us(f.received_at), _us(f.due_at),
        _us(f.promised_at), _us(f.resolved_at), f.timeliness, _us(f.closed_at), f.closed_as,
        _us(f.returned_at), f.pending_handoff_to, f.paused, f.remaining_at_pause, f.is_open,
        _us(current.due_at) if current is not None else None,
    ]  # fmt: skip


def _step_row(f: DossierFacts, s: StepFacts) -> list[Any]:
    return [
        f.dossier_id, s.n, s.agency_code, f.procedure_code, f.channel, f.imported, s.route_index, s.on_route,
        _us(s.entered_at), s.budget_working_hours, _us(s.due_at), _us(s.running_since), s.used_working_hours,
        _us(s.left_at), s.timeliness, s.closed_without_result, _us(s.overrun_at),
    ]  # fmt: skip


def _span_rows(f: DossierFacts) -> list[list[Any]]:
    rows = [
        [f.dossier_id, RECEIVED, 0, k, f.receiving_agency_code, f.procedure_code, f.imported,
         _us(span.start), _us(span.end)]
        for k, span in enumerate(f.spans)
    ]  # fmt: skip
    for step in f.steps:
        rows.extend(
            [f.dossier_id, HANDLED, step.n, k, step.agency_code, f.procedure_code, f.imported,
             _us(span.start), _us(span.end)]
            for k, span in enumerate(step.spans)
        )  # fmt: skip
    return rows


def _spans_from(rows: Iterable[dict[str, Any]]) -> tuple[Span, ...]:
    return tuple(
        Span(_at_required(r["start_us"]), _at(r["end_us"])) for r in sorted(rows, key=lambda r: r["k"])
    )


def _facts_from(
    row: dict[str, Any], steps: list[dict[str, Any]], spans: dict[tuple[str, int], list[dict[str, Any]]]
) -> DossierFacts:
    return DossierFacts(
        dossier_id=row["dossier_id"],
        last_seq=int(row["last_seq"]),
        receipt_code=row["receipt_code"],
        procedure_code=row["procedure_code"],
        receiving_agency_code=row["receiving_agency_code"],
        holder_agency_code=row["holder_agency_code"],
        channel=row["channel"],
        imported=bool(row["imported"]),
        supplement_policy=row["supplement_policy"],
        route_budgets=tuple(float(b) for b in row["route_budgets"].split(",") if b),
        submitted_at=_at(row["submitted_us"]),
        received_at=_at(row["received_us"]),
        due_at=_at(row["due_us"]),
        promised_at=_at(row["promised_us"]),
        resolved_at=_at(row["resolved_us"]),
        timeliness=row["timeliness"],
        closed_at=_at(row["closed_us"]),
        closed_as=row["closed_as"],
        returned_at=_at(row["returned_us"]),
        pending_handoff_to=row["pending_handoff_to"],
        paused=row["paused"],
        remaining_at_pause=row["remaining_at_pause"],
        spans=_spans_from(spans.get((RECEIVED, 0), [])),
        steps=tuple(
            StepFacts(
                n=int(s["n"]),
                agency_code=s["agency_code"],
                route_index=s["route_index"],
                entered_at=_at_required(s["entered_us"]),
                budget_working_hours=s["budget_working_hours"],
                due_at=_at(s["due_us"]),
                running_since=_at(s["running_since_us"]),
                used_working_hours=float(s["used_working_hours"]),
                left_at=_at(s["left_us"]),
                timeliness=s["timeliness"],
                closed_without_result=bool(s["closed_without_result"]),
                spans=_spans_from(spans.get((HANDLED, int(s["n"])), [])),
            )
            for s in sorted(steps, key=lambda s: s["n"])
        ),
    )


# --- the view ------------------------------------------------------------------------------

CounterKey = tuple[str, str, str, bool, str, date]  # scope, agency, procedure, imported, column, day
_COLUMN_INDEX = {column: index for index, column in enumerate(COLUMNS)}


def _all_spans(facts: DossierFacts) -> tuple[Any, ...]:
    return (facts.spans, *(step.spans for step in facts.steps))


class SlaView:
    """The SLA facts and counters as a view of the runtime (gateways/views/runtime.py).

    `tz` is the office clock's zone: it decides which local day a tally belongs to, and must
    be the calendar's zone that `SlaReports` uses.
    """

    name = VIEW
    schema = SCHEMA

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")

    def load(self, tx: Tx, ids: Sequence[str]) -> dict[str, DossierFacts]:
        rows = tx.select_in("SELECT * FROM sla_dossiers WHERE dossier_id IN ({marks})", ids)
        if not rows:
            return {}
        present = [r["dossier_id"] for r in rows]
        steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in tx.select_in("SELECT * FROM sla_steps WHERE dossier_id IN ({marks})", present):
            steps[s["dossier_id"]].append(s)
        spans: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for s in tx.select_in("SELECT * FROM sla_spans WHERE dossier_id IN ({marks})", present):
            spans[s["dossier_id"]][(s["scope"], int(s["n"]))].append(s)
        return {r["dossier_id"]: _facts_from(r, steps[r["dossier_id"]], spans[r["dossier_id"]]) for r in rows}

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        ids = sorted({item.dossier_id for item in batch})
        before = self.load(tx, ids)
        after = sla.fold_batch(before, ((item.dossier_id, item.seq, item.event) for item in batch))
        changed = [
            (d, before.get(d), f) for d in ids if (f := after.get(d)) is not None and f != before.get(d)
        ]
        if changed:
            self._store(tx, changed)

    def _store(self, tx: Tx, changed: list[tuple[str, DossierFacts | None, DossierFacts]]) -> None:
        tx.executemany(
            _upsert("sla_dossiers", _DOSSIER_COLUMNS, ("dossier_id",)),
            [_dossier_row(f) for _, _, f in changed],
        )
        steps: list[list[Any]] = []
        respanned: list[DossierFacts] = []
        delta: dict[CounterKey, int] = {}
        for _, old, new in changed:
            old_steps = old.steps if old is not None else ()
            steps.extend(_step_row(new, s) for s in new.steps if s.n >= len(old_steps) or old_steps[s.n] != s)
            if old is None or _all_spans(new) != _all_spans(old):
                respanned.append(new)
            for key in self._keys(new):
                delta[key] = delta.get(key, 0) + 1
            for key in self._keys(old) if old is not None else ():
                delta[key] = delta.get(key, 0) - 1
        tx.executemany(_upsert("sla_steps", _STEP_COLUMNS, ("dossier_id", "n")), steps)
        if respanned:
            tx.executemany("DELETE FROM sla_spans WHERE dossier_id = ?", [(f.dossier_id,) for f in respanned])
            tx.executemany(
                f"INSERT INTO sla_spans ({', '.join(_SPAN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_SPAN_COLUMNS))})",
                [row for f in respanned for row in _span_rows(f)],
            )
        self._count(tx, delta)

    def _keys(self, facts: DossierFacts) -> list[CounterKey]:
        tz = self.tz
        return [
            (t.scope, t.agency_code, t.procedure_code, t.imported, t.column, t.at.astimezone(tz).date())
            for t in sla.tallies(facts)
        ]

    def _count(self, tx: Tx, delta: Mapping[CounterKey, int]) -> None:
        width = len(COLUMNS)
        totals: dict[tuple[Any, ...], list[int]] = {}
        by_procedure: dict[tuple[Any, ...], list[int]] = {}
        for (scope, agency, procedure, imported, column, day), n in delta.items():
            if n == 0:
                continue
            index = _COLUMN_INDEX[column]
            for grain, bucket in sla.buckets_of(day):
                for rows, key in (
                    (totals, (scope, grain, agency, bucket, imported)),
                    (by_procedure, (scope, grain, bucket, agency, procedure, imported)),
                ):
                    counts = rows.get(key)
                    if counts is None:
                        counts = rows[key] = [0] * width
                    counts[index] += n
        for table, key_columns, rows in (
            ("sla_totals", _TOTAL_KEY, totals),
            ("sla_by_procedure", _PROCEDURE_KEY, by_procedure),
        ):
            moved = [(key, counts) for key, counts in rows.items() if any(counts)]
            tx.executemany(
                _upsert(table, (*key_columns, *COLUMNS), key_columns, add=True),
                [[*key, *counts] for key, counts in moved],
            )
            # A counter back at zero everywhere is deleted, so a rebuild holds the same rows.
            tx.executemany(
                f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in key_columns)} AND "
                + " AND ".join(f"{c} = 0" for c in COLUMNS),
                [list(key) for key, counts in moved if min(counts) < 0],
            )

    def clear(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")


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


@dataclass(frozen=True)
class Bieu06Report:
    agency_code: str
    include_children: bool
    scope: str
    window: Window  # as asked
    judged_at: datetime  # the window's end, or now if that is earlier
    agencies: tuple[str, ...]  # the desks (or step holders) counted
    form: Bieu06


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
        db.executescript(SCHEMA)

    # -- ranges and agencies ----------------------------------------------------------------
    def _window(
        self, first: date | datetime, last: date | datetime, now: datetime | None
    ) -> tuple[Window, Window]:
        try:
            asked = sla.window(first, last, self.tz)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from exc
        return asked, (sla.capped(asked, now) if now is not None else asked)

    def agencies(self, root: str, w: Window, include_children: bool) -> frozenset[str]:
        hierarchy = self.catalogue.hierarchy
        if root not in hierarchy:
            raise InvalidValue(f"unknown agency '{root}'")
        first, last = w.days(self.tz)
        return sla.agencies_during(hierarchy, root, first, last, include_children)

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
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        if ranges:
            for row in self._bucket_sums(scope, agencies, ranges, group, include_imported):
                counts[(row["part"], row["grp"] or "")].update({c: int(row[c] or 0) for c in COLUMNS})
        if edges:
            for row in self._edge_counts(scope, agencies, edges, group, include_imported):
                counts[(row["part"], row["grp"] or "")][row["k"]] += int(row["n"])
        return {key: Sums.of(c) for key, c in counts.items()}

    def _bucket_sums(
        self,
        scope: str,
        agencies: Collection[str] | None,
        ranges: Mapping[str, list[tuple[str, str, str]]],
        group: str | None,
        include_imported: bool,
    ) -> list[dict[str, Any]]:
        table = "sla_by_procedure" if group == "procedure_code" else "sla_totals"
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
        query = ("bieu06", agency_code, asked, judged, include_children, scope, include_imported)
        return self.cache.answer(
            VIEW,
            query,
            self.catalogue.hierarchy,
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
            agency_code, include_children, scope, asked, judged.end, tuple(sorted(agencies)), form
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
        query = ("sla", group_by, agency_code, asked, judged, include_children, scope, include_imported)
        return self.cache.answer(
            VIEW,
            query,
            self.catalogue.hierarchy,
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
        forms: dict[str, Bieu06] = defaultdict(Bieu06)
        for grp in sorted({g for _, g in sums}):
            form = sla.bieu06(sums.get(("b", grp), Sums()), sums.get(("d", grp), Sums()))
            key = sla.level_during(hierarchy, grp, first_day, last_day) if group_by == "level" else grp
            forms[key] = forms[key] + form
        late = self._late(agencies, judged, asked, group_by, include_imported)
        rows = tuple(
            SlaRow(key, forms.get(key, Bieu06()), late.get(key, 0))
            for key in sorted(set(forms) | set(late))
            if forms.get(key, Bieu06()) != Bieu06() or late.get(key, 0)
        )
        return SlaReport(group_by, scope, asked, judged.end, rows)

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


# --- what the HTTP API and the CLI share: ranges in, JSON out -------------------------------

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def _bound(text: str, name: str) -> date | datetime:
    # An unencoded "+07:00" in a query string arrives as " 07:00".
    text = text.strip().replace(" ", "+") if "T" in text else text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidValue(
            f"{name} must be a date (2026-03-14) or an instant with its offset "
            f"(2026-03-14T17:00:00+07:00), not '{text}'"
        )
    return value


def parse_range(
    first: str | None, last: str | None, period: str | None, today: date
) -> tuple[date | datetime, date | datetime, str | None]:
    """`from`/`to` (dates or instants), or `period=YYYY-MM`; neither: the current period."""
    if period is not None and (first is not None or last is not None):
        raise InvalidValue("give either period=YYYY-MM or from and to, not both")
    if (first is None) != (last is None):
        raise InvalidValue("from and to go together (or give period=YYYY-MM)")
    if first is not None and last is not None:
        return _bound(first, "from"), _bound(last, "to"), None
    if period is None:
        year, month = sla.period_of(today)
    else:
        match = _PERIOD.fullmatch(period.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise InvalidValue(f"period must be YYYY-MM (e.g. 2026-03: 15 Feb to 14 Mar), not '{period}'")
        year, month = int(match.group(1)), int(match.group(2))
    start, end = sla.reporting_period(year, month)
    return start, end, f"{year:04d}-{month:02d}"


def _local(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat() if at is not None else None


def range_json(w: Window, tz: tzinfo) -> dict[str, str]:
    """The range as asked: whole local days as dates (`to` inclusive), else instants."""
    start, end = w.start.astimezone(tz), w.end.astimezone(tz)
    whole = start == sla.midnight(start.date(), tz) and end == sla.midnight(end.date(), tz)
    if whole:
        return {"from": start.date().isoformat(), "to": (end.date() - timedelta(days=1)).isoformat()}
    return {"from": start.isoformat(), "to": (end - _US).isoformat()}


def bieu06_json(report: Bieu06Report, tz: tzinfo) -> dict[str, Any]:
    return {
        "agency_code": report.agency_code,
        "include_children": report.include_children,
        "scope": report.scope,
        **range_json(report.window, tz),
        "judged_at": _local(report.judged_at, tz),
        "agencies": list(report.agencies),
        **report.form.as_json(),
    }


def sla_json(report: SlaReport, tz: tzinfo) -> dict[str, Any]:
    return {
        "group_by": report.group_by,
        "scope": report.scope,
        **range_json(report.window, tz),
        "judged_at": _local(report.judged_at, tz),
        "items": [
            {"group": row.group, **row.form.as_json(), "late_attributed": row.late_attributed}
            for row in report.rows
        ],
        "next_cursor": None,
    }


def at_risk_json(item: AtRisk, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": item.dossier_id,
        "receipt_code": item.receipt_code,
        "procedure_code": item.procedure_code,
        "receiving_agency_code": item.receiving_agency_code,
        "holder_agency_code": item.holder_agency_code,
        "pending_handoff_to": item.pending_handoff_to,
        "received_at": _local(item.received_at, tz),
        "due_at": _local(item.due_at, tz),
        "promised_at": _local(item.promised_at, tz),
        "paused": item.paused,
        "overdue": item.overdue,
        "remaining_working_hours": round(item.remaining_working_hours, 4),
        "step_due_at": _local(item.step_due_at, tz),
        "step_remaining_working_hours": (
            round(item.step_remaining_working_hours, 4)
            if item.step_remaining_working_hours is not None
            else None
        ),
    }
