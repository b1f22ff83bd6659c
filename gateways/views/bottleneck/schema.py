"""The bottleneck view's tables: counts per subject and block of days, flows, stays, transits."""

from __future__ import annotations

from datetime import UTC, datetime

from gateways.views.toolkit import Upsert
from projections import bottleneck as b

VIEW = "bottleneck"
_COUNTERS = b.COUNTERS
_MS_PER_HOUR = 3_600_000

# Columns as "name TYPE" lists: the DDL and the statements are made from the same text.
_COUNT_TABLE = (
    "key TEXT PRIMARY KEY, kind TEXT NOT NULL, agency_code TEXT NOT NULL, other TEXT NOT NULL, "
    "route_step INTEGER NOT NULL, span INTEGER NOT NULL, start INTEGER NOT NULL, "
    + "".join(f"{name} BIGINT NOT NULL, " for name in _COUNTERS)
    + "samples BIGINT NOT NULL, working_ms BIGINT NOT NULL, calendar_ms BIGINT NOT NULL, "
    "hist TEXT NOT NULL, p50_hours DOUBLE PRECISION, p90_hours DOUBLE PRECISION"
)
# Column names are the fields of StayRecord / TransitRecord, in order.
_STAY_TABLE = (
    "dossier_id TEXT NOT NULL, stay_no INTEGER NOT NULL, agency_code TEXT NOT NULL, "
    "procedure_code TEXT NOT NULL, route_step INTEGER, receipt_code TEXT NOT NULL, "
    "entered_at TEXT NOT NULL, left_at TEXT, left_day INTEGER, working_ms BIGINT NOT NULL, "
    "calendar_ms BIGINT NOT NULL, running_since TEXT"
)
_TRANSIT_TABLE = (
    "dossier_id TEXT NOT NULL, handoff_seq INTEGER NOT NULL, from_agency_code TEXT NOT NULL, "
    "to_agency_code TEXT NOT NULL, receipt_code TEXT NOT NULL, handed_at TEXT NOT NULL, "
    "off_route BOOLEAN NOT NULL, ended_at TEXT, end_day INTEGER, outcome TEXT, working_ms BIGINT, "
    "calendar_ms BIGINT"
)

_CREATE = "CREATE TABLE IF NOT EXISTS"
_INDEX = "CREATE INDEX IF NOT EXISTS"
SCHEMA = [
    f"{_CREATE} bottleneck_counts ({_COUNT_TABLE})",
    f"{_INDEX} bottleneck_counts_block ON bottleneck_counts (kind, span, start)",
    f"{_INDEX} bottleneck_counts_subject ON bottleneck_counts (kind, agency_code, span, start)",
    f"{_CREATE} bottleneck_flows (dossier_id TEXT PRIMARY KEY, flow TEXT NOT NULL)",
    f"{_CREATE} bottleneck_stays ({_STAY_TABLE}, PRIMARY KEY (dossier_id, stay_no))",
    f"{_INDEX} bottleneck_stays_agency ON bottleneck_stays (agency_code, left_day, working_ms)",
    f"{_CREATE} bottleneck_transits ({_TRANSIT_TABLE}, PRIMARY KEY (dossier_id, handoff_seq))",
    f"{_INDEX} bottleneck_transits_edge "
    "ON bottleneck_transits (from_agency_code, to_agency_code, end_day, working_ms)",
]
TABLES = ("bottleneck_counts", "bottleneck_flows", "bottleneck_stays", "bottleneck_transits")


def _columns(table: str) -> list[str]:
    return [column.split()[0] for column in table.split(", ")]


def _upsert(table: str, columns: list[str], keys: int) -> Upsert:
    """INSERT … ON CONFLICT (the first `keys` columns) DO UPDATE SET the others."""
    return Upsert(table, columns, columns[:keys])


_COUNT_COLUMNS = _columns(_COUNT_TABLE)
_STAY_COLUMNS = _columns(_STAY_TABLE)
_TRANSIT_COLUMNS = _columns(_TRANSIT_TABLE)
_UPSERT_COUNT = _upsert("bottleneck_counts", _COUNT_COLUMNS, 1)
_UPSERT_STAY = _upsert("bottleneck_stays", _STAY_COLUMNS, 2)
_UPSERT_TRANSIT = _upsert("bottleneck_transits", _TRANSIT_COLUMNS, 2)
_UPSERT_FLOW = Upsert("bottleneck_flows", ["dossier_id", "flow"], ["dossier_id"])


def _utc(at: datetime | None) -> str | None:
    """Instants are stored in UTC so that text order is time order."""
    return at.astimezone(UTC).isoformat() if at is not None else None


def _key(subject: b.Subject, span: int, start: int) -> str:
    parts = (subject.kind.value, subject.agency_code, subject.other, subject.route_step, span, start)
    return "\x1f".join(map(str, parts))


_SUM_COLUMNS = (*_COUNTERS, "samples", "working_ms", "calendar_ms")
