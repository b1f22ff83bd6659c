"""What an XES import did (`ImportReport`), and why an event or trace did not map one to one.

The importers (`gateways.interchange.xes_import`, `xes_bulk`, `xes_shards`) fill one report per
run; the command line prints it (`gateways.interchange.cli`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from gateways.eventstore.limits import MAX_EVENT_BYTES
from gateways.interchange.xes import EARLIEST_YEAR, LATEST_YEAR

# Why an event or trace did not map one to one (keys of ImportReport.unmapped).
TRACE_NO_GROUP = "trace names no org:group: dossier held by UNRECORDED"
NO_TIME = (
    "event without a valid time:timestamp (none, or none in the years "
    f"{EARLIEST_YEAR}-{LATEST_YEAR}): not imported"
)
TRACE_NO_OFFSET = (
    "trace with a time written without its UTC offset: no dossier, nothing of it written (import "
    "the log again with --timezone ZONE, the zone its times were written in)"
)
NO_TRACE_NAME = "trace without concept:name: named by its position in the log"
NO_EVENTS = "trace without timed events: no dossier"
TRACE_REFUSED = "trace refused by the rules: no dossier"
TRACE_TOO_LARGE = (
    f"trace with an event over {MAX_EVENT_BYTES // (1024 * 1024)} MiB stored (the most an event "
    "may take: one Kafka record of the events topic): no dossier"
)
DUPLICATE_NAME = "trace name already met in the log: imported under a disambiguated case id"


@dataclass
class ImportReport:
    log_name: str = ""
    procedure_code: str = ""
    procedure_created: bool = False
    traces_read: int = 0
    dossiers_created: int = 0
    skipped_existing: int = 0
    events_read: int = 0
    events_written: int = 0
    mapped: int = 0  # events replayed as the lienthong lifecycle event they name
    legacy: int = 0  # events recorded as they are (in LegacyTraceRecorded, every attribute)
    dropped: int = 0  # events that could not be imported (see unmapped)
    events_in_skipped: int = 0  # events of traces already imported or refused
    synthesized: int = 0  # events the import added: receipts (not in the log)
    cases_recorded: int = 0  # each trace's case id and attributes
    left_open: int = 0
    agencies_created: list[str] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (trace name, case id given)
    # (case id, bytes of its event too large to store, the most an event may take): TRACE_TOO_LARGE
    too_large: list[tuple[str, int, int]] = field(default_factory=list)
    channels_defaulted: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def events_accounted(self) -> int:
        """Every event read is in exactly one of these."""
        return self.mapped + self.legacy + self.dropped + self.events_in_skipped


# What a trace's import adds to the catalogue (written whether or not the trace is imported).
_CATALOGUE = ("log_name", "procedure_code", "procedure_created", "agencies_created", "seconds")


def merge_trace_report(report: ImportReport, trace: ImportReport, *, catalogue_only: bool = False) -> None:
    """What one trace's import counted (`trace`) added to the run's `report`; with
    `catalogue_only` (the trace was not imported) only the agencies and procedure it added."""
    report.agencies_created.extend(trace.agencies_created)
    report.procedure_created = report.procedure_created or trace.procedure_created
    report.procedure_code = report.procedure_code or trace.procedure_code
    if not catalogue_only:
        add_counts(report, trace)


def add_counts(report: ImportReport, delta: ImportReport) -> None:
    """What `delta` counted of traces and events (everything but the catalogue's part) added
    to `report`."""
    for f in fields(ImportReport):
        if f.name in _CATALOGUE:
            continue
        value = getattr(delta, f.name)
        if isinstance(value, Counter):
            getattr(report, f.name).update(value)
        elif isinstance(value, list):
            getattr(report, f.name).extend(value)
        else:
            setattr(report, f.name, getattr(report, f.name) + value)
