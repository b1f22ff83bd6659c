"""The bulk XES import stores the same events as one command per event.

Each log is imported twice, into two fresh stores: once by the per-event path
(`import_xes(..., bulk=False)`, one decided command per event, the reference) and once by
the bulk path (each trace decided at once, the default). Every stored event must be the
same field by field, apart from what is random or follows from it: the receipt's sealed
applicant and lookup-secret hash (the bulk path draws neither), hence the hash chain's
values. Logs: the real receipt log (its first traces), the tests' built logs (every XES
type, duplicates, EMPTY groups, generated WABO-like traces), a lienthong export whose
lifecycle events are replayed, and one whose lifecycle events the rules refuse.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateways.application.errors import Refused
from gateways.audit.chains import verify_chains
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat, export, export_database
from gateways.interchange.selection import Selection, dossier_ids
from gateways.interchange.xes import NotXes, XesLog
from gateways.interchange.xes_child import PIPE_BYTES, ChildXesLog, _widen
from gateways.interchange.xes_import import import_xes
from gateways.interchange.xes_report import ImportReport
from gateways.seed.demo import seed_demo
from tests.integration.test_interchange import RECEIPT, _export, write_log
from tests.integration.test_interchange_fidelity import RICH

RANDOM_IN_RECEIPT = ("applicant", "lookup_secret_hash")


def stored(container: Container) -> dict[str, list[dict[str, Any]]]:
    """Every stream's envelopes, less what is random in a receipt and the hashes over it."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for dossier_id in dossier_ids(container.store):
        envelopes = []
        for record in container.store.load(dossier_id):
            envelope = {k: v for k, v in record.envelope.items() if k not in ("hash", "prev_hash")}
            envelope["payload"] = {k: v for k, v in envelope["payload"].items() if k not in RANDOM_IN_RECEIPT}
            envelopes.append(envelope)
        streams[dossier_id] = envelopes
    return streams


def imported(
    make_container: Any, tmp_path: Path, log: Path, name: str, *, bulk: bool, child: bool | None = None
) -> tuple[Container, ImportReport]:
    container = make_container(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), flush_every=40, bulk=bulk, read_in_child=child)
    return container, report


def assert_same_import(
    make_container: Any, tmp_path: Path, log: Path, child: bool | None = None
) -> tuple[Container, ImportReport]:
    reference, expected = imported(make_container, tmp_path, log, "per-event", bulk=False)
    bulk, report = imported(make_container, tmp_path, log, "bulk", bulk=True, child=child)
    assert {**asdict(report), "seconds": 0} == {**asdict(expected), "seconds": 0}
    want, got = stored(reference), stored(bulk)
    assert got.keys() == want.keys()
    for dossier_id, events in want.items():
        assert len(got[dossier_id]) == len(events), dossier_id
        for seq, (a, b) in enumerate(zip(got[dossier_id], events, strict=True), start=1):
            assert a == b, (dossier_id, seq)
    assert sum(map(len, got.values())) == report.events_written > 0
    assert [a.code for a in bulk.catalogue.hierarchy] == [a.code for a in reference.catalogue.hierarchy]
    # Tamper evidence as for any append: every chain recomputes, in append order.
    verified = verify_chains(bulk.store)
    assert verified.first_bad is None and verified.checked_events == report.events_written
    return bulk, report


def _receipt_head(tmp_path: Path, traces: int) -> Path:
    if not RECEIPT.exists():
        pytest.skip("the shared receipt.xes log is not next to the repository")
    tree = etree.parse(str(RECEIPT))
    root = tree.getroot()
    for trace in [t for t in root if etree.QName(t).localname == "trace"][traces:]:
        root.remove(trace)
    path = tmp_path / "receipt-head.xes"
    tree.write(str(path), xml_declaration=True, encoding="utf-8")
    return path


def test_receipt_log_head_imports_to_the_same_events(make_container: Any, tmp_path: Path) -> None:
    container, report = assert_same_import(make_container, tmp_path, _receipt_head(tmp_path, 250))
    assert report.dossiers_created == 250 and report.legacy > 250
    # No applicant, so no data key and no secret anyone could look the dossier up with.
    some = next(iter(dossier_ids(container.store)))
    receipt = container.store.load(some)[0].envelope["payload"]
    assert receipt["applicant"] == {} and receipt["lookup_secret_hash"] == ""
    assert not container.vault.has_key(some)


def test_rich_log_imports_to_the_same_events(make_container: Any, tmp_path: Path) -> None:
    log = tmp_path / "rich.xes"
    log.write_text(RICH, encoding="utf-8")
    _container, report = assert_same_import(make_container, tmp_path, log)
    assert report.renamed and report.unmapped


@pytest.mark.parametrize("child", [False, True], ids=["read-here", "read-in-child"])
def test_generated_logs_import_to_the_same_events(make_container: Any, tmp_path: Path, child: bool) -> None:
    log = tmp_path / "generated.xes"
    write_log(log, traces=120, seed=5)
    assert_same_import(make_container, tmp_path, log, child=child)


def test_a_child_process_reads_the_log_as_this_one_does(tmp_path: Path) -> None:
    log = tmp_path / "rich.xes"
    log.write_text(RICH.replace('value="1"/>', 'value="maybe"/>'), encoding="utf-8")
    here, there = XesLog(log), ChildXesLog(log, batch=2)
    assert list(there.traces()) == list(here.traces())
    assert there.name == here.name == "Rich log"
    assert there.problems == here.problems and there.problems  # the boolean that is not one


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are a Linux setting")
def test_the_pipe_from_the_child_holds_whole_batches() -> None:
    receive, send = multiprocessing.Pipe(duplex=False)
    try:
        _widen(send)
        assert fcntl.fcntl(send.fileno(), fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    finally:
        receive.close()
        send.close()


def test_a_child_process_refuses_what_is_not_an_xes_log(tmp_path: Path) -> None:
    log = tmp_path / "cut.xes"
    log.write_text(RICH[: len(RICH) // 2], encoding="utf-8")
    with pytest.raises(NotXes, match="not well-formed"):
        next(ChildXesLog(log).traces())


def test_exported_lifecycle_replays_to_the_same_events(
    make_container: Any, clock: Any, tmp_path: Path
) -> None:
    source = make_container(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    seed_demo(source.service, clock(), dossiers=30, seed=3)
    log = tmp_path / "demo.xes"
    with log.open("w", encoding="utf-8", newline="") as out:
        export(ExportFormat.XES, out, source.store, source.catalogue, Selection())
    _container, report = assert_same_import(make_container, tmp_path, log)
    assert report.mapped > report.dossiers_created


REFUSED = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <trace>
    <string key="concept:name" value="odd"/>
    <event>
      <string key="concept:name" value="Intake"/>
      <string key="org:group" value="Desk"/>
      <date key="time:timestamp" value="2024-03-04T09:00:00+07:00"/>
    </event>
    <event>
      <string key="concept:name" value="Returned early"/>
      <string key="lienthong:type" value="ResultReturned"/>
      <string key="org:group" value="Desk"/>
      <date key="time:timestamp" value="2024-03-05T09:00:00+07:00"/>
    </event>
    <event>
      <string key="concept:name" value="Decided without outcome"/>
      <string key="lienthong:type" value="DossierDecided"/>
      <string key="org:group" value="Desk"/>
      <date key="time:timestamp" value="2024-03-06T09:00:00+07:00"/>
    </event>
    <event>
      <string key="concept:name" value="Sent on"/>
      <string key="lienthong:type" value="HandedOff"/>
      <string key="lienthong:to_agency_code" value="Office"/>
      <string key="org:group" value="Desk"/>
      <date key="time:timestamp" value="2024-03-07T09:00:00+07:00"/>
    </event>
    <event>
      <string key="concept:name" value="Sent again"/>
      <string key="lienthong:type" value="HandedOff"/>
      <string key="lienthong:to_agency_code" value="Office"/>
      <string key="org:resource" value="xes-import"/>
      <date key="time:timestamp" value="2024-03-08T09:00:00+07:00"/>
    </event>
    <event>
      <string key="concept:name" value="Taken"/>
      <string key="lienthong:type" value="HandoffAccepted"/>
      <string key="org:group" value="Office"/>
      <date key="time:timestamp" value="2024-03-09T09:00:00+07:00"/>
    </event>
    <event>
      <string key="lienthong:type" value="ProcessingStopped"/>
      <string key="org:group" value="Office"/>
      <date key="time:timestamp" value="2024-03-10T09:00:00+07:00"/>
    </event>
  </trace>
</log>
"""


def test_lifecycle_the_rules_refuse_is_recorded_as_legacy_the_same_way(
    make_container: Any, tmp_path: Path
) -> None:
    log = tmp_path / "refused.xes"
    log.write_text(REFUSED, encoding="utf-8")
    _container, report = assert_same_import(make_container, tmp_path, log)
    reasons = " | ".join(report.unmapped)
    assert "Returned early refused by the rules" in reasons
    assert "Decided without outcome without the attributes" in reasons
    assert "Sent again refused by the rules" in reasons  # in transit already
    assert report.mapped == 3 and report.left_open == 0  # handed off, accepted, stopped


def test_no_export_carries_the_applicant(make_container: Any, clock: Any, tmp_path: Path) -> None:
    container = make_container(f"sqlite:///{tmp_path / 'mixed.sqlite'}")
    seed_demo(container.service, clock(), dossiers=6, seed=4)
    log = tmp_path / "legacy.xes"
    write_log(log, traces=6, seed=4)
    import_xes(log, cli.bulk_service(container))
    receipts = [container.store.load(d)[0].envelope["payload"] for d in dossier_ids(container.store)]
    # Received dossiers keep their applicant in the store, sealed; imported ones have none.
    assert sum("ciphertext" in r["applicant"] for r in receipts) == 6
    assert sum(r["applicant"] == {} and r["lookup_secret_hash"] == "" for r in receipts) == 6
    database = tmp_path / "log.sqlite"
    export_database(database, container.store, container.catalogue, Selection())
    dump = "\n".join(sqlite3.connect(database).iterdump())
    for _fmt, text in [(f, _export(container, f)) for f in ExportFormat if f != ExportFormat.OCEL_SQLITE] + [
        (ExportFormat.OCEL_SQLITE, dump)
    ]:
        assert "applicant" not in text and "ciphertext" not in text and "lookup_secret" not in text


def test_imported_history_refuses_files_saying_why(make_container: Any, tmp_path: Path) -> None:
    log = tmp_path / "rich.xes"
    log.write_text(RICH, encoding="utf-8")
    container, _report = imported(make_container, tmp_path, log, "bulk", bulk=True)
    dossier_id = next(iter(dossier_ids(container.store)))
    state = container.service.load(dossier_id).state
    assert state is not None and state.imported
    holder = Principal(sub="officer@holder", role="officer", agency_code=sorted(state.involved_agencies)[0])
    with pytest.raises(Refused) as refused:
        container.attachments.precheck(holder, dossier_id, "component", "any component")
    # Not "erased": nobody's data was erased; imported history never had an applicant.
    assert (refused.value.status, refused.value.slug) == (409, "imported-history")
    assert "imported from a legacy log" in refused.value.detail
