"""The units an import makes of a legacy log's groups hold imported history only: a live dossier is
neither received at nor handed off or sent for an opinion to one (it would wait for ever), the
catalogue says which they are, and the dashboard's handoff choices leave them out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateways.bootstrap import bootstrap
from gateways.interchange.xes_import import import_xes
from gateways.settings import Settings
from tests.e2e.test_dashboard import (
    AN_KHANH,
    APPLICANT,
    LAND,
    LAND_DEPT,
    SECRET,
    Demo,
    open_tab,
    served_demo,
    sign_in,
)
from tests.e2e.test_imported_history import legacy_log

DISTRICT = LAND_DEPT  # a real agency of the demo catalogue, beside the imported units


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's catalogue and live work, and a legacy log imported beside them."""
    work = tmp_path_factory.mktemp("legacy-units")
    with served_demo(work) as d:
        report = import_xes(legacy_log(work / "legacy.xes"), d.container.service, workers=0)
        assert sorted(report.agencies_created) == ["GROUP-1", "GROUP-2"]
        yield d


def _problem(d: Demo, path: str, body: dict[str, Any], agency: str = AN_KHANH) -> dict[str, Any]:
    r = d.http.post(path, json=body, headers={**d.auth("officer", agency), "Accept-Language": "en"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = r.json()
    return problem


def test_a_live_dossier_is_not_sent_to_a_unit_of_imported_history(mixed: Demo) -> None:
    path = f"/api/v1/dossiers/{mixed.receive('live')}"
    made = mixed.get(path, mixed.auth("officer", AN_KHANH))
    refused = _problem(mixed, f"{path}/handoffs", {"to_agency_code": "GROUP-1"})
    assert "'GROUP-1' is a unit of imported legacy history" in refused["detail"]
    asked = _problem(mixed, f"{path}/consultations", {"agency_code": "GROUP-2", "question": "?"})
    assert "imported legacy history" in asked["detail"]
    vi = mixed.http.post(
        f"{path}/handoffs", json={"to_agency_code": "GROUP-1"}, headers=mixed.auth("officer", AN_KHANH)
    ).json()
    assert "lịch sử nhập từ hệ thống cũ" in vi["detail"]  # Vietnamese by default
    desk = _problem(
        mixed,
        "/api/v1/dossiers",
        {
            "procedure_code": LAND,
            "channel": "direct",
            "applicant": APPLICANT,
            "receiving_agency_code": "GROUP-1",
        },
    )
    assert "GROUP-1" in desk["detail"]
    still = mixed.get(path, mixed.auth("officer", AN_KHANH))
    assert (still["version"], still["pending_handoff_to"]) == (made["version"], None)
    handed = mixed.post(f"{path}/handoffs", {"to_agency_code": DISTRICT}, role="officer", agency=AN_KHANH)
    assert handed["pending_handoff_to"] == DISTRICT  # a real agency still takes it


def test_the_catalogue_says_which_agencies_are_units_of_imported_history(mixed: Demo) -> None:
    listed = {a["code"]: a["legacy"] for a in mixed.get("/api/v1/agencies", mixed.auth("inspector"))["items"]}
    assert listed["GROUP-1"] is listed["GROUP-2"] is True
    assert listed[AN_KHANH] is listed[DISTRICT] is False
    one = mixed.get("/api/v1/agencies/GROUP-1", mixed.auth("inspector"))
    assert one["legacy"] is True and all(v["legacy"] for v in one["versions"])


def test_a_sharded_import_marks_its_units_too(tmp_path: Path) -> None:
    container = bootstrap(Settings(data_dir=tmp_path / "var", jwt_secret=SECRET))
    try:
        report = import_xes(legacy_log(tmp_path / "legacy.xes"), container.service, workers=1)
        assert sorted(report.agencies_created) == ["GROUP-1", "GROUP-2"]
        assert container.catalogue.is_legacy("GROUP-1") and container.catalogue.is_legacy("GROUP-2")
        assert not container.catalogue.is_legacy("UNKNOWN")
    finally:
        container.close()


@pytest.mark.browser
@pytest.mark.integration
def test_the_handoff_choices_leave_out_the_units_of_imported_history(browser: Any, mixed: Demo) -> None:
    from playwright.sync_api import expect

    dossier_id = mixed.receive("offered")
    with open_tab(browser) as page:
        sign_in(page, mixed, "officer", AN_KHANH)
        row = page.locator(f"[data-testid=inbox-active] tr[data-dossier='{dossier_id}']")
        row.get_by_test_id("act").click()
        picker = page.get_by_test_id("action-dialog").get_by_test_id("field-to_agency_code")
        expect(picker).to_have_value(DISTRICT)
        offered = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert len(offered) > 10 and AN_KHANH not in offered  # the catalogue, less the holder
        assert not {"GROUP-1", "GROUP-2"} & set(offered)


@pytest.mark.browser
@pytest.mark.integration
def test_the_demo_sign_in_offers_agencies_in_force_and_finds_them_by_name_or_code(
    browser: Any, mixed: Demo
) -> None:
    """The sign-in's agency choice leaves out the units of imported history and the abolished
    agencies (unless asked), and narrows thousands of choices to what is typed."""
    from playwright.sync_api import expect

    thu_duc = "000.00.63.H29"  # a district the 2025 reform abolished (valid to 30 Jun 2025)
    with open_tab(browser) as page:
        page.goto(f"{mixed.base}/#/login")
        picker = page.get_by_test_id("demo-agency")
        expect(picker).to_have_value("000.00.00.H29")  # the home province, as before
        offered = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert AN_KHANH in offered and DISTRICT in offered
        assert not {"GROUP-1", "GROUP-2", thu_duc} & set(offered), offered
        page.get_by_test_id("demo-agency-ended").check()
        offered = picker.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert thu_duc in offered and not {"GROUP-1", "GROUP-2"} & set(offered)
        page.get_by_test_id("demo-agency-ended").uncheck()
        # Typed without its marks, part of the name finds the ward, and it is chosen.
        page.get_by_test_id("demo-agency-filter").fill("phuong an khanh")
        expect(picker).to_have_value(AN_KHANH)
        assert picker.locator("option:not([value=''])").count() == 1
        page.get_by_test_id("demo-agency-filter").fill("GROUP-1")  # a unit of imported history
        expect(picker.locator("option:not([value=''])")).to_have_count(0)
        expect(picker).to_have_value("")
        # Cleared after a search that found nothing: back to the home province, not "no agency".
        page.get_by_test_id("demo-agency-filter").fill("")
        expect(picker).to_have_value("000.00.00.H29")
        # "No agency" chosen by hand stays chosen while nothing is typed.
        picker.select_option("")
        page.get_by_test_id("demo-agency-ended").check()
        expect(picker).to_have_value("")
        page.get_by_test_id("demo-agency-ended").uncheck()
        page.get_by_test_id("demo-agency-filter").fill(AN_KHANH)  # its code
        page.get_by_test_id("demo-role").select_option("officer")
        page.get_by_test_id("demo-submit").click()
        page.wait_for_function("() => location.hash.startsWith('#/inbox')")
        assert (
            page.evaluate(
                "JSON.parse(atob(localStorage.getItem('lienthong.token').split('.')[1])).agency_code"
            )
            == AN_KHANH
        )

    # After an import of thousands of groups, and with the whole country's communes: the picker
    # draws a few hundred at once and says how to find the rest.
    body = mixed.http.get("/api/v1/demo/agencies").json()
    base = {
        "level": "commune",
        "parent_code": "000.00.00.H29",
        "valid_from": None,
        "successors": [],
        "basis": "",
    }
    body["items"] += [
        {**base, "code": f"LEG-{i}", "name": f"Nhóm {i}", "valid_to": None, "legacy": True}
        for i in range(3000)
    ]
    body["items"] += [
        {**base, "code": f"XA-{i}", "name": f"Ủy ban nhân dân xã Số {i}", "valid_to": None, "legacy": False}
        for i in range(1000)
    ]
    with open_tab(browser) as page:
        page.route("**/api/v1/demo/agencies", lambda route: route.fulfill(json=body))
        page.goto(f"{mixed.base}/#/login")
        picker = page.get_by_test_id("demo-agency")
        count = page.get_by_test_id("demo-agency-count")
        expect(count).to_contain_text("Hiện 300 trong 1.0")  # the demo's agencies in force and the 1000
        assert picker.locator("option:not([value=''])").count() == 300
        expect(picker).to_have_value("000.00.00.H29")
        assert picker.locator("option[value^='LEG-']").count() == 0
        page.get_by_test_id("demo-agency-filter").fill("xa so 777")
        expect(picker).to_have_value("XA-777")
        expect(count).to_have_text("1 cơ quan để chọn.")
