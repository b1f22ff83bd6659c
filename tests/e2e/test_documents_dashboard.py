"""The dossier page of the dashboard prints the control sheet through the documents API
(Debian's chromium through Playwright, on the demo of tests/e2e/test_dashboard.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_dashboard import AN_KHANH, Demo, demo, page, shot, sign_in

__all__ = ["demo", "page"]  # the fixtures, shared with the dashboard's tests


@pytest.mark.browser
@pytest.mark.integration
def test_an_officer_prints_the_control_sheet_from_the_dossier_page(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    late = demo.ids["late"]
    sign_in(page, demo, "officer", AN_KHANH)
    page.goto(f"{demo.base}/#/dossier/{late}")
    forms = page.get_by_test_id("documents")
    expect(forms.get_by_test_id("document-receipt")).to_be_visible()
    expect(forms.get_by_test_id("document-apology")).to_have_count(0)  # none was issued
    sheet = forms.get_by_test_id("document-control-sheet")

    pdf_answer = page.expect_response(lambda r: "/documents/control-sheet" in r.url)
    with pdf_answer as answered, page.context.expect_page():
        sheet.get_by_role("button", name="PDF").click()
    pdf = answered.value
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert int(pdf.headers["content-length"]) > 1000  # the browser hands the bytes to a new tab

    with page.context.expect_page() as opened:
        sheet.get_by_role("button", name="HTML").click()
    printed = opened.value
    printed.wait_for_load_state()
    body = printed.locator("body")
    expect(body).to_contain_text("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
    expect(body).to_contain_text("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    expect(body).to_contain_text(demo.codes["late"])
    expect(body).to_contain_text("Nguyễn Văn An")
    shot(printed, "08-control-sheet-printed-form")
    printed.close()
