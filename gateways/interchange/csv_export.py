"""Write dossier history as CSV: one row per event, UTF-8 with a BOM.

The BOM makes spreadsheet programs read the file as UTF-8, so Vietnamese names
show as written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from gateways.interchange.fields import activity_of
from gateways.interchange.selection import Trace

BOM = "\ufeff"
COLUMNS = [
    "dossier_id",
    "receipt_code",
    "seq",
    "type",
    "activity",
    "occurred_at",
    "recorded_at",
    "agency_code",
    "actor_user",
    "actor_role",
    "from_agency_code",
    "to_agency_code",
    "consulted_agency_code",
    "procedure_code",
    "channel",
    "imported",
    "outcome",
    "timeliness",
    "note",
    "hash",
]


def _row(e: dict[str, Any], trace: Trace) -> list[Any]:
    payload = e.get("payload") or {}
    actor = e.get("actor") or {}
    return [
        trace.dossier_id,
        trace.receipt_code,
        e["seq"],
        e["type"],
        activity_of(e),
        e["occurred_at"],
        e.get("recorded_at", ""),
        e.get("agency_code") or "",
        actor.get("user") or "",
        actor.get("role") or "",
        payload.get("from_agency_code") or "",
        payload.get("to_agency_code") or "",
        payload.get("consulted_agency_code") or "",
        trace.procedure_code,
        trace.channel,
        "true" if trace.imported else "false",
        payload.get("outcome") or "",
        payload.get("timeliness") or payload.get("step_timeliness") or "",
        payload.get("reason")
        or payload.get("note")
        or payload.get("question")
        or payload.get("answer")
        or "",
        e["hash"],
    ]


def write_csv(out: TextIO, traces: Iterable[Trace]) -> tuple[int, int]:
    """Write the rows; returns (dossiers, events) written."""
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    dossiers = events = 0
    for trace in traces:
        for record in trace.events:
            writer.writerow(_row(record.envelope, trace))
            events += 1
        dossiers += 1
    return dossiers, events
