"""A log whose times carry no UTC offset (legacy systems and CSV conversions write them so)
imports with `--timezone`: each time is that zone's wall clock, summer time included; without
it the events are left out and the report says how to read them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from gateways.eventstore.store import EventStore
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat
from gateways.interchange.xes_import import import_xes
from gateways.interchange.xes_report import NO_TIME, TRACE_NO_OFFSET
from tests.integration.test_interchange_fidelity import (
    assert_same_mining,
    assert_valid_xes,
    case_ids,
    export_to,
    typed_traces,
)

pytestmark = pytest.mark.integration

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Wall-clock times on both sides of the spring change (31 March 2024, 02:00 -> 03:00).
TIMES = ["2024-03-29T09:00:00", "2024-03-30T16:30:00", "2024-04-02T08:15:00", "2024-04-03T11:00:00.250"]
GROUPS = ["Front office", "Back office", "Back office", "Front office"]


def naive_log(path: Path, traces: int = 6) -> Path:
    body = "".join(
        f'<trace><string key="concept:name" value="case-{t}"/>'
        + "".join(
            f'<event><string key="concept:name" value="step {i}"/><string key="org:group" value="{group}"/>'
            f'<date key="time:timestamp" value="{at}"/></event>'
            for i, (at, group) in enumerate(zip(TIMES[: 2 + t % 3], GROUPS, strict=False))
        )
        + "</trace>"
        for t in range(traces)
    )
    head = '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
    head += '<string key="concept:name" value="Naive"/>'
    path.write_text(f"{head}{body}</log>", encoding="utf-8")
    return path


def _legacy_times(store: EventStore) -> list[str]:
    """The instant of each imported event, in store order (each trace is one event holding them)."""
    return [
        activity["occurred_at"]
        for r in store.notifications(0, 10_000)
        if r.type == "LegacyTraceRecorded"
        for activity in r.envelope["payload"]["activities"]
    ]


@pytest.mark.parametrize("workers", [0, 2], ids=["this-process", "two-workers"])
def test_times_without_an_offset_are_read_in_the_zone_given(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    source = naive_log(tmp_path / "naive.xes")
    events = sum(2 + t % 3 for t in range(6))

    refused = make_container(f"sqlite:///{tmp_path / 'refused.sqlite'}")
    report = import_xes(source, cli.bulk_service(refused), workers=workers)
    assert report.dossiers_created == 0 and report.unmapped[TRACE_NO_OFFSET] == 6
    assert report.events_in_skipped == events and not report.unmapped[NO_TIME]
    assert "--timezone" in TRACE_NO_OFFSET  # the report says how

    container = make_container(f"sqlite:///{tmp_path / 'zoned.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=workers, zone=AMSTERDAM)
    assert report.dossiers_created == 6 and report.legacy == events and not report.unmapped[NO_TIME]
    # Each time is Amsterdam's wall clock: +01:00 before the change, +02:00 after it.
    written = [TIMES[i] for t in range(6) for i in range(2 + t % 3)]
    assert sorted(_legacy_times(container.store)) == sorted(
        datetime.fromisoformat(at).replace(tzinfo=AMSTERDAM).isoformat() for at in written
    )
    assert {at[-6:] for at in _legacy_times(container.store)} == {"+01:00", "+02:00"}

    # The export writes the times as the log did; a process miner sees the same log.
    first = export_to(container, ExportFormat.XES, tmp_path / "first.xes")
    assert_valid_xes(first)
    assert case_ids(first) == case_ids(source) and typed_traces(first) == typed_traces(source)
    assert_same_mining(source, first)
    again = make_container(f"sqlite:///{tmp_path / 'again.sqlite'}")
    import_xes(first, cli.bulk_service(again), workers=workers, zone=AMSTERDAM)
    assert export_to(again, ExportFormat.XES, tmp_path / "second.xes").read_bytes() == first.read_bytes()


def test_the_command_line_takes_a_zone_and_refuses_an_unknown_one(
    tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    app = interchange_cli
    source = naive_log(tmp_path / "naive.xes", traces=3)
    runner = CliRunner()

    result = runner.invoke(app, ["import-xes", str(source), "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2 and "is no IANA time zone" in result.output
    assert (
        not (tmp_path / "var").exists() or runner.invoke(app, ["export", "xes"]).stdout.count("<trace>") == 0
    )

    # Without the zone no event has a time it can read: nothing is imported, and a script
    # running `import-xes … && export …` must not go on as if the log were in (it exited 0).
    result = runner.invoke(app, ["import-xes", str(source), "--workers", "0"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert "nothing imported" in said and "--timezone" in said

    result = runner.invoke(
        app, ["import-xes", str(source), "--timezone", "Europe/Amsterdam", "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["export", "xes"]).stdout.count("<trace>") == 3
    # Run again: every trace is there already, which is no failure.
    result = runner.invoke(
        app, ["import-xes", str(source), "--timezone", "Europe/Amsterdam", "--workers", "0"]
    )
    assert result.exit_code == 0, result.output


def test_the_hour_a_zone_repeats_is_read_in_the_order_the_trace_gives(
    make_container: Any, tmp_path: Path
) -> None:
    """Amsterdam's clocks go back from 03:00 to 02:00 on 27 October 2024: a wall-clock 02:10
    written after 02:40 is the second 02:10 (+01:00), an hour after the first; read as the
    first, the trace went back and the import reordered it by an hour that never went by.
    Alone, or where the later reading would not keep the order either, the first is read."""
    source = tmp_path / "autumn.xes"
    traces = {
        "across": [
            "2024-10-27T01:50:00",
            "2024-10-27T02:40:00",
            "2024-10-27T02:10:00",
            "2024-10-27T03:05:00",
        ],
        "alone": ["2024-10-27T02:30:00"],
        "back": ["2024-10-27T02:40:00", "2024-10-27T01:30:00"],  # goes back whichever 02:40 it is
    }
    source.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        + "".join(
            f'<trace><string key="concept:name" value="{name}"/>'
            + "".join(
                f'<event><string key="concept:name" value="step {i}"/><string key="org:group" value="Desk"/>'
                f'<date key="time:timestamp" value="{at}"/></event>'
                for i, at in enumerate(times)
            )
            + "</trace>"
            for name, times in traces.items()
        )
        + "</log>",
        encoding="utf-8",
    )
    container = make_container(f"sqlite:///{tmp_path / 'autumn.sqlite'}")
    report = import_xes(source, cli.bulk_service(container), workers=0, zone=AMSTERDAM)
    assert report.dossiers_created == 3 and report.legacy == 7
    stored = _legacy_times(container.store)  # in the order stored: each dossier's in time order
    assert stored == [
        "2024-10-27T01:50:00+02:00",
        "2024-10-27T02:40:00+02:00",
        "2024-10-27T02:10:00+01:00",
        "2024-10-27T03:05:00+01:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T01:30:00+02:00",
        "2024-10-27T02:40:00+02:00",
    ]
    first = export_to(container, ExportFormat.XES, tmp_path / "autumn-out.xes")
    assert typed_traces(first) == typed_traces(source)  # written back as the log wrote them


@pytest.mark.parametrize("workers", [0, 2], ids=["this-process", "two-workers"])
def test_a_trace_with_one_time_without_its_offset_waits_whole_for_the_zone(
    make_container: Any, tmp_path: Path, workers: int
) -> None:
    """Imported without its unzoned events, a case could never get them back: the next run finds
    its dossier and skips it. So the whole trace waits for a run that says the zone."""
    source = tmp_path / "mixed.xes"
    cases = "".join(
        f'<trace><string key="concept:name" value="c{n}"/>'
        f'<event><string key="concept:name" value="a"/><string key="org:group" value="G"/>'
        f'<date key="time:timestamp" value="2024-03-0{n + 1}T09:00:00+01:00"/></event>'
        f'<event><string key="concept:name" value="b"/><string key="org:group" value="G"/>'
        f'<date key="time:timestamp" value="2024-03-0{n + 1}T11:00:00"/></event></trace>'
        for n in range(3)
    )
    source.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">{cases}</log>\n', "utf-8"
    )
    container = make_container(f"sqlite:///{tmp_path / 'mixed.sqlite'}")
    first = import_xes(source, cli.bulk_service(container), workers=workers)
    assert first.dossiers_created == 0 and first.unmapped[TRACE_NO_OFFSET] == 3
    assert first.events_accounted == first.events_read == 6 and container.store.max_notification_id() == 0
    again = import_xes(source, cli.bulk_service(container), workers=workers, zone=AMSTERDAM)
    assert again.dossiers_created == 3 and again.legacy == 6 and again.skipped_existing == 0
    assert len(_legacy_times(container.store)) == 6
