"""Interchange on the shapes of well-known public logs, where a process miner would look.

Small logs are built here after the published shape of the road-traffic-fines log (no
group at all, a resource on some events only, several events of a case on one day at
midnight with +01:00/+02:00 offsets across daylight saving time) and of the travel
permit log (attribute keys with spaces, events whose times go back within a trace,
duplicate trace names, start/complete pairs), plus trace names that collide with a
disambiguated case id and a log writing each attribute's value before its key. The
rich-log and receipt-log round trips are in test_interchange_fidelity.py and
test_interchange.py; this file reuses their independent reading of the files.
"""

from __future__ import annotations

import json
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from lxml import etree

from gateways.bench.mining import KeyMissing, differences, edge_stats, pm4py_edge_stats
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat
from gateways.interchange.selection import dossier_ids, unpacked
from gateways.interchange.xes import DATE_REWRITTEN, EVENT_OUTSIDE_TRACE, NOT_A_NAME
from gateways.interchange.xes_import import import_xes
from gateways.interchange.xes_report import TRACE_NO_GROUP
from tests.integration.test_interchange_fidelity import (
    XSD,
    assert_same_mining,
    assert_valid_xes,
    case_ids,
    export_to,
    typed_traces,
)
from tests.integration.test_xes_bulk_import import assert_same_import
from tests.integration.test_xes_sharded_import import assert_same_rows

pm4py = pytest.importorskip("pm4py")

WORKERS = pytest.mark.parametrize("workers", [0, 2], ids=["this-process", "two-workers"])
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
)


def attribute(kind: str, key: str, value: Any) -> str:
    return f"<{kind} key={quoteattr(key)} value={quoteattr(str(value))}/>"


def event(name: str, at: str, *extra: str, group: str | None = "Desk") -> str:
    body = attribute("string", "concept:name", name) + attribute("date", "time:timestamp", at)
    if group is not None:
        body += attribute("string", "org:group", group)
    return "<event>" + body + "".join(extra) + "</event>\n"


def trace(name: str, *events: str) -> str:
    return "<trace>" + attribute("string", "concept:name", name) + "\n" + "".join(events) + "</trace>\n"


def stored_case_ids(container: Any) -> list[str]:
    return sorted(
        r.envelope["payload"]["case_id"]
        for d in dossier_ids(container.store)
        for r in unpacked(container.store.load(d))
        if r.type == "LegacyCaseRecorded"
    )


# --- trace names -------------------------------------------------------------------------------


@WORKERS
def test_a_trace_named_like_a_disambiguated_case_id_is_not_taken_for_it(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """Two traces `x` and one named `x (2)`, in either order: three dossiers, every event
    kept. The second `x` was imported as `x (2)`, the dossier of the trace so named, and
    skipped as already imported: its events were lost."""
    renamings = {
        ("x (2)", "x", "x"): [("x", "x (3)")],
        ("x", "x", "x (2)"): [("x", "x (2)"), ("x (2)", "x (2) (2)")],
        ("#2", "", "x"): [("", "#2 (2)")],  # a trace without a name is `#<position>`
    }
    for order, (names, renamed) in enumerate(renamings.items()):
        log = tmp_path / f"names-{order}.xes"
        log.write_text(
            HEAD
            + "".join(
                trace(name, event(f"Step {i}", f"2020-01-0{i + 1}T10:00:00+01:00"))
                for i, name in enumerate(names)
            )
            + "</log>\n",
            encoding="utf-8",
        )
        container = make_container(f"sqlite:///{tmp_path / f'names-{order}.sqlite'}")
        report = import_xes(log, cli.bulk_service(container), workers=workers)
        assert (report.dossiers_created, report.legacy, report.skipped_existing) == (3, 3, 0), names
        assert report.renamed == renamed
        assert len(set(stored_case_ids(container))) == 3
        exported = export_to(container, ExportFormat.XES, tmp_path / f"names-{order}.xes.out")
        assert sorted(e["concept:name"][1] for _t, evs in typed_traces(exported) for e in evs) == [
            "Step 0",
            "Step 1",
            "Step 2",
        ]


# --- mining on any well-formed log ---------------------------------------------------------------


def test_mining_reads_attributes_whatever_the_order_of_key_and_value(tmp_path: Path) -> None:
    """XML gives an element's attributes no order: a log writing `value` before `key`
    (either quote, spread over lines) gives the numbers PM4Py gives, not "no event has it"."""
    steps = (("Register", "Anna"), ("Check", "Binh"), ("Decide", "Anna"))

    def case(c: int) -> str:
        return trace(
            f"case-{c}",
            *(
                event(
                    name,
                    f"2020-01-0{c + 1}T{9 + i:02d}:00:00+01:00",
                    attribute("string", "org:resource", who),
                )
                for i, (name, who) in enumerate(steps)
                if c or name != "Check"
            ),
        )

    swapped = (
        (HEAD + "".join(case(c) for c in range(3)) + "</log>\n")
        .replace(
            '<string key="concept:name" value="case-1"/>', "<string value='case-1'\n key='concept:name'/>"
        )
        .replace('key="org:resource" value="Anna"', 'value="Anna" key="org:resource"')
        .replace('key="concept:name" value="Check"', 'value="Check"  key="concept:name"')
    )
    path = tmp_path / "swapped.xes"
    path.write_text(swapped, encoding="utf-8")
    for key in ("concept:name", "org:resource"):
        ours, events = edge_stats(path, key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, _seconds, read = pm4py_edge_stats(path, key)
        assert events == read == 8
        assert differences(ours, theirs) == [], key
        assert sum(s.count for s in ours.values()) == 5, key


# --- the shapes of public logs --------------------------------------------------------------------


def assert_faithful(
    source: Path, container: Any, make_container: Any, tmp_path: Path, workers: int, keys: tuple[str, ...]
) -> Path:
    """The export (synthesized events left out) says what `source` says, PM4Py and `bench
    mining` give it the numbers they give `source` on each key (or both say the key is
    missing), and export -> import -> export writes the same bytes."""
    first = export_to(container, ExportFormat.XES, tmp_path / "first.xes")
    assert case_ids(first) == case_ids(source)
    assert typed_traces(first) == typed_traces(source)  # each trace in the order written
    for key in keys:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                theirs, _seconds, events = pm4py_edge_stats(source, key)
            except KeyMissing:
                for path in (source, first):
                    with pytest.raises(KeyMissing, match=key):
                        edge_stats(path, key)
                continue
            exported, _seconds, exported_events = pm4py_edge_stats(first, key)
        assert exported_events == events
        assert theirs and differences(exported, theirs) == [], key
        assert differences(edge_stats(first, key)[0], theirs) == [], key
    again = make_container(f"sqlite:///{tmp_path / 'again.sqlite'}")
    import_xes(first, cli.bulk_service(again), workers=workers)
    second = export_to(again, ExportFormat.XES, tmp_path / "second.xes")
    assert second.read_bytes() == first.read_bytes()
    return first


def _midnight(day: date) -> str:
    """Date-only precision as the fines log has it: local midnight, +02:00 in summer time."""
    summer = date(day.year, 3, 25) <= day < date(day.year, 10, 28)
    return f"{day.isoformat()}T00:00:00.000+0{2 if summer else 1}:00"


def fines_log(path: Path, traces: int = 20) -> None:
    """The road-traffic-fines shape: no org:group at all, org:resource on `Create Fine` only,
    typed amounts, several events of a fine on one day, all `complete`."""
    out = [HEAD]
    for i in range(traces):
        day = date(2006, 3, 1) + timedelta(days=23 * i)
        amount = 35.0 + i
        steps = [
            (
                "Create Fine",
                day,
                attribute("float", "amount", amount),
                attribute("string", "org:resource", str(537 + i % 3)),
                attribute("string", "article", "157"),
                attribute("int", "points", i % 3 * 2),
                attribute("string", "dismissal", "NIL"),
                attribute("string", "vehicleClass", "A"),
            )
        ]
        if i % 4 == 0:  # paid on the day it was written
            paid = attribute("float", "paymentAmount", amount)
            steps.append(
                ("Payment", day, paid, attribute("string", "org:resource", "561") if i % 8 == 0 else "")
            )
        else:
            sent = day + timedelta(days=70 + i)
            clerk = attribute("string", "org:resource", "prefecture")
            steps += [
                ("Send Fine", sent, attribute("float", "expense", 11.0)),
                (
                    "Insert Fine Notification",
                    sent + timedelta(days=12),
                    attribute("string", "notificationType", "P"),
                    attribute("string", "lastSent", "N"),
                ),
            ]
            if i % 4 == 1:  # an appeal inserted and sent on the same day
                steps += [
                    ("Insert Date Appeal to Prefecture", sent + timedelta(days=20), clerk),
                    ("Send Appeal to Prefecture", sent + timedelta(days=20), clerk),
                ]
            steps.append(("Add penalty", sent + timedelta(days=72), attribute("float", "amount", 2 * amount)))
            steps.append(("Send for Credit Collection", sent + timedelta(days=400)))
        out.append(
            trace(
                f"A{i + 1}",
                *(
                    event(
                        name,
                        _midnight(at),
                        attribute("string", "lifecycle:transition", "complete"),
                        *extra,
                        group=None,
                    )
                    for name, at, *extra in steps
                ),
            )
        )
    path.write_text("".join(out) + "</log>\n", encoding="utf-8")


@WORKERS
def test_a_fines_shaped_log_without_groups_mines_the_same(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    source = tmp_path / "fines.xes"
    fines_log(source)
    container = make_container(f"sqlite:///{tmp_path / 'fines.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers)
    assert (report.dossiers_created, report.legacy, report.events_read) == (20, 95, 95)
    assert report.unmapped[TRACE_NO_GROUP] == 20
    units = {
        a["agency_code"]
        for d in dossier_ids(container.store)
        for r in container.store.load(d)
        if r.type == "LegacyTraceRecorded"
        for a in r.envelope["payload"]["activities"]
    }
    assert units == {"UNRECORDED"}  # every event at the one unit that holds what names none
    # Named for the dashboard, which speaks Vietnamese first (decision 240).
    unrecorded = container.catalogue.hierarchy.latest("UNRECORDED")
    assert unrecorded is not None and unrecorded.name == "Chưa ghi đơn vị (hồ sơ nhập từ hệ thống cũ)"
    procedure = container.catalogue.procedure(report.procedure_code)
    assert procedure is not None and procedure.name.startswith("Hồ sơ nhập từ hệ thống cũ: ")
    first = assert_faithful(
        source, container, make_container, tmp_path, workers, ("concept:name", "org:resource", "org:group")
    )
    assert_valid_xes(first)
    text = first.read_text(encoding="utf-8")  # nothing invented: no group, no other resource
    assert "org:group" not in text and text.count('key="org:resource"') == 33
    # In OCEL too, no unit where the log names none: no agency object, no relation to one.
    ocel = json.loads(export_to(container, ExportFormat.OCEL, tmp_path / "fines.jsonocel").read_text("utf-8"))
    assert {o["type"] for o in ocel["objects"]} == {"dossier", "procedure"}
    assert {r["qualifier"] for e in ocel["events"] for r in e["relationships"]} == {"dossier", "procedure"}
    assert {r["qualifier"] for o in ocel["objects"] for r in o["relationships"]} == {"follows"}
    assert all(a["name"] != "holder_agency_code" for o in ocel["objects"] for a in o["attributes"])


def test_groups_that_differ_only_in_case_are_two_agencies_in_either_order(
    make_container: Any, tmp_path: Path
) -> None:
    """`G97` reads as an agency code already (what a lienthong export writes); after `g97`,
    whose derived code it is, it was taken for that agency: one unit, no handoff."""
    for order, groups in enumerate((("g97", "G97"), ("G97", "g97"))):
        source = tmp_path / f"groups-{order}.xes"
        source.write_text(
            HEAD
            + trace(
                "c1",
                event("a", "2024-03-01T09:00:00+07:00", group=groups[0]),
                event("b", "2024-03-02T09:00:00+07:00", group=groups[1]),
            )
            + "</log>\n",
            encoding="utf-8",
        )
        container = make_container(f"sqlite:///{tmp_path / f'groups-{order}.sqlite'}")
        report = import_xes(source, cli.bulk_service(container), workers=0)
        assert len(report.agencies_created) == 2, groups
        (stored,) = [r for d in dossier_ids(container.store) for r in container.store.load(d)][1:]
        # Each event at its own unit: the second moved the dossier (what a miner's DFG shows).
        units = [a["agency_code"] for a in stored.envelope["payload"]["activities"]]
        assert len(set(units)) == 2 and set(units) == set(report.agencies_created), groups


def test_dates_in_other_iso_forms_keep_their_instant_and_the_export_validates(
    make_container: Any, tmp_path: Path
) -> None:
    """Python (and PM4Py) read more of ISO 8601 than xs:dateTime allows; such a date was kept
    as written and the export failed the standard's schema."""
    written = [
        "2020-01-01 10:00:00+00:00",
        "2020-01-01T11:00Z",
        "20200105T000000Z",
        "2020-W02-3T12:00:00+00:00",
    ]
    source = tmp_path / "lax.xes"
    source.write_text(
        HEAD
        + trace(
            "c1",
            *(
                event(f"step {i}", at, attribute("date", "due", "2020-02-01 08:00:00+07:00"))
                for i, at in enumerate(written)
            ),
        )
        + "</log>\n",
        encoding="utf-8",
    )
    container = make_container(f"sqlite:///{tmp_path / 'lax.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=0)
    assert report.legacy == 4 and report.unmapped[DATE_REWRITTEN] == 8
    first = export_to(container, ExportFormat.XES, tmp_path / "lax-out.xes")
    assert_valid_xes(first)
    [(_case, events)] = typed_traces(first)
    assert [e["time:timestamp"][:2] for e in events] == [
        ("date", datetime.fromisoformat(at)) for at in written
    ]
    assert {e["due"][:2] for e in events} == {("date", datetime.fromisoformat("2020-02-01T08:00:00+07:00"))}


@WORKERS
def test_events_outside_any_trace_are_counted_not_lost_silently(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    stray = event("stray", "2024-03-01T08:00:00+07:00")
    source = tmp_path / "stray.xes"
    source.write_text(
        HEAD
        + stray
        + trace("c1", event("a", "2024-03-01T09:00:00+07:00"))
        + stray
        + trace("c2", event("b", "2024-03-01T10:00:00+07:00"))
        + stray
        + stray
        + "</log>\n",
        encoding="utf-8",
    )
    container = make_container(f"sqlite:///{tmp_path / 'stray.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers)
    assert report.dossiers_created == 2 and report.legacy == 2
    assert report.unmapped[EVENT_OUTSIDE_TRACE] == 4


@WORKERS
def test_a_log_without_stray_events_reports_no_such_reason(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """The report listed "event directly under the log, in no trace" with a count of 0 after every
    import (the count after the last trace was added even when it was 0)."""
    source = tmp_path / "plain.xes"
    source.write_text(
        HEAD + trace("c1", event("a", "2024-03-01T09:00:00+07:00")) + "</log>\n", encoding="utf-8"
    )
    container = make_container(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers)
    assert report.dossiers_created == 1
    assert EVENT_OUTSIDE_TRACE not in report.unmapped and 0 not in report.unmapped.values()


def test_ocel_relates_no_unit_to_a_step_whose_group_says_none_was_recorded(
    make_container: Any, tmp_path: Path
) -> None:
    """`EMPTY` (as the receipt log writes it) or a blank group is "no unit recorded": the
    import leaves such a step with the agency holding the dossier, which the log never named
    for it, so the OCEL export relates it to none."""
    source = tmp_path / "empty.xes"
    source.write_text(
        HEAD
        + trace(
            "c1",
            event("register", "2024-03-01T09:00:00+07:00", group="Unit A"),
            event("auto-check", "2024-03-02T09:00:00+07:00", group="EMPTY"),
            event("sign", "2024-03-03T09:00:00+07:00", group=" "),
            event("send", "2024-03-04T09:00:00+07:00", group="Unit B"),
        )
        + "</log>\n",
        encoding="utf-8",
    )
    container = make_container(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    import_xes(source, cli.bulk_service(container), workers=0)
    ocel = json.loads(export_to(container, ExportFormat.OCEL, tmp_path / "empty.jsonocel").read_text("utf-8"))
    agencies = {
        e["type"]: sorted(r["qualifier"] for r in e["relationships"] if r["objectId"].startswith("agency:"))
        for e in ocel["events"]
    }
    assert {step: agencies[step] for step in ("register", "auto-check", "sign", "send")} == {
        "register": ["acting agency"],
        "auto-check": [],
        "sign": [],
        "send": ["acting agency"],
    }


PERMIT_STEPS = (
    ("Permit SUBMITTED by EMPLOYEE", "EMPLOYEE"),
    ("Permit FINAL_APPROVED by SUPERVISOR", "SUPERVISOR"),
    ("Déclaration vérifiée — contrôle", "BUDGET OWNER"),
    ("Declaration REJECTED by MISSING", "MISSING"),
    ("Request Payment", "UNDEFINED"),
)


def permit_log(path: Path, traces: int = 20) -> int:
    """The travel-permit shape: typed trace attributes (one key with a space, as that log has),
    org:role and org:resource on events (the resource not always), start/complete pairs, a
    list and a nested attribute, groups differing only in case, a trace name met twice and
    events whose times go back within a trace. Returns how often the spaced key is written."""
    out, spaced = [HEAD], 0
    for i in range(traces):
        start = datetime(2018, 1, 1, 8, tzinfo=timezone(timedelta(hours=1))) + timedelta(
            days=9 * i, minutes=i
        )
        head = [
            attribute("id", "id", f"permit {i}"),
            attribute("float", "RequestedBudget", 120.5 + i),
            attribute("boolean", "Overspent", "true" if i % 3 else "false"),
            attribute("date", "travel_start", (start + timedelta(days=30)).isoformat()),
            attribute("int", "BudgetNumber", 400 + i),
        ]
        if i % 2:
            head.append(attribute("string", "Permit ProjectNumber", f"project {i}"))
            spaced += 1
        events = []
        for j in range(4 + i % 3):
            name, role = PERMIT_STEPS[(i + j) % len(PERMIT_STEPS)] if j else PERMIT_STEPS[0]
            at = start + timedelta(hours=7 * j, seconds=j)
            if j == 2 and i % 4 == 3:
                at -= timedelta(days=2)  # recorded later, dated earlier
            common = [
                attribute("string", "org:role", role),
                attribute("string", "org:group", ("Finance", "finance", "Travel Office")[(i + j) % 3]),
            ]
            if (i + j) % 5:
                common.append(attribute("string", "org:resource", "STAFF MEMBER" if j % 2 else "SYSTEM"))
            if j == 1 and i % 5 == 0:
                common.append(
                    '<list key="documents"><values>'
                    + attribute("string", "doc", "ticket.pdf")
                    + attribute("int", "pages", 3)
                    + '</values></list><string key="comment" value="checked">'
                    + attribute("string", "language", "nl")
                    + "</string>"
                )
            if j % 2:  # a start/complete pair
                common.insert(0, attribute("string", "lifecycle:transition", "start"))
                events.append(event(name, at.isoformat(timespec="milliseconds"), *common, group=None))
                at += timedelta(minutes=25)
                common[0] = attribute("string", "lifecycle:transition", "complete")
            events.append(event(name, at.isoformat(timespec="milliseconds"), *common, group=None))
        out.append(
            "<trace>"
            + attribute("string", "concept:name", f"travel permit {i - 1 if i == 7 else i}")
            + "".join(head)
            + "\n"
            + "".join(events)
            + "</trace>\n"
        )
    path.write_text("".join(out) + "</log>\n", encoding="utf-8")
    return spaced


@WORKERS
def test_a_permit_shaped_log_mines_the_same_and_keeps_keys_as_written(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    source = tmp_path / "permits.xes"
    spaced = permit_log(source)
    container = make_container(f"sqlite:///{tmp_path / 'permits.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers)
    events = sum(len(evs) for _t, evs in typed_traces(source))
    assert (report.dossiers_created, report.legacy, report.events_read) == (20, events, events)
    assert report.renamed == [("travel permit 6", "travel permit 6 (2)")]
    # A key that is no XML name is kept as the log wrote it, and the report says the export
    # will not validate because of it.
    assert report.unmapped[NOT_A_NAME] == spaced
    first = assert_faithful(
        source,
        container,
        make_container,
        tmp_path,
        workers,
        ("concept:name", "org:group", "org:resource", "org:role"),
    )
    assert_same_mining(source, first)  # start and end activities too
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert not schema.validate(etree.parse(str(first)))
    assert {e.message.split("'")[5] for e in schema.error_log} == {"Permit ProjectNumber"}
    assert_valid_xes_without(first, "Permit ProjectNumber", tmp_path)


def assert_valid_xes_without(path: Path, key: str, tmp_path: Path) -> None:
    """The export validates once the attributes of that key are taken out."""
    tree = etree.parse(str(path))
    for elem in tree.iter():
        if elem.get("key") == key:
            elem.getparent().remove(elem)
    without = tmp_path / "without.xes"
    tree.write(str(without))
    assert_valid_xes(without)


def municipal_log(path: Path, traces: int = 12) -> None:
    """The municipal-permit shape (BPI 2015): activity codes, numeric-looking resources and
    values, a comma list as text, dates on events, steps seconds apart, times written with
    and without milliseconds."""
    codes = [
        f"{phase:02d}_{part}_{step:03d}"
        for phase in (1, 5, 8)
        for part in ("HOOFD", "BB")
        for step in (10, 20)
    ]
    out = [HEAD]
    for i in range(traces):
        at = datetime(2011, 3, 20, 9, tzinfo=timezone(timedelta(hours=1))) + timedelta(
            days=5 * i, minutes=7 * i
        )
        head = (
            attribute("string", "parts", "Bouw,Milieu (neutraal wijziging)"),
            attribute("float", "SUMleges", 1250.75 + i),
            attribute("string", "caseStatus", "GO"[i % 2]),
            attribute("string", "responsible", str(560464 + i % 3)),
            attribute("boolean", "Includes_subCases", "false" if i % 3 else "true"),
        )
        steps = []
        for j in range(6 + i % 4):
            at += timedelta(seconds=1 + i % 2) if j % 3 else timedelta(days=1, minutes=13 * j)
            code = codes[(i + 3 * j) % len(codes)]
            stamp = at.isoformat(timespec="milliseconds" if j % 2 else "seconds")
            steps.append(
                event(
                    code,
                    stamp,
                    attribute("string", "org:resource", str(560400 + (i + j) % 4)),
                    attribute("string", "monitoringResource", "560464"),
                    attribute("string", "action_code", code),
                    attribute("string", "activityNameEN", f"step {code[-3:]} of phase {code[:2]}"),
                    attribute("string", "question", ("True", "EMPTY", "2011-02-03")[j % 3]),
                    attribute("date", "dateFinished", stamp),
                    attribute("date", "dueDate", (at + timedelta(days=56)).isoformat()),
                    group=None,
                )
            )
        out.append(trace(str(2760925 + 7 * i), *steps).replace("\n", "".join(head) + "\n", 1))
    path.write_text("".join(out) + "</log>\n", encoding="utf-8")


@WORKERS
def test_a_municipal_shaped_log_keeps_its_text_text_and_mines_the_same(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    source = tmp_path / "municipal.xes"
    municipal_log(source)
    container = make_container(f"sqlite:///{tmp_path / 'municipal.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers)
    events = sum(len(evs) for _t, evs in typed_traces(source))
    assert (report.dossiers_created, report.legacy) == (12, events)
    first = assert_faithful(
        source, container, make_container, tmp_path, workers, ("concept:name", "org:resource")
    )
    assert_valid_xes(first)
    # Numbers written as text stay text for PM4Py, in the XES and the OCEL export alike.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = pm4py.read_xes(str(first), show_progress_bar=False)
        ocel_path = export_to(container, ExportFormat.OCEL, tmp_path / "municipal.jsonocel")
        ocel = pm4py.read_ocel2_json(str(ocel_path))
    for frame in (log, ocel.events):
        assert set(frame["org:resource"]) == {"560400", "560401", "560402", "560403"}
        assert set(frame["question"]) == {"True", "EMPTY", "2011-02-03"}
        assert str(frame["dueDate"].dtype).startswith("datetime64")
    assert set(log["case:responsible"]) == {"560464", "560465", "560466"}


def test_the_shapes_store_the_same_events_per_event_in_bulk_and_over_workers(
    make_container: Any, tmp_path: Path
) -> None:
    """The places kept for a trace whose times go back, and the keys counted, are the same
    whichever path decides the trace: one command per event, the bulk path, two workers."""
    for name, write in (("permits", permit_log), ("fines", fines_log), ("municipal", municipal_log)):
        folder = tmp_path / name
        folder.mkdir()
        source = folder / f"{name}.xes"
        write(source)
        assert_same_import(make_container, folder, source)
        _container, report = assert_same_rows(make_container, folder, source, workers=2, flush_every=3)
        assert report.dossiers_created > 0
