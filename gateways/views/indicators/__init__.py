"""The indicators view in SQL (SQLite and PostgreSQL): service indicators of Decision
766/QĐ-TTg measured from the dossier events.

Tables: `ind_dossiers` (a dossier's receiving desk and imported flag, so a later event knows
whose tally it is) and `ind_totals` (per desk, local day and imported flag: one counter per
column of `projections.indicators.COLUMNS`). Counters only grow: each event adds its tallies
once (the runtime skips redelivered events), so a rebuild gives the same rows.
"""

from gateways.views.indicators.reports import GROUPS, IndicatorRow, IndicatorsReport, IndicatorsReports
from gateways.views.indicators.schema import SCHEMA, TABLES, VIEW
from gateways.views.indicators.store import IndicatorsView

__all__ = [
    "GROUPS",
    "SCHEMA",
    "TABLES",
    "VIEW",
    "IndicatorRow",
    "IndicatorsReport",
    "IndicatorsReports",
    "IndicatorsView",
]
