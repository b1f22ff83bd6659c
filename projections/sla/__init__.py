"""SLA view (Biểu 06 of Circular 01/2020): dossier and step facts folded from events.

Three parts, all pure:

- **the fold** — `apply(facts, dossier_id, seq, event)` keeps what Biểu 06 and delay
  attribution need: receipt, due instant, resolution or closure, pauses, and each step with
  its budget, its due instant and the spans during which it was over budget. Every
  working-time fact comes from the events (docs/decisions.md, entry 1), so the fold needs no
  calendar and catalogue edits never need a rebuild: levels and subtrees are looked up in the
  hierarchy when a report is asked for.
- **tallies** — every fact a report counts is one `Tally` (which column, for which agency and
  procedure, at which instant). Stores keep running sums of tallies per local day, month and
  year; any report is then a sum over a few buckets.
- **reports** — `bieu06(before, during)` turns the sums before a window and inside it into the
  form's columns; `bieu06_of` and `late_attributed_of` compute the same straight from facts.

Overdue spans. A dossier (or step) is overdue at instant E when E is past its due instant and
it is neither finished nor waiting for the citizen with time left. Because a restart after a
supplement moves the due instant, "overdue" can begin and end more than once; the fold keeps
the spans `(start, end]` so a report can judge any past instant: overdue at E iff
`start < E <= end` (an open span has no end). A span that never began (the dossier finished
or paused before its due instant) is dropped, so the spans are exactly the real overruns, plus
at most one open span that begins at the current due instant.

The package: `facts` (what is kept), `fold` (events -> facts, by event or by batch),
`tallies`, `form` (sums and Biểu 06), `periods` (windows, reporting periods, buckets),
`hierarchy` (agencies and levels as of a range), `reference` (reports straight from facts).
"""

from projections.sla.facts import HANDLED, RECEIVED, SCOPES, DossierFacts, Span, StepFacts
from projections.sla.fold import apply, fold, fold_batch
from projections.sla.form import COLUMNS, Bieu06, Sums, bieu06
from projections.sla.hierarchy import agencies_during, boundary_days, level_during, level_on
from projections.sla.periods import (
    PERIOD_KINDS,
    ReportingPeriod,
    Window,
    bucket_ranges,
    buckets_of,
    capped,
    midnight,
    period,
    period_of,
    reporting_period,
    window,
)
from projections.sla.reference import bieu06_of, late_attributed_of, sums_between
from projections.sla.tallies import Tally, tallies

__all__ = [
    "COLUMNS",
    "HANDLED",
    "PERIOD_KINDS",
    "RECEIVED",
    "SCOPES",
    "Bieu06",
    "DossierFacts",
    "ReportingPeriod",
    "Span",
    "StepFacts",
    "Sums",
    "Tally",
    "Window",
    "agencies_during",
    "apply",
    "bieu06",
    "bieu06_of",
    "boundary_days",
    "bucket_ranges",
    "buckets_of",
    "capped",
    "fold",
    "fold_batch",
    "late_attributed_of",
    "level_during",
    "level_on",
    "midnight",
    "period",
    "period_of",
    "reporting_period",
    "sums_between",
    "tallies",
    "window",
]
