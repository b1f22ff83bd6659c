"""The SLA view in SQL (SQLite and PostgreSQL): Biểu 06, SLA by group, at-risk list.

Tables (instants are UTC epoch microseconds, BIGINT, so ranges compare as numbers):

- `sla_dossiers`, `sla_steps`, `sla_spans` — the facts of `projections.sla`, one row per
  dossier, per step and per overdue span; the fold is re-run on them for each batch.
- `sla_totals` (per scope, agency, local day/month/year bucket), `sla_by_procedure` (the
  same per agency and procedure) and `sla_procedure_totals` (per procedure over every agency)
  — running sums of the tallies. A report sums a handful of buckets
  (`bucket_ranges`), so its cost does not grow with the number of dossiers; only the parts
  of a range that are not whole local days are counted from the fact rows, by index.

A batch changes a counter by the difference between a dossier's tallies after and before
it, so counters always equal the sum over the current facts (rows that fall back to zero
are deleted: a rebuild and a live view hold the same rows).

The package: `schema` (tables), `store` (the view's write side), `reports` (queries),
`ranges` (report ranges as the API and the CLI take them). JSON shaping of the answers is
the HTTP presenters' (gateways/http/report_presenters.py).
"""

from gateways.views.sla.ranges import PERIOD_HELP, parse_period, parse_range
from gateways.views.sla.reports import (
    AtRisk,
    Bieu06Report,
    LateStep,
    LateSteps,
    SlaReport,
    SlaReports,
    SlaRow,
)
from gateways.views.sla.schema import GROUPS, SCHEMA, TABLES, VIEW
from gateways.views.sla.store import SlaView

__all__ = [
    "GROUPS",
    "PERIOD_HELP",
    "SCHEMA",
    "TABLES",
    "VIEW",
    "AtRisk",
    "Bieu06Report",
    "LateStep",
    "LateSteps",
    "SlaReport",
    "SlaReports",
    "SlaRow",
    "SlaView",
    "parse_period",
    "parse_range",
]
