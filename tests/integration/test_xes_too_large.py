"""A legacy trace holding an event too large for one record of the Kafka events topic
(MAX_EVENT_BYTES) is not imported, on every import path; the rest of the log is.

The store would otherwise take it, and the relay would stop before it for good (decision 207):
every Kafka consumer would wait until an operator removed it. Built logs: a small trace, one
whose event carries an attribute of MAX_EVENT_BYTES characters, one whose trace attribute is
that large (its `LegacyCaseRecorded`), then another small trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateways.eventstore.limits import MAX_EVENT_BYTES, largest_envelope
from gateways.interchange import cli
from gateways.interchange.xes_import import dossier_id_for, import_xes
from gateways.interchange.xes_report import TRACE_TOO_LARGE
from tests.integration.test_xes_sharded_import import assert_same_rows, rows

LOG = "big-attributes"


def _event(activity: str, day: int, extra: str = "") -> str:
    return (
        f'<event><string key="concept:name" value="{activity}"/>'
        '<string key="org:group" value="GROUP-9"/>'
        f'<date key="time:timestamp" value="2024-03-{day:02d}T09:00:00+07:00"/>{extra}</event>'
    )


def _trace(name: str, *events: str, extra: str = "") -> str:
    return f'<trace><string key="concept:name" value="{name}"/>{extra}{"".join(events)}</trace>'


def _write_log(path: Path) -> Path:
    big = f'<string key="note" value="{"A" * MAX_EVENT_BYTES}"/>'
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" ')
        out.write(f'xmlns="http://www.xes-standard.org/"><string key="concept:name" value="{LOG}"/>')
        out.write(_trace("small-1", _event("Register", 1), _event("Close", 2)))
        out.write(_trace("big-event-2", _event("Register", 3), _event("Review", 4, big), _event("Close", 5)))
        out.write(_trace("big-case-3", _event("Register", 6), extra=big))
        out.write(_trace("small-4", _event("Register", 7), _event("Close", 8)))
        out.write("</log>")
    return path


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_log(tmp_path_factory.mktemp("xes") / "big.xes")


@pytest.mark.parametrize(
    "path",
    [
        {"bulk": False},  # one command per event
        {"workers": 0, "read_in_child": False},  # each trace at once, in this process
        {"workers": 0, "read_in_child": True},  # a child reads the file
        {"workers": 2},  # forked workers decide and encode
    ],
    ids=["per-event", "bulk", "bulk-child", "sharded"],
)
def test_a_trace_too_large_to_store_is_reported_and_the_rest_imported(
    make_container: Any, tmp_path: Path, big_log: Path, path: dict[str, Any]
) -> None:
    container = make_container(f"sqlite:///{tmp_path / 'events.sqlite'}")
    report = import_xes(big_log, cli.bulk_service(container), flush_every=2, **path)

    assert report.traces_read == 4
    assert report.unmapped[TRACE_TOO_LARGE] == 2
    assert "16 MiB" in TRACE_TOO_LARGE
    assert [case for case, _size, _limit in report.too_large] == ["big-event-2", "big-case-3"]
    for _case, size, limit in report.too_large:
        assert size > limit and limit < MAX_EVENT_BYTES
    assert report.dossiers_created == 2 and report.cases_recorded == 2
    assert report.events_in_skipped == 4  # the big traces' timed events
    assert report.events_accounted == report.events_read == 8
    stored = rows(container)
    assert len(stored) == report.events_written
    names = {"small-1", "small-4"}
    assert {dossier for _n, dossier, *_ in stored} == {dossier_id_for(LOG, name) for name in names}
    assert all(len(raw) <= largest_envelope(dossier, kind) for _n, dossier, _s, kind, raw in stored)
    # Nothing of the big traces was written: importing again skips the small ones only, and
    # refuses the big ones again.
    again = import_xes(big_log, cli.bulk_service(container), flush_every=2, **path)
    assert again.skipped_existing == 2 and again.events_written == 0
    assert again.unmapped[TRACE_TOO_LARGE] == 2 and len(rows(container)) == len(stored)


def test_over_workers_the_same_rows_and_report_as_in_one_process(
    make_container: Any, tmp_path: Path, big_log: Path
) -> None:
    _container, report = assert_same_rows(make_container, tmp_path, big_log, workers=2, flush_every=1)
    assert report.unmapped[TRACE_TOO_LARGE] == 2 and report.dossiers_created == 2
