"""The SLA view's tables (instants are UTC epoch microseconds, BIGINT: ranges compare as numbers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from projections.sla import COLUMNS

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
    # A report over every agency (no agency_code) counts the part of a day that is not whole
    # from the fact rows by time alone: these let it seek the instant instead of scanning every
    # dossier (the SLA report judged now at a million dossiers: ~1.5 s uncached).
    "CREATE INDEX IF NOT EXISTS sla_dossiers_received_at ON sla_dossiers (received_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_resolved_at ON sla_dossiers (resolved_us)",
    "CREATE INDEX IF NOT EXISTS sla_dossiers_closed_at ON sla_dossiers (closed_us)",
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
    "CREATE INDEX IF NOT EXISTS sla_steps_entered_at ON sla_steps (entered_us)",
    "CREATE INDEX IF NOT EXISTS sla_steps_left_at ON sla_steps (left_us)",
    "CREATE INDEX IF NOT EXISTS sla_steps_overrun_at ON sla_steps (overrun_us)",
    "CREATE TABLE IF NOT EXISTS sla_spans (dossier_id TEXT NOT NULL, scope TEXT NOT NULL, "
    "n INTEGER NOT NULL, k INTEGER NOT NULL, agency_code TEXT NOT NULL, procedure_code TEXT NOT NULL, "
    "imported BOOLEAN NOT NULL, "
    "start_us BIGINT NOT NULL, end_us BIGINT, PRIMARY KEY (dossier_id, scope, n, k))",
    "CREATE INDEX IF NOT EXISTS sla_spans_start ON sla_spans (scope, agency_code, start_us)",
    "CREATE INDEX IF NOT EXISTS sla_spans_end ON sla_spans (scope, agency_code, end_us)",
    "CREATE INDEX IF NOT EXISTS sla_spans_start_at ON sla_spans (scope, start_us)",
    "CREATE INDEX IF NOT EXISTS sla_spans_end_at ON sla_spans (scope, end_us)",
    "CREATE TABLE IF NOT EXISTS sla_totals (scope TEXT NOT NULL, grain TEXT NOT NULL, "
    f"agency_code TEXT NOT NULL, bucket TEXT NOT NULL, imported BOOLEAN NOT NULL, {_COUNTS}, "
    "PRIMARY KEY (scope, grain, agency_code, bucket, imported))",
    "CREATE INDEX IF NOT EXISTS sla_totals_bucket ON sla_totals (scope, grain, bucket)",
    "CREATE TABLE IF NOT EXISTS sla_by_procedure (scope TEXT NOT NULL, grain TEXT NOT NULL, "
    "bucket TEXT NOT NULL, agency_code TEXT NOT NULL, procedure_code TEXT NOT NULL, "
    f"imported BOOLEAN NOT NULL, {_COUNTS}, "
    "PRIMARY KEY (scope, grain, bucket, agency_code, procedure_code, imported))",
    # The same per procedure over every agency: what the SLA report by procedure reads when no
    # agency narrows it (tens of rows a bucket instead of thousands, docs/decisions.md).
    "CREATE TABLE IF NOT EXISTS sla_procedure_totals (scope TEXT NOT NULL, grain TEXT NOT NULL, "
    f"bucket TEXT NOT NULL, procedure_code TEXT NOT NULL, imported BOOLEAN NOT NULL, {_COUNTS}, "
    "PRIMARY KEY (scope, grain, bucket, procedure_code, imported))",
    # A store made before that table: it is filled once from the rows it sums. Counters are
    # never negative, so it is empty while `sla_by_procedure` has rows only when just created.
    "INSERT INTO sla_procedure_totals (scope, grain, bucket, procedure_code, imported, "
    f"{', '.join(COLUMNS)}) SELECT scope, grain, bucket, procedure_code, imported, "
    f"{', '.join(f'SUM({c})' for c in COLUMNS)} FROM sla_by_procedure "
    "WHERE NOT EXISTS (SELECT 1 FROM sla_procedure_totals) "
    "GROUP BY scope, grain, bucket, procedure_code, imported",
]
TABLES = ("sla_dossiers", "sla_steps", "sla_spans", "sla_totals", "sla_by_procedure", "sla_procedure_totals")

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
_PROCEDURE_TOTAL_KEY = ("scope", "grain", "bucket", "procedure_code", "imported")


def _us(at: datetime | None) -> int | None:
    return None if at is None else (at - _EPOCH) // _US


def _at(us: Any) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=int(us))


def _at_required(us: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))
