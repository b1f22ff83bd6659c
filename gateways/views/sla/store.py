"""The SLA view's write side: facts to rows and back, counters per local day, month and year."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from operator import add
from typing import Any
from zoneinfo import ZoneInfo

from gateways.sql import Database, Tx
from gateways.views.runtime import Applied
from gateways.views.sla.schema import (
    _DOSSIER_COLUMNS,
    _PROCEDURE_KEY,
    _PROCEDURE_TOTAL_KEY,
    _SPAN_COLUMNS,
    _STEP_COLUMNS,
    _TOTAL_KEY,
    SCHEMA,
    TABLES,
    VIEW,
    _at,
    _at_required,
    _us,
)
from gateways.views.toolkit import Counters, Held, Upsert, copy_rows, insert_rows, rows_of
from projections import sla
from projections.sla import COLUMNS, HANDLED, RECEIVED, DossierFacts, Span, StepFacts

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

_UPSERT_DOSSIER = Upsert("sla_dossiers", _DOSSIER_COLUMNS, ("dossier_id",))
_UPSERT_STEP = Upsert("sla_steps", _STEP_COLUMNS, ("dossier_id", "n"))
CounterKey = tuple[str, str, str, bool, str, date]  # scope, agency, procedure, imported, column, day
_COLUMN_INDEX = {column: index for index, column in enumerate(COLUMNS)}
# Local days of instants remembered (tallies of a dossier's old and new facts share instants).
_DAYS_HELD = 4_096


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
        self.held: Held[DossierFacts] = Held(lambda f: not f.is_open)
        self._days: dict[datetime, date] = {}  # local day of an instant (tallies share instants)

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
        """Fold the batch into the facts held; `flush` writes them (gateways/views/runtime.py)."""
        ids = sorted({item.dossier_id for item in batch})
        before = self.held.before(ids, lambda missing: self.load(tx, missing))
        self.held.after(sla.fold_batch(before, ((item.dossier_id, item.seq, item.event) for item in batch)))

    def flush(self, tx: Tx) -> None:
        changed = [(d, old, new) for d, old, new in self.held.changes() if new is not None and new != old]
        if changed:
            self._store(tx, sorted(changed, key=lambda change: change[0]))
        self.held.trim()

    def forget(self, empty: bool = False) -> None:
        self.held.forget(empty)

    def _store(self, tx: Tx, changed: list[tuple[str, DossierFacts | None, DossierFacts]]) -> None:
        _UPSERT_DOSSIER.write(
            tx,
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
        _UPSERT_STEP.write(tx, steps)
        if respanned:
            tx.executemany("DELETE FROM sla_spans WHERE dossier_id = ?", [(f.dossier_id,) for f in respanned])
            insert_rows(tx, "sla_spans", _SPAN_COLUMNS, [row for f in respanned for row in _span_rows(f)])
        self._count(tx, delta)

    def _keys(self, facts: DossierFacts) -> list[CounterKey]:
        tz, days = self.tz, self._days
        keys: list[CounterKey] = []
        for t in sla.tallies(facts):
            at = t.at
            day = days.get(at)
            if day is None:
                day = days[at] = at.astimezone(tz).date()
            keys.append((t.scope, t.agency_code, t.procedure_code, t.imported, t.column, day))
        if len(days) > _DAYS_HELD:
            self._days = {}
        return keys

    def _count(self, tx: Tx, delta: Mapping[CounterKey, int]) -> None:
        """Each tally delta goes to its day, month and year bucket, per agency, per agency and
        procedure, and per procedure alone.

        The deltas are first gathered into one vector per (scope, agency, procedure, imported,
        day), and those vectors added to the buckets; a vector is shared until a second one
        comes to the same bucket (nothing is changed in place)."""
        width = len(COLUMNS)
        by_day: dict[tuple[str, str, str, bool, date], list[int]] = {}
        for (scope, agency, procedure, imported, column, day), n in delta.items():
            if n == 0:
                continue
            day_key = (scope, agency, procedure, imported, day)
            vector = by_day.get(day_key)
            if vector is None:
                vector = by_day[day_key] = [0] * width
            vector[_COLUMN_INDEX[column]] += n
        totals, by_procedure, procedures = _counters()
        total_deltas, procedure_deltas, alone_deltas = totals.deltas, by_procedure.deltas, procedures.deltas
        buckets: dict[date, tuple[tuple[str, str], ...]] = {}
        for (scope, agency, procedure, imported, day), vector in by_day.items():
            grains = buckets.get(day)
            if grains is None:
                grains = buckets[day] = sla.buckets_of(day)
            for grain, bucket in grains:
                _add_vector(total_deltas, (scope, grain, agency, bucket, imported), vector)
                _add_vector(procedure_deltas, (scope, grain, bucket, agency, procedure, imported), vector)
                _add_vector(alone_deltas, (scope, grain, bucket, procedure, imported), vector)
        for counters in (totals, by_procedure, procedures):
            counters.write(tx)

    def clear(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")

    def merge(self, tx: Tx, shards: Sequence[Database]) -> None:
        """Add the rows of shards rebuilt apart (disjoint sets of dossiers): facts are copied,
        counters of the same bucket are summed."""
        every = _counters()
        for shard in shards:
            for table in ("sla_dossiers", "sla_steps", "sla_spans"):
                copy_rows(tx, shard, table, SCHEMA)
            for counters in every:
                for row in rows_of(shard, counters.table):
                    key = tuple(bool(row[c]) if c == "imported" else row[c] for c in counters.key)
                    for index, column in enumerate(COLUMNS):
                        if row[column]:
                            counters.add(key, index, int(row[column]))
        for counters in every:
            counters.write(tx)


def _add_vector(deltas: dict[Any, list[int]], key: tuple[Any, ...], vector: list[int]) -> None:
    """`vector` added to the bucket `key` of `deltas`: shared while it is the bucket's only
    one, a new list once a second comes (a vector is never changed in place)."""
    known = deltas.get(key)
    deltas[key] = vector if known is None else list(map(add, known, vector))


def _counters() -> tuple[Counters, Counters, Counters]:
    """The counter tables: per agency, per agency and procedure, per procedure alone."""
    return (
        Counters("sla_totals", _TOTAL_KEY, COLUMNS),
        Counters("sla_by_procedure", _PROCEDURE_KEY, COLUMNS),
        Counters("sla_procedure_totals", _PROCEDURE_TOTAL_KEY, COLUMNS),
    )
