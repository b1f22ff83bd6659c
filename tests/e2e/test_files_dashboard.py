"""The desk officer attaches and checks a dossier's components from the dossier page, and
downloads a file back (Debian's chromium through Playwright, on the demo catalogue)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dashboard import Demo, open_tab, served_demo, shot, sign_in

SAI_GON = "000.01.99.H29"  # UBND phường Sài Gòn: desk of CT.01-2025 (chứng thực bản sao)
ORIGINAL, COPY = "Bản chính giấy tờ, văn bản làm cơ sở để chứng thực", "Bản sao cần chứng thực"
SCAN = b"%PDF-1.7\n" + b"4 0 obj << /Length 10 >> stream\nBT ET\nendstream\n" * 50 + b"%%EOF\n"


def _received_for_a_copy(d: Demo, name: str, id_number: str) -> dict[str, Any]:
    """A certified-copy dossier received now at Sài Gòn ward's desk, as the create call answers."""
    body = {
        "procedure_code": "CT.01-2025",
        "channel": "direct",
        "applicant": {"name": name, "id_number": id_number},
    }
    made: dict[str, Any] = d.post("/api/v1/dossiers", body, role="officer", agency=SAI_GON)
    return made


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with served_demo(tmp_path_factory.mktemp("files")) as d:
        made = _received_for_a_copy(d, "Võ Thị Sáu", "079100000006")
        d.ids["copy"] = made["id"]
        yield d


@pytest.fixture
def page(browser: Any, desk: Demo) -> Iterator[Any]:
    with open_tab(browser, accept_downloads=True) as tab:
        yield tab


@pytest.mark.browser
@pytest.mark.integration
def test_the_desk_attaches_checks_and_downloads_components_from_the_dossier_page(
    page: Any, desk: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    dossier = desk.ids["copy"]
    sign_in(page, desk, "officer", SAI_GON)
    page.goto(f"{desk.base}/#/dossier/{dossier}")
    files = page.get_by_test_id("files")
    components = files.get_by_test_id("files-components")
    expect(components.locator(f"tr[data-component='{ORIGINAL}'] [data-digitized]")).to_have_attribute(
        "data-digitized", "false"
    )
    expect(files).to_contain_text("Chưa có tệp nào")

    # A text file named like a PDF is refused, with the reason, and nothing is listed.
    files.get_by_test_id("files-component").select_option(COPY)
    files.get_by_test_id("files-input").set_input_files(
        {"name": "ban-sao.pdf", "mimeType": "application/pdf", "buffer": b"not really a pdf"}
    )
    files.get_by_test_id("files-submit").click()
    expect(files.get_by_test_id("files-status")).to_contain_text("không phải là tệp PDF")

    for n, (component, name) in enumerate(
        ((ORIGINAL, "ban-chinh.pdf"), (COPY, "bản sao.pdf"), (COPY, "lan-2.pdf"))
    ):
        files = page.get_by_test_id("files")
        files.get_by_test_id("files-component").select_option(component)
        files.get_by_test_id("files-input").set_input_files(
            {"name": name, "mimeType": "application/pdf", "buffer": SCAN}
        )
        files.get_by_test_id("files-submit").click()
        expect(page.get_by_test_id("files-list").locator("tbody tr")).to_have_count(min(n + 1, 2))
    # The third was the same content for the same component: nothing new, and the page says so.
    expect(page.get_by_test_id("files-status")).to_contain_text("Tệp này đã được đính kèm trước đó")
    files = page.get_by_test_id("files")
    expect(files).to_have_attribute("data-complete", "true")
    expect(files.get_by_test_id("files-complete")).to_be_visible()
    expect(files.get_by_test_id("files-list").locator("tbody tr")).to_have_count(2)
    shot(page, "09-dossier-files")

    with page.expect_download() as downloading:
        files.get_by_test_id("files-download").first.click()
    saved = tmp_path / "download.pdf"
    downloading.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(SCAN).hexdigest()
    assert downloading.value.suggested_filename == "ban-chinh.pdf"
    # The API says the same as the page.
    listing = desk.get(f"/api/v1/dossiers/{dossier}/files", desk.auth("officer", SAI_GON))
    assert listing["all_components_digitized"] is True and len(listing["items"]) == 2


@pytest.mark.browser
@pytest.mark.integration
def test_the_citizen_downloads_the_result_file_from_the_lookup_page(
    page: Any, desk: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    made = desk.post(
        "/api/v1/dossiers",
        {
            "procedure_code": "CT.01-2025",
            "channel": "direct",
            "applicant": {"name": "Lê Thị Riêng", "id_number": "079100000007"},
        },
        role="officer",
        agency=SAI_GON,
    )
    dossier, officer = made["id"], desk.auth("officer", SAI_GON)
    desk.post(f"/api/v1/dossiers/{dossier}/decision", {"outcome": "approved"}, role="officer", agency=SAI_GON)
    result = b"%PDF-1.7\nBan sao da chung thuc\n%%EOF\n"
    r = desk.http.post(
        f"/api/v1/dossiers/{dossier}/files",
        params={"purpose": "result"},
        files={"file": ("ban-sao-chung-thuc.pdf", result, "application/pdf")},
        headers=officer,
    )
    assert r.status_code == 201, r.text
    page.goto(f"{desk.base}/#/lookup")
    page.get_by_test_id("lookup-code").fill(made["receipt_code"])
    page.get_by_test_id("lookup-secret").fill(made["lookup_secret"])
    page.get_by_test_id("lookup-submit").click()
    expect(page.get_by_test_id("lookup-result")).to_be_visible()
    expect(page.get_by_test_id("lookup-file")).to_have_count(0)  # not before the result is ready
    desk.post(f"/api/v1/dossiers/{dossier}/result-ready", {}, role="officer", agency=SAI_GON)
    page.get_by_test_id("lookup-submit").click()
    with page.expect_download() as downloading:
        page.get_by_test_id("lookup-file").click()
    saved = tmp_path / "result.pdf"
    downloading.value.save_as(saved)
    assert saved.read_bytes() == result and downloading.value.suggested_filename == "ban-sao-chung-thuc.pdf"
    shot(page, "14-lookup-result-file")


@pytest.mark.browser
@pytest.mark.integration
def test_the_desk_refuses_a_dossier_it_received_naming_the_missing_components(page: Any, desk: Demo) -> None:
    """Refusal at the desk is offered while the dossier is still there, and its form names the
    procedure's components found missing (printed on the refusal slip)."""
    from playwright.sync_api import expect

    made = _received_for_a_copy(desk, "Lê Văn Tám", "079100000008")
    sign_in(page, desk, "officer", SAI_GON)
    page.goto(f"{desk.base}/#/dossier/{made['id']}")
    page.get_by_test_id("open-actions").click()
    dialog = page.get_by_test_id("action-dialog")
    dialog.get_by_test_id("action-refuse").check()
    dialog.get_by_test_id("field-reason").fill("Thiếu bản chính")
    missing = dialog.get_by_test_id("field-missing_components")
    expect(missing.locator("input[type=checkbox]")).to_have_count(2)
    missing.get_by_label(ORIGINAL).check()
    dialog.get_by_test_id("action-submit").click()
    expect(dialog).to_have_count(0)
    events = desk.get(f"/api/v1/dossiers/{made['id']}/events", desk.auth("inspector"))["items"]
    refused = [e for e in events if e["type"] == "DossierRefusedAtIntake"]
    assert len(refused) == 1 and refused[0]["payload"]["missing_components"] == [ORIGINAL], refused
