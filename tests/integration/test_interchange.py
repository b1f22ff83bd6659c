"""Interchange: the real WABO receipt log in and out again, exports for mining tools, streaming memory.

Expectations come from the log itself, read here by a plain parse independent of the
importer (`log_flow`), or from the data's README where it states a count.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import random
import sqlite3
import statistics
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from typer.testing import CliRunner

from domain.agencies import AgencyLevel
from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.store import EventStore
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat, export
from gateways.interchange.mapping import GroupMapping
from gateways.interchange.selection import Selection, dossier_ids, parse_bound, unpacked
from gateways.interchange.xes_import import UNRECORDED, import_xes
from gateways.interchange.xes_report import ImportReport
from gateways.seed.demo import seed_demo
from gateways.settings import Settings
from tests.conftest import VN, FakeClock
from tests.integration.test_interchange_fidelity import (
    OCEL_SCHEMA,
    assert_same_mining,
    assert_valid_xes,
    case_ids,
    typed_traces,
)

RECEIPT = Path(__file__).parents[2].parent / "shared" / "data" / "receipt.xes"
NS = "{http://www.xes-standard.org/}"
NO_GROUP = "EMPTY"


# --- an independent reading of a log: what the imported history must show ----------------------


@dataclass
class Flow:
    """Handoff edges and closed steps' dwell (seconds) per agency name, plus plain counts."""

    edges: Counter[tuple[str, str]] = field(default_factory=Counter)
    dwell: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    traces: int = 0
    traces_without_group: int = 0
    events: int = 0
    channels: Counter[str] = field(default_factory=Counter)

    def dwell_stats(self) -> dict[str, tuple[float, float]]:
        return {a: (round(sum(g), 3), round(statistics.median(g), 3)) for a, g in self.dwell.items() if g}


def _attrs(elem: ET.Element) -> dict[str, str]:
    return {c.get("key", ""): c.get("value", "") for c in elem if c.tag != NS + "event"}


def log_flow(path: Path) -> Flow:
    """Read the log as a process miner would: a change of org:group is a handoff; EMPTY is no group.

    A step of a group runs from the event that brought the dossier there (or the first
    event, for the group that received it) to the first event of the next group.
    """
    flow = Flow()
    for _kind, elem in ET.iterparse(path):
        if elem.tag != NS + "trace":
            continue
        flow.traces += 1
        flow.channels[_attrs(elem).get("channel", "")] += 1
        events = sorted(
            (datetime.fromisoformat(a["time:timestamp"]), a.get("org:group", NO_GROUP))
            for a in (_attrs(e) for e in elem.iter(NS + "event"))
        )
        flow.events += len(events)
        named = [g for _t, g in events if g != NO_GROUP]
        flow.traces_without_group += not named
        holder, entered = (named[0] if named else UNRECORDED.name), events[0][0]
        for at, group in events[1:]:
            if group not in (NO_GROUP, holder):
                flow.edges[(holder, group)] += 1
                flow.dwell[holder].append((at - entered).total_seconds())
                holder, entered = group, at
        elem.clear()
    return flow


def store_flow(store: EventStore, names: dict[str, str] | None = None) -> Flow:
    """The same measures from the event streams (agency codes shown as `names` give them)."""
    flow = Flow()
    shown = names or {}

    def name(code: str) -> str:
        return shown.get(code, code)

    for dossier_id in dossier_ids(store):
        flow.traces += 1
        holder, entered = "", datetime.min
        for record in store.load(dossier_id):
            e, p = record.envelope, record.envelope["payload"]
            at = datetime.fromisoformat(e["occurred_at"])
            flow.events += 1
            if e["type"] == "DossierReceived":
                holder, entered = p["receiving_agency_code"], at
                flow.channels[p["channel"]] += 1
            elif e["type"] == "LegacyTraceRecorded":
                flow.events += len(p["activities"])  # the case, then each event of the log
                for activity in p["activities"]:
                    if activity["agency_code"] != holder:  # the log's dossier moved to another unit
                        moved = datetime.fromisoformat(activity["occurred_at"])
                        flow.dwell[name(holder)].append((moved - entered).total_seconds())
                        flow.edges[(name(holder), name(activity["agency_code"]))] += 1
                        holder, entered = activity["agency_code"], moved
            elif e["type"] in ("HandedOff", "ResultReady"):
                flow.dwell[name(holder)].append((at - entered).total_seconds())
                if e["type"] == "HandedOff":
                    flow.edges[(name(p["from_agency_code"]), name(p["to_agency_code"]))] += 1
            elif e["type"] in ("HandoffAccepted", "HandoffReturned"):
                holder, entered = p["to_agency_code"], at
    return flow


def agency_names(container: Container) -> dict[str, str]:
    return {a.code: a.name for a in container.catalogue.hierarchy}


# --- containers -----------------------------------------------------------------------------------


def _receipt() -> Path:
    if not RECEIPT.exists():
        pytest.skip("the shared receipt.xes log is not next to the repository")
    return RECEIPT


@dataclass
class Imported:
    container: Container
    report: ImportReport
    seconds: float


@pytest.fixture(scope="module")
def receipt_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """The receipt log imported once into a SQLite store shared by this module's read-only tests."""
    path = _receipt()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("receipt") / "var",
        jwt_secret="test-secret-of-at-least-thirty-two-bytes",
    )
    container = bootstrap(settings, clock=FakeClock(datetime(2026, 8, 28, 14, 0, tzinfo=VN)))
    started = time.perf_counter()
    report = import_xes(path, cli.bulk_service(container))
    seconds = time.perf_counter() - started
    container.feed.catch_up()
    yield Imported(container, report, seconds)
    container.close()


def _export(container: Container, fmt: ExportFormat, selection: Selection | None = None) -> str:
    out = io.StringIO(newline="")
    export(fmt, out, container.store, container.catalogue, selection or Selection())
    return out.getvalue()


# --- the real log ---------------------------------------------------------------------------------


def test_receipt_log_becomes_one_dossier_per_trace_with_every_event(receipt_store: Imported) -> None:
    report, container = receipt_store.report, receipt_store.container
    expected = log_flow(RECEIPT)
    # The data README: 1,434 traces, 8,577 events; channels Internet 1,250, Desk 109, Post 53,
    # e-mail 21, Intern 1.
    assert (expected.traces, expected.events) == (1434, 8577)
    assert report.traces_read == report.dossiers_created == 1434
    assert report.events_read == 8577
    # Every event is recorded as it is, the first of each trace too; nothing is dropped.
    assert report.mapped == 0
    assert report.legacy == report.events_accounted == 8577
    assert report.dropped == report.events_in_skipped == 0
    assert report.channels_defaulted == Counter({"e-mail": 21, "Intern": 1})
    # A receipt-phase log never says how the procedure ended: every dossier stays open.
    assert report.left_open == 1434

    stored = store_flow(container.store, agency_names(container))
    assert stored.traces == 1434
    # online = Internet; direct = Desk 109 + e-mail 21 + Intern 1 = 131; postal = Post 53
    assert stored.channels == Counter({"online": 1250, "direct": 131, "postal": 53})
    # Written: a synthesized receipt per trace, then the trace in one event (its case and every
    # event of the log, each at the unit its group names); no handoff is invented.
    assert report.synthesized == report.cases_recorded == 1434
    assert report.events_written == 2 * 1434
    assert stored.events == 8577 + 2 * 1434  # each event of the log, the receipt and the case
    assert stored.edges == expected.edges
    assert stored.dwell_stats() == expected.dwell_stats()
    assert "EMPTY" not in agency_names(container).values()  # no group recorded is not a unit
    rows = container.index.search(["imported = ?"], [True], limit=5000, after=None)
    assert len(rows) == 1434  # the views show the imported history
    rate = report.events_written / receipt_store.seconds
    print(
        f"\nreceipt.xes import: {report.events_written} events, {receipt_store.seconds:.1f} s, {rate:.0f}/s"
    )


def test_receipt_groups_become_agencies_at_the_default_level(receipt_store: Imported) -> None:
    hierarchy = receipt_store.container.catalogue.hierarchy
    group_1 = hierarchy.latest("GROUP-1")
    assert group_1 is not None and group_1.name == "Group 1"
    assert group_1.level == AgencyLevel.PROVINCE_DEPARTMENT
    procedure = receipt_store.container.catalogue.procedure(receipt_store.report.procedure_code)
    assert procedure is not None
    # 1,079 traces give 56 days between startdate and deadline: 8 weeks = 40 working days x 8 h
    assert procedure.deadline_working_hours == 320.0


def test_running_the_import_again_creates_nothing(receipt_store: Imported) -> None:
    container = receipt_store.container
    before = container.store.max_notification_id()
    again = import_xes(RECEIPT, cli.bulk_service(container))
    assert again.skipped_existing == 1434
    assert again.dossiers_created == again.events_written == 0
    assert not again.procedure_created and again.agencies_created == []
    assert again.events_in_skipped == again.events_accounted == 8577
    assert container.store.max_notification_id() == before


def test_exported_xes_imports_back_to_the_same_handoffs_and_dwell(
    receipt_store: Imported, make_container: Any, tmp_path: Path
) -> None:
    source = receipt_store.container
    exported = tmp_path / "export.xes"
    started = time.perf_counter()
    with exported.open("w", encoding="utf-8", newline="") as out:
        summary = export(ExportFormat.XES, out, source.store, source.catalogue, Selection())
    seconds = time.perf_counter() - started
    # What happened in the legacy system, without what the import synthesized.
    assert (summary.dossiers, summary.events) == (1434, 8577)
    print(f"\nXES export: {summary.events} events in {seconds:.2f} s ({summary.events / seconds:.0f}/s)")

    target = make_container(f"sqlite:///{tmp_path / 'again.sqlite'}")
    report = import_xes(exported, cli.bulk_service(target))
    assert report.dossiers_created == 1434
    # The same log again: the same events written, at the same units.
    assert report.events_written == receipt_store.report.events_written
    assert report.legacy == receipt_store.report.legacy == 8577
    # Agencies keep their codes both ways (the export names them by code).
    first, second = store_flow(source.store), store_flow(target.store)
    assert sum(second.edges.values()) > 3000  # the comparison below is about real traffic
    assert second.edges == first.edges
    assert second.dwell_stats() == first.dwell_stats()

    # What a process miner sees: the log as it was (case ids, every attribute by type and
    # value), valid against the standard's schema, PM4Py's DFG and performance DFG on
    # activities and on groups unchanged; and export -> import -> export is a fixed point.
    assert_valid_xes(exported)
    assert case_ids(exported) == case_ids(RECEIPT)
    assert typed_traces(exported) == typed_traces(RECEIPT)
    assert_same_mining(RECEIPT, exported)
    again = tmp_path / "again.xes"
    with again.open("w", encoding="utf-8", newline="") as out:
        export(ExportFormat.XES, out, target.store, target.catalogue, Selection())
    assert again.read_bytes() == exported.read_bytes()


def test_ocel_export_relates_every_event_to_its_dossier(receipt_store: Imported) -> None:
    container = receipt_store.container
    started = time.perf_counter()
    log = json.loads(_export(container, ExportFormat.OCEL, Selection(synthesized=True)))
    seconds = time.perf_counter() - started
    # Native events (receipts, handoffs) and imported steps alike follow the standard's schema:
    # every type and kind of object checked on one of each (the whole takes the validator ~8 s).
    sample = {
        **log,
        "events": list({e["type"]: e for e in log["events"]}.values()),
        "objects": list({o["type"]: o for o in log["objects"]}.values()),
    }
    assert len(sample["events"]) == len(log["eventTypes"]) > 27  # 27 activities + lienthong's types
    jsonschema.validate(sample, json.loads(OCEL_SCHEMA.read_text(encoding="utf-8")))
    assert [t["name"] for t in log["objectTypes"]] == ["dossier", "agency", "procedure"]
    objects = {o["id"]: o for o in log["objects"]}
    assert len(objects) == len(log["objects"])  # ids are unique
    dossiers = [o for o in log["objects"] if o["type"] == "dossier"]
    assert len(dossiers) == 1434
    # Each event of the log, and the receipt and case record the import synthesized per trace.
    assert len(log["events"]) == receipt_store.report.legacy + 2 * 1434
    declared = {t["name"]: {a["name"] for a in t["attributes"]} for t in log["eventTypes"]}
    for event in log["events"]:
        related = [r for r in event["relationships"] if r["qualifier"] == "dossier"]
        assert len(related) == 1 and objects[related[0]["objectId"]]["type"] == "dossier"
        assert all(r["objectId"] in objects for r in event["relationships"])
        assert {a["name"] for a in event["attributes"]} <= declared[event["type"]]
    step = next(e for e in log["events"] if e["type"] == "T02 Check confirmation of receipt")
    qualifiers = {r["qualifier"]: objects[r["objectId"]]["type"] for r in step["relationships"]}
    # An imported step: its dossier, the unit its group names (one relation), the procedure.
    assert qualifiers == {"dossier": "dossier", "acting agency": "agency", "procedure": "procedure"}
    print(f"\nOCEL export: {len(log['events'])} events in {seconds:.2f} s")


def test_csv_export_has_a_bom_and_one_row_per_event(receipt_store: Imported) -> None:
    container = receipt_store.container
    text = _export(container, ExportFormat.CSV)
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == receipt_store.report.legacy == 8577  # synthesized events left out
    assert len({r["dossier_id"] for r in rows}) == 1434
    legacy = [r for r in rows if r["type"] == "LegacyActivityRecorded"]
    assert len(legacy) == receipt_store.report.legacy
    assert Counter(r["activity"] for r in legacy)["T02 Check confirmation of receipt"] == 1368  # README
    # A process miner's columns: the log's own case ids and lifecycle transitions.
    assert len({r["case_id"] for r in rows}) == 1434 and "case-10011" in {r["case_id"] for r in rows}
    assert Counter(r["lifecycle"] for r in rows) == Counter(
        e["lifecycle:transition"][1] for _t, evs in typed_traces(RECEIPT) for e in evs
    )


def test_export_filters_by_event_time_and_agency(receipt_store: Imported) -> None:
    container = receipt_store.container
    tz = container.calendar.tz
    window = Selection(
        start=parse_bound("2011-11-01", tz, end=False),
        end=parse_bound("2011-11-30", tz, end=True),
        synthesized=True,
    )
    rows = list(csv.DictReader(io.StringIO(_export(container, ExportFormat.CSV, window)[1:])))
    start, end = window.start, window.end
    assert start is not None and end is not None
    in_window = [
        r
        for d in dossier_ids(container.store)
        for r in unpacked(container.store.load(d))
        if start <= datetime.fromisoformat(r.envelope["occurred_at"]) <= end
    ]
    assert 0 < len(rows) == len(in_window)
    # The window is local (Asia/Ho_Chi_Minh) days: 2011-11-01 00:00 +07:00 to 2011-11-30 23:59:59.999999.
    assert start == datetime(2011, 10, 31, 17, tzinfo=UTC)
    assert all(start <= datetime.fromisoformat(r["occurred_at"]) <= end for r in rows)

    # Group 12 appears in few traces; the export holds exactly those dossiers, whole.
    traces_with_group_12 = 0
    for _kind, elem in ET.iterparse(RECEIPT):
        if elem.tag == NS + "trace":
            traces_with_group_12 += any(
                _attrs(e).get("org:group") == "Group 12" for e in elem.iter(NS + "event")
            )
            elem.clear()
    only = Selection(agency="GROUP-12", synthesized=True)
    rows = list(csv.DictReader(io.StringIO(_export(container, ExportFormat.CSV, only)[1:])))
    assert 0 < len({r["dossier_id"] for r in rows}) == traces_with_group_12
    for dossier_id in {r["dossier_id"] for r in rows}:
        assert len([r for r in rows if r["dossier_id"] == dossier_id]) == len(
            unpacked(container.store.load(dossier_id))
        )


# --- generated logs: backends, mapping, memory, the command line -------------------------------


def write_log(path: Path, traces: int, seed: int = 7, name: str = "Generated receipt log") -> None:
    """A WABO-like log written trace by trace: groups with EMPTY, channels, deadlines."""
    rng = random.Random(seed)
    cet = timezone(timedelta(hours=1))
    groups = ["Group 1", "Group 2", "Group 3", "Group 4", NO_GROUP]
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8" ?>\n')
        out.write('<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n')
        out.write(f'\t<string key="concept:name" value="{name}"/>\n')
        for i in range(traces):
            start = datetime(2011, 1, 3, 8, tzinfo=cet) + timedelta(minutes=97 * i)
            channel = rng.choice(["Internet", "Internet", "Desk", "Post", "e-mail"])
            out.write(f'\t<trace>\n\t\t<string key="concept:name" value="case-{i}"/>\n')
            out.write(f'\t\t<string key="channel" value="{channel}"/>\n')
            out.write(f'\t\t<date key="startdate" value="{start.isoformat()}"/>\n')
            out.write(f'\t\t<date key="deadline" value="{(start + timedelta(days=28)).isoformat()}"/>\n')
            at = start
            for k in range(rng.randint(1, 8)):
                at += timedelta(minutes=rng.randint(1, 3000))
                out.write(
                    "\t\t<event>\n"
                    f'\t\t\t<string key="concept:name" value="T{rng.randint(1, 20):02d} step"/>\n'
                    f'\t\t\t<string key="org:group" value="{rng.choice(groups)}"/>\n'
                    f'\t\t\t<string key="org:resource" value="Resource{rng.randint(1, 9):02d}"/>\n'
                    f'\t\t\t<date key="time:timestamp" value="{at.isoformat(timespec="milliseconds")}"/>\n'
                    '\t\t\t<string key="lifecycle:transition" value="complete"/>\n'
                    f'\t\t\t<string key="concept:instance" value="task-{i}-{k}"/>\n'
                    "\t\t</event>\n"
                )
            out.write("\t</trace>\n")
        out.write("</log>\n")


def test_import_on_each_backend_is_complete_and_idempotent(
    backend_url: str, make_container: Any, tmp_path: Path
) -> None:
    path = tmp_path / "generated.xes"
    write_log(path, traces=40)
    expected = log_flow(path)
    container = make_container(backend_url)
    report = import_xes(path, cli.bulk_service(container))
    assert report.dossiers_created == 40
    assert report.mapped + report.legacy == report.events_read == expected.events
    assert report.channels_defaulted == Counter({"e-mail": expected.channels["e-mail"]})
    stored = store_flow(container.store, agency_names(container))
    assert stored.edges == expected.edges
    assert stored.dwell_stats() == expected.dwell_stats()
    procedure = container.catalogue.procedure(report.procedure_code)
    # 28 days between startdate and deadline: 4 weeks = 20 working days x 8 h
    assert procedure is not None and procedure.deadline_working_hours == 160.0
    again = import_xes(path, cli.bulk_service(container))
    assert (again.skipped_existing, again.dossiers_created, again.events_written) == (40, 0, 0)


def test_mapping_file_gives_groups_their_codes_and_levels(make_container: Any, tmp_path: Path) -> None:
    path = tmp_path / "generated.xes"
    write_log(path, traces=20)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "default_level": "district",
                "groups": {
                    "Group 1": {"code": "000.00.01.H29", "level": "commune", "name": "Phường Thảo Điền"},
                    "Group 2": "province_centre",
                },
            }
        ),
        encoding="utf-8",
    )
    container = make_container()
    import_xes(path, cli.bulk_service(container), GroupMapping.load(mapping))
    hierarchy = container.catalogue.hierarchy
    levels = {code: hierarchy.level_on(code, datetime(2011, 6, 1).date()) for code in hierarchy.codes()}
    expected = log_flow(path)
    assert expected.traces_without_group > 0  # so the catch-all agency is there too
    assert levels == {
        "000.00.01.H29": AgencyLevel.COMMUNE,
        "GROUP-2": AgencyLevel.PROVINCE_CENTRE,
        "GROUP-3": AgencyLevel.DISTRICT,
        "GROUP-4": AgencyLevel.DISTRICT,
        "UNRECORDED": AgencyLevel.DISTRICT,
    }
    assert hierarchy.latest("000.00.01.H29").name == "Phường Thảo Điền"  # type: ignore[union-attr]
    stored = store_flow(container.store, agency_names(container))
    renamed = {"Group 1": "Phường Thảo Điền"}
    assert stored.edges == Counter(
        {(renamed.get(a, a), renamed.get(b, b)): n for (a, b), n in expected.edges.items()}
    )


def _collect_now_and_then(report: ImportReport) -> None:
    # A full collection empties CPython's free lists (tuples, dicts): a bounded cache that
    # otherwise fills with the amount of work and blurs what the importer itself holds.
    if report.traces_read % 25 == 0:
        gc.collect()


def _peak_import_bytes(container: Container, path: Path) -> int:
    service = cli.bulk_service(container)
    gc.collect()
    tracemalloc.start()
    try:
        # The import holds one batch of traces before appending it; both logs span several.
        import_xes(path, service, progress=_collect_now_and_then, flush_every=25)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peak_parse_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        ET.parse(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_import_memory_does_not_grow_with_the_log(make_container: Any, tmp_path: Path) -> None:
    small, large, warm = tmp_path / "n.xes", tmp_path / "4n.xes", tmp_path / "warm.xes"
    write_log(small, traces=75, seed=1)
    write_log(large, traces=300, seed=1)
    write_log(warm, traces=5, seed=2, name="warm-up")
    # First use loads modules and fills bounded caches; keep that out of both measures.
    import_xes(warm, cli.bulk_service(make_container(f"sqlite:///{tmp_path / 'warm.sqlite'}")))
    peak_n = _peak_import_bytes(make_container(f"sqlite:///{tmp_path / 'n.sqlite'}"), small)
    peak_4n = _peak_import_bytes(make_container(f"sqlite:///{tmp_path / '4n.sqlite'}"), large)
    # The measure sees growth: a reader that keeps the whole document grows about 4x.
    assert _peak_parse_bytes(large) > 3 * _peak_parse_bytes(small)
    assert peak_4n < 1.5 * peak_n, (peak_n, peak_4n)
    print(f"\nimport peak traced memory: N {peak_n / 1024:.0f} KiB, 4N {peak_4n / 1024:.0f} KiB")


def test_lifecycle_of_exported_dossiers_replays_on_import(
    make_container: Any, clock: Any, tmp_path: Path
) -> None:
    source = make_container(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    seed_demo(source.service, clock(), dossiers=25, seed=11)
    exported = tmp_path / "demo.xes"
    with exported.open("w", encoding="utf-8", newline="") as out:
        export(ExportFormat.XES, out, source.store, source.catalogue, Selection())
    assert_valid_xes(exported)  # lienthong's own history too
    target = make_container(f"sqlite:///{tmp_path / 'again.sqlite'}")
    report = import_xes(exported, cli.bulk_service(target))
    assert report.dossiers_created == 25 and report.mapped > 0

    def ends(container: Container) -> Counter[str]:
        finals = Counter()
        for d in dossier_ids(container.store):
            types = [r.type for r in container.store.load(d)]
            finals[next((t for t in reversed(types) if t in _ENDINGS), "open")] += 1
        return finals

    assert ends(target) == ends(source)
    assert ends(source)["ResultReturned"] > 0
    assert store_flow(target.store).edges == store_flow(source.store).edges


_ENDINGS = ("ResultReturned", "ResultReady", "DossierWithdrawn", "ProcessingStopped")


def test_command_line_imports_then_exports(tmp_path: Path, interchange_cli: typer.Typer) -> None:
    app = interchange_cli
    path = tmp_path / "generated.xes"
    write_log(path, traces=12)
    runner = CliRunner()

    # Two forked workers decide and encode the traces (the default takes them only where a
    # core is free): the same import as in one process, tests/integration/test_xes_sharded_import.py.
    result = runner.invoke(app, ["import-xes", str(path), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "dossiers created" in result.output and "12" in result.output

    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["export", "csv", "--out", str(out), "--agency", "GROUP-1"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf" and not (tmp_path / "out.csv.part").exists()
    result = runner.invoke(app, ["export", "xes"])
    assert result.exit_code == 0
    assert result.stdout.count("<trace>") == 12

    container = bootstrap()
    try:  # embedded mode: the views already show the import
        assert len(container.index.search(["imported = ?"], [True], limit=100, after=None)) == 12
    finally:
        container.close()

    result = runner.invoke(app, ["export", "csv", "--from", "yesterday"])
    assert result.exit_code == 2 and "neither a date" in result.output

    broken = tmp_path / "broken.xes"
    broken.write_text(path.read_text(encoding="utf-8")[:-200], encoding="utf-8")
    result = runner.invoke(app, ["import-xes", str(broken)])
    assert result.exit_code == 2 and "not well-formed XML" in result.output

    bad = tmp_path / "bad-mapping.json"
    bad.write_text('{"groups": {"Group 1": "county"}}', encoding="utf-8")
    result = runner.invoke(app, ["import-xes", str(path), "--mapping", str(bad)])
    assert result.exit_code == 2 and "unknown level 'county'" in result.output


def test_export_leaves_out_a_dossier_whose_stored_event_is_damaged(
    make_container: Any, tmp_path: Path
) -> None:
    path = tmp_path / "generated.xes"
    write_log(path, traces=6)
    container = make_container(f"sqlite:///{tmp_path / 'damaged.sqlite'}")
    import_xes(path, cli.bulk_service(container))
    conn = sqlite3.connect(tmp_path / "damaged.sqlite")
    table = next(
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'") if "event" in r[0]
    )
    conn.execute(
        f"UPDATE {table} SET state = ? WHERE rowid = (SELECT MIN(rowid) FROM {table})", (b"not json",)
    )
    conn.commit()
    conn.close()
    out = io.StringIO(newline="")
    summary = export(ExportFormat.XES, out, container.store, container.catalogue, Selection())
    assert (summary.dossiers, summary.damaged) == (5, 1)
    assert out.getvalue().count("<trace>") == 5 and out.getvalue().rstrip().endswith("</log>")
