"""Interchange that process miners trust: what a log says survives import and export.

Logs are built here with every XES type, lifecycle start/complete, missing resources,
duplicate trace names and groups that differ only in case; the real receipt log is in
test_interchange.py (its round trip reuses the import there). Expectations come from an
independent reading of the files (`typed_traces`, plain lxml) and from PM4Py.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from lxml import etree
from typer.testing import CliRunner

from gateways.bootstrap import Container, bootstrap
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat, export, export_database
from gateways.interchange.selection import Selection, dossier_ids, unpacked
from gateways.interchange.xes import BAD_BOOLEAN, BAD_FLOAT, BAD_INT, MAX_DEPTH, TOO_DEEP, NotXes
from gateways.interchange.xes_import import DEFAULT_DEADLINE_WORKING_HOURS, import_xes
from gateways.interchange.xes_report import NO_TIME

pm4py = pytest.importorskip("pm4py")

SCHEMAS = Path(__file__).parents[2] / "gateways" / "interchange" / "schemas"
XSD = SCHEMAS / "xes-ieee-1849-2016.xsd"
OCEL_SCHEMA = SCHEMAS / "ocel20-schema-json.json"
NS = "{http://www.xes-standard.org/}"

# --- an independent reading --------------------------------------------------------------------


def _value(elem: Any) -> Any:
    """An attribute element's value as what it means (type, then value), children included."""
    tag = etree.QName(elem).localname
    if tag == "list":
        values = next((c for c in elem if etree.QName(c).localname == "values"), [])
        nested = {c.get("key"): _value(c) for c in elem if etree.QName(c).localname != "values"}
        return ("list", [(c.get("key"), _value(c)) for c in values], nested)
    children = {c.get("key"): _value(c) for c in elem}
    raw = elem.get("value")
    meaning: Any = raw
    if tag == "int":
        meaning = int(raw)
    elif tag == "float":
        meaning = float(raw)
    elif tag == "boolean":
        meaning = raw.lower() in ("true", "1")
    elif tag == "date":
        meaning = datetime.fromisoformat(raw)
    return (tag, meaning, children)


def _attributes(elem: Any) -> dict[str, Any]:
    return {
        c.get("key"): _value(c)
        for c in elem
        if etree.QName(c).localname not in ("event",) and not str(c.get("key", "")).startswith("lienthong:")
    }


def typed_traces(path: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every trace: its attributes and its events' attributes, by meaning, lienthong's aside."""
    root = etree.parse(str(path)).getroot()
    return [
        (_attributes(t), [_attributes(e) for e in t if etree.QName(e).localname == "event"])
        for t in root
        if etree.QName(t).localname == "trace"
    ]


def case_ids(path: Path) -> list[str]:
    return [str(attributes["concept:name"][1]) for attributes, _events in typed_traces(path)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def mining_view(path: Path) -> dict[str, Any]:
    """PM4Py's DFG, start/end activities and performance DFG on concept:name and org:group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = pm4py.read_xes(str(path), show_progress_bar=False)
    out: dict[str, Any] = {"events": len(log)}
    for key in ("concept:name", "org:group"):
        keys = {"activity_key": key, "timestamp_key": "time:timestamp", "case_id_key": "case:concept:name"}
        dfg, start, end = pm4py.discover_dfg(log, **keys)
        performance, _, _ = pm4py.discover_performance_dfg(log, **keys)
        out[key] = (dict(dfg), dict(start), dict(end))
        out[key + " performance"] = {edge: dict(measures) for edge, measures in performance.items()}
    return out


def assert_same_mining(original: Path, exported: Path) -> None:
    a, b = mining_view(original), mining_view(exported)
    assert a["events"] == b["events"]
    for key in ("concept:name", "org:group"):
        assert a[key] == b[key], key
        assert a[key][0], key  # the comparison is about real edges
        pa, pb = a[key + " performance"], b[key + " performance"]
        assert pa.keys() == pb.keys()
        for edge in pa:
            assert all(_same(pa[edge][m], pb[edge][m]) for m in pa[edge]), (key, edge, pa[edge], pb[edge])


def assert_valid_xes(path: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(etree.parse(str(path))), schema.error_log


def export_to(
    container: Container, fmt: ExportFormat, path: Path, selection: Selection | None = None
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        export(fmt, out, container.store, container.catalogue, selection or Selection())
    return path


def assert_round_trip(source: Path, container: Container, make_container: Any, tmp_path: Path) -> Path:
    """source imported in `container`: its export means what the source says, validates,
    gives PM4Py the same numbers, and export -> import -> export writes the same bytes."""
    first = export_to(container, ExportFormat.XES, tmp_path / "first.xes")
    assert_valid_xes(first)
    assert case_ids(first) == case_ids(source)
    assert typed_traces(first) == typed_traces(source)
    assert_same_mining(source, first)
    again = make_container(f"sqlite:///{tmp_path / 'again.sqlite'}")
    import_xes(first, cli.bulk_service(again))
    second = export_to(again, ExportFormat.XES, tmp_path / "second.xes")
    assert second.read_bytes() == first.read_bytes()
    return first


# --- a log with everything ----------------------------------------------------------------------

RICH = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <string key="concept:name" value="Rich log"/>
  <trace>
    <string key="concept:name" value="case-1"/>
    <string key="channel" value="Desk"/>
    <int key="priority" value="3"/>
    <float key="fee" value="2.3832541524E7"/>
    <boolean key="urgent" value="1"/>
    <date key="deadline" value="2011-02-01T10:00:00.000+01:00"/>
    <id key="ref" value="7b4c3d3e-3f0a-4f53-9d2b-2a1f6b3c1d00"/>
    <list key="documents">
      <values>
        <string key="doc" value="application form"/>
        <string key="doc" value="site plan"/>
        <int key="pages" value="12"/>
      </values>
    </list>
    <event>
      <string key="concept:name" value="Register"/>
      <string key="lifecycle:transition" value="start"/>
      <string key="org:resource" value="Anna"/>
      <string key="org:group" value="Front office"/>
      <date key="time:timestamp" value="2011-01-03T09:00:00.000+01:00"/>
      <string key="note" value="first event keeps all of this">
        <string key="language" value="en"/>
        <int key="length" value="29"/>
      </string>
    </event>
    <event>
      <string key="concept:name" value="Register"/>
      <string key="lifecycle:transition" value="complete"/>
      <string key="org:resource" value="Anna"/>
      <string key="org:group" value="Front office"/>
      <date key="time:timestamp" value="2011-01-03T09:30:00.000+01:00"/>
      <float key="cost" value="12.5"/>
    </event>
    <event>
      <string key="concept:name" value="Check"/>
      <string key="lifecycle:transition" value="complete"/>
      <string key="org:group" value="front office"/>
      <date key="time:timestamp" value="2011-01-04T11:00:00.000+01:00"/>
      <boolean key="ok" value="false"/>
    </event>
    <event>
      <string key="concept:name" value="Decide"/>
      <string key="org:resource" value="Binh"/>
      <string key="org:group" value="Back office"/>
      <date key="time:timestamp" value="2011-01-06T15:00:00.000+01:00"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="case-2"/>
    <event>
      <string key="concept:name" value="Register"/>
      <string key="lifecycle:transition" value="complete"/>
      <string key="org:group" value="EMPTY"/>
      <date key="time:timestamp" value="2011-01-05T08:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="Decide"/>
      <string key="org:resource" value="Binh"/>
      <string key="org:group" value="Back office"/>
      <date key="time:timestamp" value="2011-01-07T08:00:00.000+01:00"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="case-1"/>
    <event>
      <string key="concept:name" value="Register"/>
      <string key="org:resource" value="Chi"/>
      <string key="org:group" value="front office"/>
      <date key="time:timestamp" value="2011-01-10T09:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="Check"/>
      <string key="org:resource" value="Chi"/>
      <string key="org:group" value="Front office"/>
      <date key="time:timestamp" value="2011-01-10T10:00:00.000+01:00"/>
    </event>
  </trace>
</log>
"""


@pytest.fixture
def rich_log(tmp_path: Path) -> Path:
    path = tmp_path / "rich.xes"
    path.write_text(RICH, encoding="utf-8")
    return path


def test_every_event_and_attribute_of_a_rich_log_survives_the_round_trip(
    rich_log: Path, backend_url: str, make_container: Any, tmp_path: Path
) -> None:
    container = make_container(backend_url)  # SQLite and PostgreSQL keep the same values
    report = import_xes(rich_log, cli.bulk_service(container))
    # Every event recorded as it is, the first of each trace too; nothing dropped or merged.
    assert (report.traces_read, report.dossiers_created, report.events_read) == (3, 3, 8)
    assert report.legacy == 8 and report.mapped == report.dropped == 0
    # The second 'case-1' is its own dossier under a disambiguated case id, and reported.
    assert report.renamed == [("case-1", "case-1 (2)")]
    # Groups that differ only in case are two agencies, not one.
    names = {a.name: a.code for a in container.catalogue.hierarchy}
    assert {"Front office", "front office", "Back office"} <= names.keys()
    assert names["Front office"] != names["front office"]

    first = assert_round_trip(rich_log, container, make_container, tmp_path)
    text = first.read_text(encoding="utf-8")
    # Nothing invented: no resource where the log had none, no import user, no default group.
    assert "xes-import" not in text and "UNRECORDED" not in text
    events = [e for _t, evs in typed_traces(first) for e in evs]
    assert sum("org:resource" not in e for e in events) == 2
    assert [e["lifecycle:transition"][1] for e in events[:2]] == ["start", "complete"]
    assert events[0]["note"] == (
        "string",
        "first event keeps all of this",
        {"language": ("string", "en", {}), "length": ("int", 29, {})},
    )
    # The disambiguated case keeps its name in the log and its own dossier in the store.
    assert case_ids(first) == ["case-1", "case-2", "case-1"]
    cases = {
        r.envelope["payload"]["case_id"]
        for d in dossier_ids(container.store)
        for r in unpacked(container.store.load(d))
        if r.type == "LegacyCaseRecorded"
    }
    assert cases == {"case-1", "case-2", "case-1 (2)"}


LONG_TOO_BIG = "123456789012345678901234567890"  # beyond an XES int's xs:long


@pytest.mark.parametrize("workers", [0, 1], ids=["this-process", "one-worker"])
def test_values_that_are_not_their_declared_type_are_kept_as_text_and_reported(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """An int beyond 64 bits, a float and a boolean that are not one: the import completes,
    keeps each as the text the log wrote and says so; the export is valid XES."""
    log = tmp_path / "odd.xes"
    log.write_text(
        RICH.replace('<int key="priority" value="3"/>', f'<int key="priority" value="{LONG_TOO_BIG}"/>')
        .replace('<float key="cost" value="12.5"/>', '<float key="cost" value="twelve"/>')
        .replace('<boolean key="ok" value="false"/>', '<boolean key="ok" value="maybe"/>'),
        encoding="utf-8",
    )
    container = make_container(f"sqlite:///{tmp_path / 'odd.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), workers=workers)
    assert (report.dossiers_created, report.legacy) == (3, 8)
    assert {reason: report.unmapped[reason] for reason in (BAD_INT, BAD_FLOAT, BAD_BOOLEAN)} == {
        BAD_INT: 1,
        BAD_FLOAT: 1,
        BAD_BOOLEAN: 1,
    }
    recorded = [
        r.envelope["payload"]
        for d in dossier_ids(container.store)
        for r in unpacked(container.store.load(d))
        if r.type in ("LegacyCaseRecorded", "LegacyActivityRecorded")
    ]
    kept = {
        key: value
        for payload in recorded
        for key, value in {**payload.get("attributes", {}), **payload.get("original", {})}.items()
        if key in ("priority", "cost", "ok")
    }
    assert kept == {
        "priority": {"type": "string", "value": LONG_TOO_BIG},
        "cost": {"type": "string", "value": "twelve"},
        "ok": {"type": "string", "value": "maybe"},
    }
    exported = export_to(container, ExportFormat.XES, tmp_path / "odd-out.xes")
    assert_valid_xes(exported)
    assert typed_traces(exported)[0][0]["priority"] == ("string", LONG_TOO_BIG, {})


def _nested(depth: int) -> str:
    """A container attribute nested `depth` levels deep, a string at the bottom."""
    return (
        '<container key="c">' * (depth - 1)
        + '<string key="s" value="bottom"/>'
        + "</container>" * (depth - 1)
    )


def _placeholder_log(start: str, deadline: str) -> str:
    head = '<?xml version="1.0"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'

    def event(name: str, at: str, extra: str = "") -> str:
        return (
            f'<event><string key="concept:name" value="{name}"/><string key="org:group" value="Desk"/>'
            f'<date key="time:timestamp" value="{at}"/>{extra}</event>'
        )

    dates = f'<date key="startdate" value="{start}"/><date key="deadline" value="{deadline}"/>'
    return (
        head
        + f'<trace><string key="concept:name" value="kept"/>{dates}'
        + event("Register", "2024-03-04T09:00:00+07:00", _nested(MAX_DEPTH + 3))
        + event("Never", "0001-01-01T00:00:00+07:00")
        + event("Someday", "9999-12-31T23:59:59-07:00")
        + "</trace>\n"
        + '<trace><string key="concept:name" value="undated"/>'
        + event("Register", "0001-01-01T00:00:00+00:00")
        + "</trace>\n</log>\n"
    )


@pytest.mark.parametrize("workers", [0, 1], ids=["this-process", "one-worker"])
def test_placeholder_dates_and_deep_nesting_are_reported_not_fatal(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """Legacy systems write 0001-01-01 and 9999-12-31 for "no date", and attributes can nest
    without end: the import completes; such an event is left out and a trace left with none
    makes no dossier, a deadline read off such dates is not one, what nests too deep is left
    out; each is reported by reason."""
    log = tmp_path / "placeholders.xes"
    log.write_text(
        _placeholder_log("0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00"), encoding="utf-8"
    )
    container = make_container(f"sqlite:///{tmp_path / 'p.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), workers=workers)
    assert (report.dossiers_created, report.legacy) == (1, 1)
    assert report.unmapped[NO_TIME] == 3 and report.unmapped[TOO_DEEP] == 1
    procedure = container.catalogue.procedure(report.procedure_code)
    assert procedure is not None and procedure.deadline_working_hours == DEFAULT_DEADLINE_WORKING_HOURS
    (original,) = [
        r.envelope["payload"]["original"]
        for d in dossier_ids(container.store)
        for r in unpacked(container.store.load(d))
        if r.type == "LegacyActivityRecorded"
    ]
    depth, value = 1, original["c"]
    while value["value"] and value["value"][0]["type"] == "container":
        depth, value = depth + 1, value["value"][0]
    assert depth == MAX_DEPTH  # kept down to the limit, what is below it left out
    exported = export_to(container, ExportFormat.XES, tmp_path / "out.xes")
    assert_valid_xes(exported)  # an older XES's containers written as the standard's lists
    text = exported.read_text(encoding="utf-8")
    assert "<container" not in text and text.count('<list key="c">') == MAX_DEPTH


def test_a_deadline_of_centuries_is_not_read_as_the_procedure_deadline(
    make_container: Any, tmp_path: Path
) -> None:
    log = tmp_path / "centuries.xes"
    log.write_text(
        _placeholder_log("1900-01-01T00:00:00+00:00", "2199-01-01T00:00:00+00:00"), encoding="utf-8"
    )
    container = make_container(f"sqlite:///{tmp_path / 'c.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), workers=0)
    procedure = container.catalogue.procedure(report.procedure_code)
    assert procedure is not None and procedure.deadline_working_hours == DEFAULT_DEADLINE_WORKING_HOURS
    assert report.dossiers_created == 1


def test_synthesized_events_are_marked_and_left_out_unless_asked_for(
    rich_log: Path, make_container: Any, tmp_path: Path
) -> None:
    container = make_container(f"sqlite:///{tmp_path / 'rich.sqlite'}")
    report = import_xes(rich_log, cli.bulk_service(container))
    # A receipt per dossier, and each trace in one event (its case and every event of the log):
    # no handoff is invented where the log's group changes (the units stay on the events).
    assert report.synthesized == report.cases_recorded == report.dossiers_created == 3
    assert report.events_written == report.synthesized + report.cases_recorded
    plain = export_to(container, ExportFormat.XES, tmp_path / "plain.xes")
    full = export_to(container, ExportFormat.XES, tmp_path / "full.xes", Selection(synthesized=True))
    assert_valid_xes(full)
    activities = [e["concept:name"][1] for _t, evs in typed_traces(full) for e in evs]
    assert activities.count("DossierReceived") == 3
    assert "HandedOff" not in activities and "HandoffAccepted" not in activities
    assert all(
        e["org:resource"][1] == "xes-import"
        for _t, evs in typed_traces(full)
        for e in evs
        if e["concept:name"][1] == "DossierReceived"
    )
    assert len(activities) == 8 + 3
    assert len([e for _t, evs in typed_traces(plain) for e in evs]) == 8


def test_ocel_exports_validate_and_pm4py_finds_every_activity(
    rich_log: Path, make_container: Any, tmp_path: Path
) -> None:
    container = make_container(f"sqlite:///{tmp_path / 'rich.sqlite'}")
    import_xes(rich_log, cli.bulk_service(container))
    path = export_to(container, ExportFormat.OCEL, tmp_path / "log.jsonocel")
    log = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(log, json.loads(OCEL_SCHEMA.read_text(encoding="utf-8")))
    # The schema does hold exports to its rules: a number where a string belongs fails.
    broken = json.loads(json.dumps(log))
    broken["events"][0]["attributes"].append({"name": "cost", "value": 12.5})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(OCEL_SCHEMA.read_text(encoding="utf-8")))
    # What happened, as the log named it; one qualifier per related object.
    assert {e["type"] for e in log["events"]} == {"Register", "Check", "Decide"}
    for event in log["events"]:
        related = [r["objectId"] for r in event["relationships"]]
        assert len(related) == len(set(related))
    declared = {t["name"]: {a["name"]: a["type"] for a in t["attributes"]} for t in log["eventTypes"]}
    assert declared["Register"]["cost"] == "float" and declared["Check"]["ok"] == "boolean"
    dossiers = {o["id"]: o for o in log["objects"] if o["type"] == "dossier"}
    assert sorted(
        a["value"] for o in dossiers.values() for a in o["attributes"] if a["name"] == "case_id"
    ) == ["case-1", "case-1 (2)", "case-2"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ocel = pm4py.read_ocel2_json(str(path))
    assert set(ocel.events["ocel:activity"]) == {"Register", "Check", "Decide"}
    assert len(ocel.events) == 8
    assert ocel.events["cost"].dropna().tolist() == [12.5]  # typed as declared

    database = tmp_path / "log.sqlite"
    summary = export_database(database, container.store, container.catalogue, Selection())
    assert (summary.dossiers, summary.events) == (3, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relational = pm4py.read_ocel2_sqlite(str(database))
    assert sorted(relational.events["ocel:activity"]) == sorted(ocel.events["ocel:activity"])
    assert relational.events["cost"].dropna().tolist() == [12.5]
    assert len(relational.relations) == len(ocel.relations)
    assert set(relational.objects["ocel:type"]) == {"dossier", "agency", "procedure"}


BAD_FILES = {
    "page.xes": "<!DOCTYPE html>\n<html><head><title>Log</title></head><body><p>Log</p></body></html>\n",
    "table.xes": "case,activity,timestamp\ncase-1,Register,2011-01-03T09:00:00+01:00\n",
    "truncated.xes": RICH[: len(RICH) // 2],
    "empty-log.xes": (
        '<?xml version="1.0"?>\n<log xes.version="1.0"><string key="concept:name" value="x"/></log>\n'
    ),
    "other.xes": '<?xml version="1.0"?>\n<feed><entry/></feed>\n',
}
MESSAGES = {
    "page.xes": "page.xes is not",
    "table.xes": "not well-formed XML",
    "truncated.xes": "not well-formed XML",
    "empty-log.xes": "holds no trace",
    "other.xes": "root element is <feed>",
}


def test_files_that_are_not_xes_logs_exit_non_zero_and_write_nothing(
    tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    app = interchange_cli
    runner = CliRunner()
    container = bootstrap()
    try:
        agencies_before = {a.code for a in container.catalogue.hierarchy}
        procedures_before = {p.code for p in container.catalogue.procedures()}
    finally:
        container.close()
    for name, text in BAD_FILES.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["import-xes", str(path)])
        assert result.exit_code == 2, (name, result.output)
        assert MESSAGES[name] in result.output.replace("\n", " "), (name, result.output)
        assert "dossiers created" not in result.output
    container = bootstrap()
    try:  # nothing written: no event, no agency, no procedure
        assert container.store.max_notification_id() in (0, None)
        assert {a.code for a in container.catalogue.hierarchy} == agencies_before
        assert {p.code for p in container.catalogue.procedures()} == procedures_before
    finally:
        container.close()
    # A good file still imports (the refusals above are about the files).
    good = tmp_path / "rich.xes"
    good.write_text(RICH, encoding="utf-8")
    result = runner.invoke(app, ["import-xes", str(good)])
    assert result.exit_code == 0, result.output
    assert "case-1 (2)" in result.output  # the report names the renamed trace
    result = runner.invoke(app, ["export", "ocel-sqlite"])
    assert result.exit_code == 2 and "--out" in result.output
    result = runner.invoke(app, ["export", "ocel-sqlite", "--out", str(tmp_path / "log.sqlite")])
    assert result.exit_code == 0 and (tmp_path / "log.sqlite").stat().st_size > 0
    result = runner.invoke(app, ["export", "xes", "--synthesized"])
    assert (
        result.exit_code == 0
        and result.stdout.count('<string key="concept:name" value="DossierReceived"/>') == 3
    )


def test_import_api_refuses_a_log_without_traces(make_container: Any, tmp_path: Path) -> None:
    path = tmp_path / "none.xes"
    path.write_text(BAD_FILES["empty-log.xes"], encoding="utf-8")
    container = make_container(f"sqlite:///{tmp_path / 'none.sqlite'}")
    with pytest.raises(NotXes, match="holds no trace"):
        import_xes(path, cli.bulk_service(container))
    assert list(dossier_ids(container.store)) == []
    out = io.StringIO()
    export(ExportFormat.XES, out, container.store, container.catalogue, Selection())
    assert "<trace>" not in out.getvalue()
