"""The bottleneck view in SQL, and its reports: WIP, arrivals, completions, dwell, transit.

The fold (projections/bottleneck/) turns events into additive facts; here they
are summed into *blocks* of days — a day, an ISO week, and aligned runs of 2, 4, …
weeks — for every agency, edge and route step. A report over any day range reads
the few blocks that cover it (about two per size), and a level such as WIP at the
end of a day is the sum of the blocks from the first day to that one. So each
report is a handful of indexed reads whatever the range or the number of dossiers.

Tables (all rebuilt from events):
- `bottleneck_counts`: one row per (subject, block): counter sums, dwell/transit
  sums and a log-scale histogram (JSON list `[bucket, count, …]`), with the p50/p90
  of week blocks for the heat map. A row whose numbers all came back to 0 (a count
  taken back) is deleted; a missing row reads as zeros.
- `bottleneck_flows`: the fold's memory of each open dossier (JSON).
- `bottleneck_stays`, `bottleneck_transits`: one row per stay / handoff, for the
  drill-down lists ("which dossiers?").

Resolution is the local day: a report range is whole local days, and levels (WIP,
in transit, overdue) are read at the end of a day.

The package: `schema` (tables), `store` (the view's write side), `sums` (a block's sums as
reports merge them), `reports` (queries).
"""

from gateways.views.bottleneck.reports import BottleneckReports, InvalidCursor, iso_week
from gateways.views.bottleneck.schema import SCHEMA, TABLES, VIEW
from gateways.views.bottleneck.store import BottleneckView, flow_from_json, flow_to_json

__all__ = [
    "SCHEMA",
    "TABLES",
    "VIEW",
    "BottleneckReports",
    "BottleneckView",
    "InvalidCursor",
    "flow_from_json",
    "flow_to_json",
    "iso_week",
]
