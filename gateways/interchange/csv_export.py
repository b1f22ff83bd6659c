"""Write dossier history as CSV: one row per event, UTF-8 with a BOM.

The BOM makes spreadsheet programs read the file as UTF-8, so Vietnamese names
show as written. Those programs also run a cell that starts with `=`, `+`, `-` or `@`
as a formula (a leading tab or carriage return can hide one), and a legacy log's activity
or resource, or an officer's note, is anybody's text: a text cell starting with any of
these six is written with a `'` before it (OWASP's advice on CSV injection), so it shows
as text. The one numeric column, `seq`, is written as the number it is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from domain.legacy import text_of
from gateways.interchange.fields import activity_of
from gateways.interchange.selection import Trace
from gateways.interchange.xes import GROUP, TRANSITION

BOM = "\ufeff"
# What makes a spreadsheet program read a cell as a formula (OWASP: CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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
    # For process miners (who import CSV by case, activity and time): the case id in the legacy
    # log a dossier was imported from, and the event's lifecycle transition (a legacy log's
    # own; `complete` for what lienthong records, facts once done).
    "case_id",
    "lifecycle",
    # The event's group as the XES export writes it: a legacy step's `org:group` as its log
    # wrote it (none written: empty, where `agency_code` holds the unit the import kept the
    # step at), else the agency that acted.
    "group",
]


def text_cell(value: Any) -> str:
    """A text column's cell, `'` before it when a spreadsheet would run it as a formula
    (a number's text too: these columns hold text, and `-3.5` as an activity is a name)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _row(e: dict[str, Any], trace: Trace) -> list[Any]:
    return [
        text_cell(v) if column != "seq" else int(v)
        for column, v in zip(COLUMNS, _values(e, trace), strict=True)
    ]


def _values(e: dict[str, Any], trace: Trace) -> list[Any]:
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
        trace.case_id or "",
        _lifecycle(payload) if e["type"] == "LegacyActivityRecorded" else "complete",
        _group(e, payload),
    ]


def _group(e: dict[str, Any], payload: dict[str, Any]) -> str:
    original = payload.get("original") if e["type"] == "LegacyActivityRecorded" else None
    if original:
        return text_of(original.get(GROUP)) or ""
    return str(e.get("agency_code") or "")


def _lifecycle(payload: dict[str, Any]) -> str:
    """A legacy step's transition as its log wrote it (none written: none)."""
    return text_of((payload.get("original") or {}).get(TRANSITION)) or ""


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
