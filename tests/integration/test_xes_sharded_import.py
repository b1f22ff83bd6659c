"""The sharded XES import (forked workers decide and encode, this process commits) stores
exactly the rows the single-process bulk import stores.

Each log is imported twice into fresh stores with the same clock: once with everything in
this process (`workers=0`, no reading child), once over forked workers. Every stored row
must be the same byte for byte — notification id, stream, version, type and the envelope
(payload, event id, times, hash chain) — and so must the report, the agencies and the
procedures the import adds. Logs: all of receipt.xes (8 batches over 2 workers), the
tests' built logs over 3 workers and small batches (so every worker takes several), a
lienthong export whose lifecycle is replayed, one whose lifecycle the rules refuse, and a
log naming the same dossier twice, in batches of different workers, once after a trace
the rules refused.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from domain.agencies import Agency
from gateways.bootstrap import Container
from gateways.eventstore.store import EventStore
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat, export
from gateways.interchange.mapping import DEFAULT_LEVEL
from gateways.interchange.selection import Selection
from gateways.interchange.xes import NotXes
from gateways.interchange.xes_import import import_xes
from gateways.interchange.xes_report import ImportReport
from gateways.interchange.xes_shards import WORKERS, ShardedXesImporter, can_shard, default_workers
from gateways.seed.demo import seed_demo
from tests.integration.test_interchange import RECEIPT, write_log
from tests.integration.test_interchange_fidelity import RICH
from tests.integration.test_xes_bulk_import import REFUSED

Row = tuple[int | None, str, int, str, bytes]


def rows(container: Container) -> list[Row]:
    """Every stored event as the notification log holds it, in notification order."""
    return [
        (r.notification_id, r.dossier_id, r.seq, r.type, r.raw)
        for r in container.store.notifications(0, limit=10**7)
    ]


def catalogue(container: Container) -> tuple[list[Agency], list[Any]]:
    return list(container.catalogue.hierarchy), container.catalogue.procedures()


def run(
    make_container: Any,
    tmp_path: Path,
    log: Path,
    name: str,
    *,
    workers: int,
    flush_every: int,
    prepare: Any = None,
) -> tuple[Container, ImportReport]:
    container = make_container(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    if prepare is not None:
        prepare(container)
    service = cli.bulk_service(container)
    report = import_xes(log, service, flush_every=flush_every, workers=workers, read_in_child=False)
    return container, report


def assert_same_rows(
    make_container: Any,
    tmp_path: Path,
    log: Path,
    *,
    workers: int,
    flush_every: int,
    prepare: Any = None,
) -> tuple[Container, ImportReport]:
    here, expected = run(
        make_container, tmp_path, log, f"{log.stem}-here", workers=0, flush_every=flush_every, prepare=prepare
    )
    sharded, report = run(
        make_container,
        tmp_path,
        log,
        f"{log.stem}-sharded",
        workers=workers,
        flush_every=flush_every,
        prepare=prepare,
    )
    assert {**asdict(report), "seconds": 0} == {**asdict(expected), "seconds": 0}
    want, got = rows(here), rows(sharded)
    assert len(got) == len(want) == report.events_written
    for a, b in zip(got, want, strict=True):
        assert a == b, a[:4]
    assert catalogue(sharded) == catalogue(here)
    return sharded, report


def test_receipt_log_stores_the_same_rows_over_two_workers(make_container: Any, tmp_path: Path) -> None:
    if not RECEIPT.exists():
        pytest.skip("the shared receipt.xes log is not next to the repository")
    container, report = assert_same_rows(make_container, tmp_path, RECEIPT, workers=2, flush_every=200)
    assert report.dossiers_created == 1434 and report.events_written == 2 * 1434
    # Run again: every dossier is found, nothing is written, the same way in both paths.
    again = import_xes(RECEIPT, cli.bulk_service(container), workers=2)
    assert again.skipped_existing == 1434 and again.events_written == 0 and not again.agencies_created
    assert len(rows(container)) == 2 * 1434


@pytest.mark.parametrize("workers", [1, 3])
def test_built_logs_store_the_same_rows(make_container: Any, tmp_path: Path, workers: int) -> None:
    rich = tmp_path / "rich.xes"
    rich.write_text(RICH, encoding="utf-8")
    _c, report = assert_same_rows(make_container, tmp_path, rich, workers=workers, flush_every=1)
    assert report.renamed and report.unmapped
    generated = tmp_path / "generated.xes"
    write_log(generated, traces=120, seed=11)
    _c, report = assert_same_rows(make_container, tmp_path, generated, workers=workers, flush_every=7)
    assert report.legacy > 0 and len(report.agencies_created) > 1


def test_exported_and_refused_lifecycles_store_the_same_rows(
    make_container: Any, clock: Any, tmp_path: Path
) -> None:
    source = make_container(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    seed_demo(source.service, clock(), dossiers=30, seed=3)
    exported = tmp_path / "demo.xes"
    with exported.open("w", encoding="utf-8", newline="") as out:
        export(ExportFormat.XES, out, source.store, source.catalogue, Selection())
    _c, report = assert_same_rows(make_container, tmp_path, exported, workers=2, flush_every=4)
    assert report.mapped > report.dossiers_created
    refused = tmp_path / "refused.xes"
    refused.write_text(REFUSED, encoding="utf-8")
    _c, report = assert_same_rows(make_container, tmp_path, refused, workers=2, flush_every=1)
    assert report.mapped == 3


def _trace(name: str, dossier_id: str, group: str, day: int) -> str:
    return f"""  <trace>
    <string key="concept:name" value="{name}"/>
    <string key="lienthong:dossier_id" value="{dossier_id}"/>
    <event>
      <string key="concept:name" value="Intake"/>
      <string key="org:group" value="{group}"/>
      <date key="time:timestamp" value="2024-03-{day:02d}T09:00:00+07:00"/>
    </event>
  </trace>
"""


REPEATED = "a1a1a1a1-0000-4000-8000-000000000001"
AFTER_REFUSAL = "b2b2b2b2-0000-4000-8000-000000000002"
SAME_DOSSIER_TWICE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
    + _trace("first", REPEATED, "Desk", 4)
    + _trace("refused: its desk did not exist yet", AFTER_REFUSAL, "LATE", 5)
    + _trace("first again", REPEATED, "Office", 6)
    + _trace("after the refusal", AFTER_REFUSAL, "Office", 7)
    + "</log>\n"
)


def _late_agency(container: Container) -> None:
    container.catalogue.put_agency(
        Agency(code="LATE", name="Opened later", level=DEFAULT_LEVEL, valid_from=date(2030, 1, 1))
    )


def test_a_dossier_named_twice_is_skipped_or_imported_as_in_one_process(
    make_container: Any, tmp_path: Path
) -> None:
    log = tmp_path / "twice.xes"
    log.write_text(SAME_DOSSIER_TWICE, encoding="utf-8")
    # One trace per batch: with two workers each trace's twin is in the other worker's batch.
    container, report = assert_same_rows(
        make_container, tmp_path, log, workers=2, flush_every=1, prepare=_late_agency
    )
    assert report.skipped_existing == 1 and report.dossiers_created == 2
    assert report.unmapped["trace refused by the rules: no dossier"] == 1
    intake = {r[1]: r[4] for r in rows(container) if r[3] == "LegacyTraceRecorded"}
    assert b'"Office"' in intake[AFTER_REFUSAL] and b'"Desk"' in intake[REPEATED]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_refuse_a_file_that_is_not_xes_writing_nothing(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    container = make_container(f"sqlite:///{tmp_path / 'none.sqlite'}")
    broken = tmp_path / "broken.xes"
    broken.write_text(SAME_DOSSIER_TWICE[:-40], encoding="utf-8")  # truncated
    with pytest.raises(NotXes, match="not well-formed"):
        ShardedXesImporter(cli.bulk_service(container), workers=workers).run(broken)
    assert rows(container) == [] and "LATE" not in container.catalogue.hierarchy


def test_workers_see_the_streams_that_existed_before_the_run(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """A worker may look a batch up after this process committed it: only streams whose
    first event came before the run count as imported earlier."""
    container = make_container(backend_url)
    first, second = tmp_path / "first.xes", tmp_path / "second.xes"
    head = '<?xml version="1.0"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
    first.write_text(head + _trace("one", REPEATED, "Desk", 4) + "</log>\n", encoding="utf-8")
    second.write_text(head + _trace("two", AFTER_REFUSAL, "Desk", 5) + "</log>\n", encoding="utf-8")
    import_xes(first, cli.bulk_service(container), workers=1)
    before = container.store.max_notification_id()
    import_xes(second, cli.bulk_service(container), workers=1)
    both = [REPEATED, AFTER_REFUSAL]
    assert container.store.existing(both) == set(both)
    assert container.store.existing(both, upto=before) == {REPEATED}
    assert container.store.existing(both, upto=0) == set()


@pytest.mark.parametrize("workers", [1, 2])
def test_on_each_backend_the_same_events_and_a_reimport_writes_nothing(
    make_container: Any, backend_url: str, tmp_path: Path, workers: int
) -> None:
    log = tmp_path / "generated.xes"
    write_log(log, traces=60, seed=2)
    here, _ = run(make_container, tmp_path, log, "reference", workers=0, flush_every=9)
    container = make_container(backend_url)
    container.writer.after_commit = None  # as with Kafka: no envelope decoded after the commit
    report = import_xes(log, cli.bulk_service(container), flush_every=9, workers=workers)
    stored = rows(container)
    assert [r[1:] for r in stored] == [r[1:] for r in rows(here)]
    ids = [r[0] for r in stored]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == report.events_written
    again = import_xes(log, cli.bulk_service(container), flush_every=9, workers=workers)
    assert again.skipped_existing == report.dossiers_created == 60 and again.events_written == 0
    assert rows(container) == stored


def test_two_workers_wherever_there_are_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers cost about what one costs (each follows the other's traces only where they
    change something for later ones), so they are used on a busy machine too."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_workers() == WORKERS == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 0.0, 0.0))
    assert default_workers() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert default_workers() == 0


def test_no_workers_for_a_store_only_this_process_can_open(tmp_path: Path) -> None:
    in_memory, on_disk = EventStore("sqlite:///:memory:"), EventStore(f"sqlite:///{tmp_path / 'e.sqlite'}")
    try:
        assert not can_shard(SimpleNamespace(store=in_memory))  # type: ignore[arg-type]
        assert can_shard(SimpleNamespace(store=on_disk))  # type: ignore[arg-type]
    finally:
        in_memory.close()
        on_disk.close()
