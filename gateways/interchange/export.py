"""Export the configured event store's dossiers as XES, OCEL 2.0 (JSON or SQLite) or CSV."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from gateways.catalogue import Catalogue
from gateways.eventstore.store import EventStore
from gateways.interchange.csv_export import write_csv
from gateways.interchange.ocel_export import write_ocel
from gateways.interchange.ocel_sqlite import write_ocel_sqlite
from gateways.interchange.selection import History, Selection
from gateways.interchange.xes_export import write_xes


class ExportFormat(StrEnum):
    XES = "xes"
    OCEL = "ocel"
    OCEL_SQLITE = "ocel-sqlite"  # a database file, not a text stream: see export_database
    CSV = "csv"


@dataclass(frozen=True)
class ExportSummary:
    format: ExportFormat
    dossiers: int
    events: int
    seconds: float
    damaged: int = 0  # dossiers left out: a stored event could not be read
    cut: int = 0  # dossiers written without some of their events: the window left them out


def export(
    fmt: ExportFormat, out: TextIO, store: EventStore, catalogue: Catalogue, selection: Selection
) -> ExportSummary:
    """Stream the selected history to `out` (text, UTF-8) in `fmt`."""
    started = time.perf_counter()
    selected = History(store, selection)
    if fmt == ExportFormat.XES:
        described = {
            key: value.isoformat() if hasattr(value, "isoformat") else str(value)
            for key, value in (
                ("from", selection.start),
                ("to", selection.end),
                ("agency", selection.agency),
                ("procedure", selection.procedure),
                ("whole_cases", "true" if selection.whole_cases else None),
            )
            if value is not None
        }
        dossiers, events = write_xes(out, selected, described)
    elif fmt == ExportFormat.OCEL:
        dossiers, events = write_ocel(out, selected, catalogue)
    elif fmt == ExportFormat.OCEL_SQLITE:
        raise ValueError("OCEL 2.0 SQLite is a database file: use export_database")
    else:
        dossiers, events = write_csv(out, selected)
    out.flush()
    return ExportSummary(fmt, dossiers, events, time.perf_counter() - started, selected.damaged, selected.cut)


def export_database(
    path: Path, store: EventStore, catalogue: Catalogue, selection: Selection
) -> ExportSummary:
    """Write the selected history as a new OCEL 2.0 SQLite database at `path`."""
    started = time.perf_counter()
    selected = History(store, selection)
    dossiers, events = write_ocel_sqlite(path, selected, catalogue)
    return ExportSummary(
        ExportFormat.OCEL_SQLITE,
        dossiers,
        events,
        time.perf_counter() - started,
        selected.damaged,
        selected.cut,
    )
