"""The inbox page for a consulted agency and for a full one (Debian's chromium through Playwright,
on the demo catalogue): the dossiers waiting for the agency's opinion are listed with the answer
at hand, and a section the API's limit cut says how many there are in all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_dashboard import (
    AN_KHANH,
    LAND_DEPT,
    SCREENSHOTS,
    Demo,
    open_tab,
    served_demo,
    shot,
    sign_in,
)

SAI_GON = "000.01.99.H29"  # UBND phường Sài Gòn: desk of CT.01-2025 (chứng thực bản sao)
LIMIT = 200  # the inbox's default limit, which the page keeps
APPLICANT = {"name": "Võ Thị Sáu", "id_number": "079100000006"}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("inbox")) as d:
        asked = d.receive("asked")
        question = {"agency_code": LAND_DEPT, "question": "Đề nghị cho ý kiến về ranh giới thửa đất"}
        d.post(f"/api/v1/dossiers/{asked}/consultations", question, role="officer", agency=AN_KHANH)
        for _ in range(LIMIT + 1):  # one more than the page lists
            body = {"procedure_code": "CT.01-2025", "channel": "direct", "applicant": APPLICANT}
            d.post("/api/v1/dossiers", body, role="officer", agency=SAI_GON)
        yield d


@pytest.fixture
def page(browser: Any, office: Demo) -> Iterator[Any]:
    with open_tab(browser) as tab:
        yield tab


def _heading(page: Any, testid: str) -> Any:
    return page.locator("section.card", has=page.get_by_test_id(testid)).locator("h2")


@pytest.mark.browser
@pytest.mark.integration
def test_the_consulted_department_answers_from_its_inbox(page: Any, office: Demo) -> None:
    from playwright.sync_api import expect

    asked = office.ids["asked"]
    sign_in(page, office, "officer", LAND_DEPT)
    assert page.evaluate("location.hash").startswith("#/inbox")
    row = page.locator(f"[data-testid=inbox-consult] tr[data-dossier='{asked}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("An Khánh")  # who holds it
    expect(_heading(page, "inbox-consult")).to_have_text("Xin ý kiến chờ trả lời (1)")
    shot(page, "30-inbox-consultation")
    row.get_by_test_id("act").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog.get_by_test_id("action-answer")).to_be_checked()
    dialog.get_by_test_id("field-answer").fill("Thống nhất ranh giới theo bản đồ địa chính")
    dialog.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("inbox-consult")).to_have_count(0)  # nothing left to answer
    state = office.get(f"/api/v1/dossiers/{asked}", office.auth("inspector"))
    assert state["open_consultations"] == [] and state["holder_agency_code"] == AN_KHANH

    page.get_by_test_id("lang").click()  # the same page in English
    expect(_heading(page, "inbox-active")).to_have_text(re.compile(r"^In hand \(0\)$"))


@pytest.mark.browser
@pytest.mark.integration
def test_a_cut_inbox_says_how_many_it_holds(page: Any, office: Demo) -> None:
    from playwright.sync_api import expect

    sign_in(page, office, "officer", SAI_GON)
    expect(page.locator("[data-testid=inbox-active] tbody tr")).to_have_count(LIMIT)
    expect(_heading(page, "inbox-active")).to_have_text(f"Đang xử lý ({LIMIT} trên {LIMIT + 1})")
    expect(_heading(page, "inbox-incoming")).to_have_text("Chuyển đến, chờ cơ quan nhận (0)")
    page.get_by_test_id("lang").click()
    expect(_heading(page, "inbox-active")).to_have_text(f"In hand ({LIMIT} of {LIMIT + 1})")
    page.screenshot(path=str(SCREENSHOTS / "31-inbox-cut.png"))  # the top: 200 rows follow
