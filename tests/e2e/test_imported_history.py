"""A process miner finds an imported legacy case by the id it had in its log and sees its
original activities on the dossier page (API and Debian's chromium through Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateways.interchange.xes_import import import_xes
from tests.e2e.test_dashboard import Demo, open_tab, served_demo, shot, sign_in

CASES = {
    "case-10011": [
        ("Confirmation of receipt", "Resource01", "Group 1", "2024-03-04T09:00:00+07:00"),
        ("T02 Check confirmation of receipt", "Resource07", "Group 2", "2024-03-05T10:30:00+07:00"),
        ("T04 Determine confirmation of receipt", "Resource07", "Group 2", "2024-03-06T14:00:00+07:00"),
    ],
    "case-10017": [  # written in the legacy system's own time (CET), as the WABO log is
        ("Confirmation of receipt", "Resource02", "Group 1", "2024-03-07T02:15:00+01:00"),
        ("T06 Determine necessity of stop advice", "", "Group 1", "2024-03-07T05:00:00+01:00"),
    ],
    "case-10020": [  # start/complete pairs, as the building-permit logs write them
        ("01_HOOFD_010", "560464", "Group 1", "2024-03-08T09:00:00+07:00", "start"),
        ("01_HOOFD_010", "560464", "Group 1", "2024-03-08T11:00:00+07:00", "complete"),
    ],
}


def _event(activity: str, resource: str, group: str, at: str, transition: str = "") -> str:
    who = f'<string key="org:resource" value="{resource}"/>' if resource else ""
    if transition:
        who += f'<string key="lifecycle:transition" value="{transition}"/>'
    return (
        f'<event><string key="concept:name" value="{activity}"/>{who}'
        f'<string key="org:group" value="{group}"/><date key="time:timestamp" value="{at}"/></event>'
    )


def legacy_log(path: Path) -> Path:
    traces = "".join(
        f'<trace><string key="concept:name" value="{case}"/>{"".join(_event(*e) for e in events)}</trace>'
        for case, events in CASES.items()
    )
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">{traces}</log>', encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    work = tmp_path_factory.mktemp("imported")
    with served_demo(work, catalogue=False) as d:  # the import makes the log's units
        report = import_xes(legacy_log(work / "legacy.xes"), d.container.service, workers=0)
        assert report.dossiers_created == len(CASES)
        d.container.feed.refresh()  # the views show the imported history
        yield d


def _find(d: Demo, case_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = d.get("/api/v1/dossiers", d.auth("inspector"), case_id=case_id)["items"]
    return items


@pytest.mark.integration
def test_an_imported_dossier_is_found_by_its_legacy_case_id(imported: Demo) -> None:
    found = {case: _find(imported, case) for case in CASES}
    assert {case: len(items) for case, items in found.items()} == dict.fromkeys(CASES, 1)
    assert len({items[0]["id"] for items in found.values()}) == len(CASES)  # one dossier each
    assert _find(imported, "case-99999") == []  # no such case: nothing, not everything
    for case, items in found.items():
        dossier = imported.get(f"/api/v1/dossiers/{items[0]['id']}", imported.auth("inspector"))
        assert dossier["imported"] is True and dossier["external_case_id"] == case
        # The search row shows the dossier's times as the dossier does: in Vietnam's time.
        assert (
            items[0]["received_at"]
            == dossier["received_at"]
            == CASES[case][0][3].replace("02:15:00+01:00", "08:15:00+07:00")
        )
        events = imported.get(f"/api/v1/dossiers/{items[0]['id']}/events", imported.auth("inspector"))
        # As stored (what the hash chain signs): the receipt, then the trace in one event.
        assert [e["type"] for e in events["items"]] == ["DossierReceived", "LegacyTraceRecorded"]
        trace = events["items"][1]["payload"]
        assert trace["case_id"] == case
        activities = [a["activity"] for a in trace["activities"]]
        assert activities == [activity for activity, *_ in CASES[case]]  # the first one too


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with open_tab(browser) as tab:
        yield tab


@pytest.mark.browser
@pytest.mark.integration
def test_the_inspector_searches_a_legacy_case_and_reads_its_original_activities(
    page: Any, imported: Demo
) -> None:
    from playwright.sync_api import expect

    sign_in(page, imported, "inspector", None)
    page.goto(f"{imported.base}/#/search")
    page.locator("#s-case").fill("case-10011")
    page.locator("form.filters button[type=submit]").click()
    results = page.get_by_test_id("search-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    # A case the log never closed has no live clock: not "overdue by N days".
    expect(results.get_by_test_id("remaining-imported")).to_have_text("Lịch sử nhập")
    results.locator("tbody tr a").first.click()
    expect(page.get_by_test_id("case-id")).to_have_text("case-10011")
    expect(page.get_by_test_id("remaining-imported").first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Quá hạn")
    timeline = page.get_by_test_id("timeline")
    for _activity, resource, _group, _at in CASES["case-10011"]:
        expect(timeline).to_contain_text(f"Người thực hiện: {resource}")
    # Each step is headed by the log's own activity, not by a label every imported step shares.
    expect(timeline.get_by_test_id("legacy-activity")).to_have_text(
        [activity for activity, *_ in CASES["case-10011"]]
    )
    expect(timeline).to_contain_text("Mã hồ sơ ở hệ thống cũ: case-10011")
    # Its printed forms: the control sheet, no receipt slip (no applicant, no lookup secret).
    expect(page.get_by_test_id("document-control-sheet")).to_be_visible()
    expect(page.get_by_test_id("document-receipt")).to_have_count(0)
    shot(page, "imported-case")
    # A start and a complete of one activity are told apart by the transition the log wrote.
    page.goto(f"{imported.base}/#/search?case_id=case-10020")
    page.get_by_test_id("search-results").locator("tbody tr a").first.click()
    expect(page.get_by_test_id("timeline").get_by_test_id("legacy-activity")).to_have_text(
        ["01_HOOFD_010 (start)", "01_HOOFD_010 (complete)"]
    )


@pytest.mark.integration
def test_the_bottleneck_reports_leave_imported_history_out(imported: Demo) -> None:
    """A legacy case the old log never closed is not work in progress at the unit that held it
    last, and the import's handoffs are not transits (decision 190); asking for it says so."""
    inspector = imported.auth("inspector")
    span = {"from": "2024-03-01", "to": "2024-03-10"}
    report = imported.get("/api/v1/reports/bottlenecks", inspector, **span)
    assert report["agencies"] == [] and report["edges"] == []
    assert report["lag"] == 0  # read after the view applied the import
    for path, params in (
        ("/api/v1/reports/bottlenecks", span),
        ("/api/v1/reports/heatmap", span),
        ("/api/v1/reports/bottlenecks/dossiers", {**span, "agency_code": "P.79"}),
    ):
        r = imported.http.get(path, params={**params, "include_imported": "true"}, headers=inspector)
        assert r.status_code == 422 and "live work only" in r.json()["detail"], r.text


@pytest.mark.browser
@pytest.mark.integration
def test_the_search_lists_imported_history_apart_from_live_work(page: Any, imported: Demo) -> None:
    """A miner lists every imported case without knowing their ids; a reader after live work
    (overdue, say) leaves out the legacy cases the log never closed, overdue for years."""
    from playwright.sync_api import expect

    sign_in(page, imported, "inspector", None)
    page.goto(f"{imported.base}/#/search")
    source = page.get_by_test_id("search-source")
    source.select_option(label="Lịch sử nhập từ hệ thống cũ")
    page.locator("#s-overdue").check()
    page.locator("form.filters button[type=submit]").click()
    results = page.get_by_test_id("search-results")
    expect(results.locator("tbody tr")).to_have_count(len(CASES))
    assert "imported=true" in page.evaluate("location.hash")
    # Each row shows the case id the miner knows, not only the receipt code the import made.
    shown = results.get_by_test_id("search-case-id")
    expect(shown).to_have_count(len(CASES))
    for case in CASES:  # waited on each (the table may be drawn again meanwhile), not read once
        expect(results.get_by_test_id("search-case-id").filter(has_text=case)).to_have_count(1)
    # One log's cases apart from another's: the procedure an import gave that log.
    procedure = _find(imported, "case-10011")[0]["procedure_code"]
    page.locator("#s-procedure").select_option(procedure)
    page.locator("form.filters button[type=submit]").click()
    expect(results.locator("tbody tr")).to_have_count(len(CASES))
    assert f"procedure_code={procedure}" in page.evaluate("location.hash")
    page.goto(f"{imported.base}/#/search?imported=true&procedure_code=NO-SUCH-LOG")
    expect(page.get_by_text("Không tìm thấy hồ sơ nào.")).to_be_visible()
    page.goto(f"{imported.base}/#/search?imported=true")
    # The page is drawn again for the new address before its form is used (else the choice
    # below could land on the form being replaced, and the search sent be the old one).
    expect(page.get_by_test_id("search-results").locator("tbody tr")).to_have_count(len(CASES))
    page.get_by_test_id("search-source").select_option(label="Hồ sơ xử lý trên hệ thống")
    page.locator("form.filters button[type=submit]").click()
    expect(page.get_by_text("Không tìm thấy hồ sơ nào.")).to_be_visible()
    expect(page.get_by_test_id("search-results").locator("tbody tr")).to_have_count(0)


@pytest.mark.integration
def test_imported_history_prints_no_receipt_slip(imported: Demo) -> None:
    """A receipt slip of an imported case would name an erased applicant ("personal data erased
    on request", though nobody erased anything) and send a citizen to a lookup with no secret."""
    dossier = _find(imported, "case-10011")[0]["id"]
    inspector = {**imported.auth("inspector"), "Accept": "text/html"}
    slip = imported.http.get(f"/api/v1/dossiers/{dossier}/documents/receipt", headers=inspector)
    assert slip.status_code == 404, slip.text
    assert slip.json()["type"].endswith("/no-document") and "imported" in slip.json()["detail"]
    sheet = imported.http.get(f"/api/v1/dossiers/{dossier}/documents/control-sheet", headers=inspector)
    assert sheet.status_code == 200, sheet.text
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in sheet.text.upper()


@pytest.mark.browser
@pytest.mark.integration
def test_the_dossier_page_shows_each_imported_event_as_its_log_wrote_it(page: Any, imported: Demo) -> None:
    """Every attribute of the case and of each event, times with the offset the log gave them
    (the timeline itself reads in Vietnam's time), for a miner to compare with the log."""
    from playwright.sync_api import expect

    sign_in(page, imported, "inspector", None)
    page.goto(f"{imported.base}/#/search?case_id=case-10017")
    page.get_by_test_id("search-results").locator("tbody tr a").first.click()
    attributes = page.get_by_test_id("timeline").get_by_test_id("legacy-attributes")
    expect(attributes).to_have_count(1 + len(CASES["case-10017"]))  # the case, then each event
    case = attributes.first
    case.locator("summary").click()
    expect(case).to_contain_text("concept:name")
    expect(case).to_contain_text("case-10017")
    first = attributes.nth(1)
    first.locator("summary").click()
    expect(first.locator("summary")).to_have_text("Thuộc tính trong nhật ký gốc (4)")
    for written in ("Confirmation of receipt", "Resource02", "Group 1", "2024-03-07T02:15:00+01:00"):
        expect(first).to_contain_text(written)
    second = attributes.nth(2)
    second.locator("summary").click()
    expect(second.locator("summary")).to_have_text("Thuộc tính trong nhật ký gốc (3)")  # no resource
    expect(second).not_to_contain_text("org:resource")
