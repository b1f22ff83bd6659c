"""Bottleneck view (điểm nghẽn): where dossiers wait, per agency, per route step and per edge.

A pure fold: (flow | None, event) -> (flow | None, facts). The flow is what one
dossier needs remembered — who holds it since when, and the handoff in transit.
The facts are additive: counter changes on a local day (arrivals, completions, WIP
deltas …), dwell and transit samples, and the rows of the drill-down lists. Storing
them is a gateway's job; because every fact is a signed count, any day range is
answered by summing, and a fact can be taken back by adding its negation.

Rules (DOMAIN.md "Steps", "Returns and routes"):
- A *stay* is the domain's step: an agency receives or accepts the dossier (an
  arrival) and holds it until it hands it off, the result is ready, or the dossier
  is closed (a completion). Its dwell is the step's working hours, carried by the
  events (`step_used_working_hours`); a restart-policy supplement resets the step's
  budget, not the time the agency spent, so the hours before it are carried over.
  Calendar dwell is the wall-clock time of the same running segments: waiting for
  the citizen and transit are charged to no agency on either clock.
- A handoff completes the giver's stay at once; if the receiver returns it, the
  stay reopens (DOMAIN: the giver's step reopens), so the completion and the dwell
  sample are taken back and the stay finishes later with its whole dwell.
- Transit runs from `HandedOff` to `HandoffAccepted` or `HandoffReturned`, on no
  agency's step, and is sampled per edge (giver -> receiver) on the day it ends.
- WIP counts dossiers *held* (a stay open, paused or not); dossiers in transit are
  counted apart as `in_transit` at their receiver. `overdue` counts held dossiers
  whose step is past its own due instant (off-route steps have none).

The calendar is an explicit input: no event carries the working hours of a
transit, so they are measured with the working calendar when the event is folded.
Dwell needs no calendar (the events carry it). A change of days off therefore
reaches transit hours of history only through a rebuild.

Quantiles come from a log-scale histogram (see `bucket_of`): counts per bucket
merge by adding, and a quantile read from it is within `RELATIVE_ERROR` of the
exact nearest-rank value (values under `FLOOR_HOURS` read as 0).

The package: `days` (day numbers and blocks), `histogram` (quantiles), `facts` (what the
fold emits and where it goes), `fold` (events -> flow and facts, by event or by batch).
"""

from projections.bottleneck.days import (
    EPOCH,
    SPANS,
    blocks_of,
    cover,
    day_number,
    day_of,
    number_of,
    week_start,
)
from projections.bottleneck.facts import (
    ARRIVALS,
    COMPLETIONS,
    CONSULTATIONS,
    COUNTERS,
    IN_TRANSIT,
    LEVELS,
    OVERDUE,
    RETURNS,
    SUM_FIELDS,
    SUPPLEMENTS,
    WIP,
    Fact,
    FactList,
    FactSink,
    Kind,
    Sample,
    StayRecord,
    Subject,
    Tally,
    Totals,
    TransitRecord,
)
from projections.bottleneck.fold import Flow, Stay, Transit, apply, fold_batch
from projections.bottleneck.histogram import (
    FLOOR_HOURS,
    GROWTH,
    QUANTILES,
    RELATIVE_ERROR,
    bucket_of,
    bucket_value,
    exact_quantile,
    quantile,
    quantiles,
)

__all__ = [
    "ARRIVALS",
    "COMPLETIONS",
    "CONSULTATIONS",
    "COUNTERS",
    "EPOCH",
    "FLOOR_HOURS",
    "GROWTH",
    "IN_TRANSIT",
    "LEVELS",
    "OVERDUE",
    "QUANTILES",
    "RELATIVE_ERROR",
    "RETURNS",
    "SPANS",
    "SUM_FIELDS",
    "SUPPLEMENTS",
    "WIP",
    "Fact",
    "FactList",
    "FactSink",
    "Flow",
    "Kind",
    "Sample",
    "Stay",
    "StayRecord",
    "Subject",
    "Tally",
    "Totals",
    "Transit",
    "TransitRecord",
    "apply",
    "blocks_of",
    "bucket_of",
    "bucket_value",
    "cover",
    "day_number",
    "day_of",
    "exact_quantile",
    "fold_batch",
    "number_of",
    "quantile",
    "quantiles",
    "week_start",
]
