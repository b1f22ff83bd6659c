"""The desk and the citizen in the dashboard (Debian's chromium through Playwright): the officer
receives a walk-in dossier, the new dossier is in the inbox and the lookup secret shown once opens
it for the citizen, who rates the service once its result is returned; a failure that asking again
cannot mend offers no retry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dashboard import AN_KHANH, LAND, Demo, open_tab, served_demo, sign_in


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("receive")) as d:
        yield d


@pytest.mark.browser
@pytest.mark.integration
def test_an_officer_receives_a_walk_in_dossier_and_gives_the_citizen_its_secret(
    browser: Any, desk: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with open_tab(browser) as page:
        sign_in(page, desk, "officer", AN_KHANH)
        page.get_by_test_id("receive-open").click()
        dialog = page.get_by_test_id("receive-dialog")
        # The procedures this ward's desk opens come first, each with its code.
        first = dialog.get_by_test_id("receive-procedure").locator("optgroup").first
        expect(first).to_have_attribute("label", "Thủ tục tiếp nhận tại đơn vị")
        dialog.get_by_test_id("receive-procedure").select_option(LAND)
        dialog.get_by_test_id("receive-submit").click()  # the browser holds a form with no name
        expect(dialog.get_by_test_id("receive-done")).to_have_count(0)
        dialog.get_by_test_id("receive-name").fill("Lê Thị Hoa")
        dialog.get_by_test_id("receive-id_number").fill("079300007777")
        dialog.get_by_test_id("receive-phone").fill("0909000111")
        dialog.get_by_test_id("receive-channel-postal").check()
        dialog.get_by_test_id("receive-submit").click()
        expect(dialog.get_by_test_id("receive-done")).to_be_visible()
        code = dialog.get_by_test_id("receive-code").inner_text().strip()
        secret = dialog.get_by_test_id("receive-secret").inner_text().strip()
        # The slip that prints the secret opens in a new tab (the server checks the secret it is sent).
        with page.expect_popup() as opened:
            dialog.get_by_test_id("receive-print").click()
        opened.value.wait_for_url("blob:**", timeout=60_000)
        expect(dialog.get_by_role("status")).to_have_text("")
        dialog.get_by_role("button", name="Đóng").last.click()
        expect(page.locator(f"[data-testid=inbox-active] tr[data-code='{code}']")).to_be_visible()

    seen = desk.http.post("/api/v1/lookup", json={"receipt_code": code, "secret": secret})
    assert seen.status_code == 200, seen.text
    found = desk.get("/api/v1/dossiers", desk.auth("officer", AN_KHANH), receipt_code=code)["items"]
    assert len(found) == 1 and found[0]["procedure_code"] == LAND and found[0]["channel"] == "postal"
    assert desk.http.post("/api/v1/lookup", json={"receipt_code": code, "secret": "wrong"}).status_code == 404


@pytest.mark.browser
@pytest.mark.integration
def test_a_citizen_rates_the_service_once_the_result_is_returned(browser: Any, desk: Demo) -> None:
    from playwright.sync_api import expect

    path = f"/api/v1/dossiers/{desk.receive('rated')}"
    for step, body in [("decision", {"outcome": "approved"}), ("result-ready", {}), ("result-returned", {})]:
        desk.post(f"{path}/{step}", body, role="officer", agency=AN_KHANH)
    with open_tab(browser) as page:
        page.goto(f"{desk.base}/#/lookup?code={desk.codes['rated']}")
        page.get_by_test_id("lookup-secret").fill(desk.secrets["rated"])
        page.get_by_test_id("lookup-submit").click()
        expect(page.get_by_test_id("lookup-result")).to_be_visible()
        page.get_by_test_id("lookup-rating-satisfied").check()
        page.get_by_test_id("lookup-rate").click()
        expect(page.get_by_test_id("lookup-rated")).to_have_text("Cảm ơn ông/bà đã đánh giá.")
        # Looked up again, a second rating is refused, saying so.
        page.get_by_test_id("lookup-submit").click()
        page.get_by_test_id("lookup-rating-very_satisfied").check()
        page.get_by_test_id("lookup-rate").click()
        expect(page.get_by_test_id("lookup-result").get_by_role("alert")).to_be_visible()
    events = desk.get(f"{path}/events", desk.auth("inspector"))["items"]
    assert [e["payload"]["rating"] for e in events if e["type"] == "SatisfactionRecorded"] == ["satisfied"]


@pytest.mark.browser
@pytest.mark.integration
def test_a_failure_that_asking_again_cannot_mend_offers_no_retry(browser: Any, desk: Demo) -> None:
    from playwright.sync_api import expect

    with open_tab(browser) as page:
        sign_in(page, desk, "officer", AN_KHANH)
        page.goto(f"{desk.base}/#/dossier/00000000-0000-4000-8000-000000000000")
        problem = page.get_by_test_id("problem").first
        expect(problem).to_have_attribute("data-status", "404")
        expect(problem.get_by_role("button")).to_have_count(0)  # no "Thử lại": it would answer 404 again
        # The server away: asking again may mend it.
        page.route("**/api/v1/dossiers/**", lambda route: route.fulfill(status=503, body="{}"))
        page.goto(f"{desk.base}/#/dossier/00000000-0000-4000-8000-000000000001")
        away = page.locator("[data-testid=problem][data-status='503']").first
        expect(away.get_by_role("button", name="Thử lại")).to_be_visible()
