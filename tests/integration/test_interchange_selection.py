"""What a process miner selects to export, and finds, once several logs share one store.

Two logs shaped like public ones (road-traffic fines, travel permits; builders in
test_interchange_realistic.py) are imported side by side, as a miner comparing logs does,
or beside live work. The export of one imported log must give that log back, and a date
window must not leave the miner with cases cut in the middle (a `Payment` that starts a
fine); the search must show each imported dossier's case id where the results list them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateways.http.app import create_app
from gateways.interchange import cli
from gateways.interchange.export import ExportFormat
from gateways.interchange.selection import Selection, parse_bound
from gateways.interchange.xes_import import import_xes
from tests.integration.test_imported_case_search import _inspector
from tests.integration.test_interchange_fidelity import case_ids, export_to, typed_traces
from tests.integration.test_interchange_realistic import fines_log, permit_log

pm4py = pytest.importorskip("pm4py")


def _dfg(path: Path) -> tuple[dict[Any, int], dict[str, int], dict[str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = pm4py.read_xes(str(path), show_progress_bar=False)
        dfg, start, end = pm4py.discover_dfg(log)
    return dict(dfg), dict(start), dict(end)


def _two_logs(
    make_container: Any, tmp_path: Path, url: str | None = None
) -> tuple[Any, dict[str, tuple[Path, str]]]:
    """Fines and permits imported into one store: log name -> (file, its procedure code)."""
    container = make_container(url or f"sqlite:///{tmp_path / 'two.sqlite'}")
    logs = {}
    for name, build in (("fines", fines_log), ("permits", permit_log)):
        path = tmp_path / f"{name}.xes"
        build(path)
        report = import_xes(path, cli.bulk_service(container), workers=0)
        logs[name] = (path, report.procedure_code)
    assert logs["fines"][1] != logs["permits"][1]
    return container, logs


def test_the_export_of_one_procedure_gives_back_that_log_alone(make_container: Any, tmp_path: Path) -> None:
    """With a second log (or live work) in the store, the export held every dossier and no
    selection told them apart (`--agency` cannot where both logs name a unit alike, or none)."""
    container, logs = _two_logs(make_container, tmp_path)
    for name, (source, procedure) in logs.items():
        exported = export_to(
            container, ExportFormat.XES, tmp_path / f"{name}.out.xes", Selection(procedure=procedure)
        )
        assert case_ids(exported) == case_ids(source), name
        assert typed_traces(exported) == typed_traces(source), name
        assert _dfg(exported) == _dfg(source), name


def test_a_date_window_can_keep_whole_cases_and_the_export_says_what_it_cut(
    make_container: Any, tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    """A window by event time keeps the events inside it: a fine created before the window and
    paid in it starts with its payment, and PM4Py finds start activities the log never has.
    `whole_cases` keeps every event of each case that has one in the window."""
    container, logs = _two_logs(make_container, tmp_path)
    source, procedure = logs["fines"]
    tz = container.calendar.tz
    window = {
        "start": parse_bound("2006-06-01", tz, end=False),
        "end": parse_bound("2006-09-30", tz, end=True),
        "procedure": procedure,
    }
    cut = export_to(container, ExportFormat.XES, tmp_path / "cut.xes", Selection(**window))
    whole = export_to(
        container, ExportFormat.XES, tmp_path / "whole.xes", Selection(**window, whole_cases=True)
    )
    assert set(_dfg(cut)[1]) - {"Create Fine"}  # the trap: cases that start in the middle
    by_case = dict(zip(case_ids(source), typed_traces(source), strict=True))
    assert case_ids(whole) == case_ids(cut)  # the same cases, each whole
    assert typed_traces(whole) == [by_case[case] for case in case_ids(whole)]
    assert set(_dfg(whole)[1]) == {"Create Fine"}

    # On the command line: the summary says how many cases the window cut, and the option.
    runner = CliRunner()
    result = runner.invoke(interchange_cli, ["import-xes", str(source), "--workers", "0"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "window.xes"
    bounds = ["--from", "2006-06-01", "--to", "2006-09-30", "--procedure", procedure]
    result = runner.invoke(interchange_cli, ["export", "xes", "--out", str(out), *bounds])
    assert result.exit_code == 0, result.output
    cut_cases = sum(
        len(events) != len(by_case[case][1])
        for case, (_attributes, events) in zip(case_ids(out), typed_traces(out), strict=True)
    )
    said = " ".join(result.output.split())
    assert cut_cases > 0 and f"{cut_cases} dossiers cut by the window" in said, said
    result = runner.invoke(interchange_cli, ["export", "xes", "--out", str(out), *bounds, "--whole-cases"])
    assert result.exit_code == 0, result.output
    assert typed_traces(out) == [by_case[case] for case in case_ids(out)]
    assert "cut by the window" not in result.output

    result = runner.invoke(interchange_cli, ["export", "xes", "--procedure", "NO-SUCH"])
    assert result.exit_code == 2 and "unknown procedure 'NO-SUCH'" in " ".join(result.output.split())


def test_the_search_lists_each_imported_dossier_with_its_case_id(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """The dashboard's search results (and the API's rows) showed a receipt code the import
    made up (`UNRECORDED-060301-…`) and no trace of the case id the miner knows."""
    container, logs = _two_logs(make_container, tmp_path, backend_url)
    container.feed.refresh()
    source, procedure = logs["fines"]
    with TestClient(create_app(container)) as client:
        r = client.get(
            "/api/v1/dossiers",
            params={"procedure_code": procedure, "imported": "true", "limit": 500},
            headers=_inspector(),
        )
        assert r.status_code == 200, r.text
        rows = r.json()["items"]
        assert sorted(row["case_id"] for row in rows) == sorted(case_ids(source))
        for row in rows[:3]:
            one = client.get(f"/api/v1/dossiers/{row['id']}", headers=_inspector()).json()
            assert one["external_case_id"] == row["case_id"]


def test_the_import_report_prints_the_whole_procedure_code_to_export_the_log_by(
    tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    """A public log's name is long (the receipt log's is 80 characters): the report's table cut
    its procedure code to the terminal's width (`IMPORTED-RECEIPT-PHASE-OF-AN-ENVIRO…`), the
    one name `export --procedure` takes."""
    source = tmp_path / "long-name.xes"
    fines_log(source, traces=3)
    name = "Receipt phase of an environmental permit application process (WABO), CoSeLoG project"
    opening = 'xmlns="http://www.xes-standard.org/">\n'
    text = source.read_text(encoding="utf-8")
    assert opening in text
    source.write_text(
        text.replace(opening, opening + f'<string key="concept:name" value="{name}"/>\n', 1), encoding="utf-8"
    )
    runner = CliRunner()
    result = runner.invoke(interchange_cli, ["import-xes", str(source), "--workers", "0"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "--procedure" in line]
    assert len(lines) == 1, result.output
    code = lines[0].split("--procedure", 1)[1].split()[0]
    assert code.startswith("IMPORTED-RECEIPT-PHASE-OF-AN-ENVIRONMENTAL-") and "…" not in code
    out = tmp_path / "back.xes"
    result = runner.invoke(interchange_cli, ["export", "xes", "--procedure", code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert case_ids(out) == case_ids(source)


def test_csv_names_each_events_group_as_the_log_wrote_it(make_container: Any, tmp_path: Path) -> None:
    """A miner reading the CSV by group had only `agency_code`: the codes the import made of the
    log's groups (`FINANCE`, and another for `finance`), and for a step whose log named no group
    the agency then holding the dossier, a unit the log never wrote. The `group` column is the
    event's `org:group` as the log wrote it (none written: empty), so PM4Py's DFG on it is the
    original's."""
    import csv
    import io

    from gateways.interchange.export import export

    pd = pytest.importorskip("pandas")
    container, logs = _two_logs(make_container, tmp_path)
    # Three permits: no trace name met twice (PM4Py reads two traces of one name as one case,
    # where the import gives the second its own case id) and no time going back (the CSV
    # lists events in time order, as format_dataframe sorts them; PM4Py keeps an XES's order).
    source = tmp_path / "three-permits.xes"
    permit_log(source, traces=3)
    procedure = import_xes(source, cli.bulk_service(container), workers=0).procedure_code
    out = io.StringIO()
    export(ExportFormat.CSV, out, container.store, container.catalogue, Selection(procedure=procedure))
    rows = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = pm4py.read_xes(str(source), show_progress_bar=False)
        frame = pm4py.format_dataframe(
            pd.DataFrame(rows), case_id="case_id", activity_key="group", timestamp_key="occurred_at"
        )
        by_group = pm4py.discover_dfg(
            original,
            activity_key="org:group",
            case_id_key="case:concept:name",
            timestamp_key="time:timestamp",
        )
        assert pm4py.discover_dfg(frame) == by_group
    assert {"FINANCE", "Finance", "finance"} <= {r[k] for r in rows for k in ("agency_code", "group")}
    fines = io.StringIO()
    export(
        ExportFormat.CSV, fines, container.store, container.catalogue, Selection(procedure=logs["fines"][1])
    )
    assert {r["group"] for r in csv.DictReader(io.StringIO(fines.getvalue().lstrip("\ufeff")))} == {""}


def test_ocel_exports_give_each_imported_dossier_its_cases_attributes(
    make_container: Any, tmp_path: Path
) -> None:
    """A trace's attributes (the permit's `RequestedBudget`, `BudgetNumber`, `Overspent`) were in
    the XES export but on no object of the OCEL exports: a miner flattening the OCEL on
    dossiers lost every case attribute the log had."""
    from gateways.interchange.export import export_database

    container, logs = _two_logs(make_container, tmp_path)
    source, procedure = logs["permits"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = pm4py.read_xes(str(source), show_progress_bar=False)
    cases = original.groupby("case:concept:name").first()
    json_path = export_to(
        container, ExportFormat.OCEL, tmp_path / "p.jsonocel", Selection(procedure=procedure)
    )
    sqlite_path = tmp_path / "p.sqlite"
    export_database(sqlite_path, container.store, container.catalogue, Selection(procedure=procedure))
    for path, read in ((json_path, pm4py.read_ocel2_json), (sqlite_path, pm4py.read_ocel2_sqlite)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ocel = read(str(path))
        dossiers = ocel.objects[ocel.objects["ocel:type"] == "dossier"].set_index("case_id")
        # The case id is named once (`case_id`); the trace's other attributes as the log typed them.
        for key in ("RequestedBudget", "BudgetNumber", "Permit ProjectNumber"):
            assert key in dossiers.columns, (path.name, key)
        for case, row in cases.iterrows():  # a name met twice: PM4Py's first is the import's first
            assert float(dossiers.loc[case, "RequestedBudget"]) == row["case:RequestedBudget"], path.name
            assert int(dossiers.loc[case, "BudgetNumber"]) == row["case:BudgetNumber"], path.name
