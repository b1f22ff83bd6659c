"""The indicators view's tables: a dossier's desk, and counters per desk and local day."""

from __future__ import annotations

from projections.indicators import COLUMNS

VIEW = "indicators"
_COUNTS = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COLUMNS)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS ind_dossiers (dossier_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, "
    "agency_code TEXT NOT NULL, imported BOOLEAN NOT NULL, digitized BOOLEAN NOT NULL DEFAULT FALSE, "
    "result_digitized BOOLEAN NOT NULL DEFAULT FALSE)",
    # day: the local date (office clock) as YYYY-MM-DD, so a range compares as text.
    f"CREATE TABLE IF NOT EXISTS ind_totals (agency_code TEXT NOT NULL, day TEXT NOT NULL, "
    f"imported BOOLEAN NOT NULL, {_COUNTS}, PRIMARY KEY (agency_code, day, imported))",
    "CREATE INDEX IF NOT EXISTS ind_totals_day ON ind_totals (day)",
]
TABLES = ("ind_dossiers", "ind_totals")
DOSSIER_COLUMNS = ("dossier_id", "last_seq", "agency_code", "imported", "digitized", "result_digitized")
TOTAL_KEY = ("agency_code", "day", "imported")
