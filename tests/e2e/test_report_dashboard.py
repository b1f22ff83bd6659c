"""A supervisor downloads the official Biểu 06 of a period from the dashboard (chromium through
Playwright): the month shown, or the quarter, half-year, nine months or year it closes with."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from gateways.bootstrap import bootstrap
from gateways.http.app import create_app
from gateways.seed.demo import seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.test_dashboard import CITY, NOW, SECRET, Demo, page, page_token, shot, sign_in
from tests.serving import serve

__all__ = ["page"]  # the dashboard tests' tab, on this module's demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    clock = FakeClock(NOW)
    settings = Settings(data_dir=tmp_path_factory.mktemp("form") / "var", jwt_secret=SECRET)
    container = bootstrap(settings.model_copy(update={"demo_login": True}), clock=clock)
    seed_demo(container.service, clock(), dossiers=60)
    container.feed.catch_up()
    with serve(create_app(container)) as base:
        d = Demo(base, container, httpx.Client(base_url=base, timeout=30))
        yield d
        d.http.close()
    container.close()


def _total_row(content: bytes) -> list[Any]:
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Biểu 06"]
    rows = [[c for c in r if c is not None] for r in sheet.iter_rows(values_only=True)]
    return next(r for r in rows if r and r[0] == "Tổng cộng")


@pytest.mark.browser
@pytest.mark.integration
def test_a_supervisor_downloads_the_quarters_official_form_from_the_overview(
    page: Any, demo: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    me = page_token(page)
    page.get_by_test_id("ov-period").select_option("2026-11")
    # The month shown closes the fourth quarter's second month: it offers the month, quarter 4,
    # the second half and the year (not the nine months, closed in September).
    form = page.get_by_test_id("ov-form")
    options = form.get_by_test_id("ov-form-period").locator("option")
    expect(options.first).to_have_attribute("value", "2026-11")  # the page redrawn for the month
    expect(options).to_have_count(4)
    choices = options.evaluate_all("os => os.map(o => o.value)")
    assert choices == ["2026-11", "2026-Q4", "2026-H2", "2026"]
    form.get_by_test_id("ov-form-period").select_option("2026-Q4")
    with page.expect_download() as downloading:
        form.get_by_test_id("ov-form-download").click()
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    assert saved.name == f"bieu06-{CITY}-2026-Q4.xlsx"
    expect(form.get_by_test_id("ov-form-status")).to_contain_text(saved.name)
    # The form's total row is the JSON report of the same quarter and subtree.
    body = demo.get("/api/v1/reports/bieu06", me, agency_code=CITY, include_children="true", period="2026-Q4")
    assert body["received"]["total"] > 0
    total = _total_row(saved.read_bytes())
    assert total[1:5] == [
        body["received"]["total"],
        body["received"]["online"],
        body["received"]["direct"] + body["received"]["postal"],
        body["received"]["carried_over"],
    ]
    assert total[5] == body["resolved"]["total"] and total[9] == body["in_process"]["total"]
    shot(page, "05-overview-form-download")

    # The PDF of the month.
    form.get_by_test_id("ov-form-period").select_option("2026-11")
    form.get_by_test_id("ov-form-format").select_option("pdf")
    with page.expect_download() as downloading:
        form.get_by_test_id("ov-form-download").click()
    assert downloading.value.suggested_filename == f"bieu06-{CITY}-2026-11.pdf"
    pdf = tmp_path / "month.pdf"
    downloading.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.browser
@pytest.mark.integration
def test_the_overview_lists_the_late_steps_behind_its_counts_and_opens_their_dossiers(
    page: Any, demo: Demo
) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    me = page_token(page)
    # The latest period of the demo with a step over budget in the city's subtree.
    period, body = next(
        (p, b)
        for p in ("2026-12", "2026-11", "2026-10", "2026-09", "2026-08")
        if (b := demo.get("/api/v1/reports/late-steps", me, agency_code=CITY, period=p))["total"]
    )
    page.get_by_test_id("ov-period").select_option(period)
    rows = page.locator("[data-testid=late-steps] tbody tr")
    expect(rows).to_have_count(len(body["items"]))
    shown = rows.evaluate_all("rs => rs.map(r => [r.dataset.dossier, r.dataset.agency])")
    assert shown == [[i["dossier_id"], i["agency_code"]] for i in body["items"]]
    # The counts above name the same agencies: each agency's late steps add up to its count.
    counts = demo.get("/api/v1/reports/sla", me, agency_code=CITY, group_by="agency", period=period)
    charged = {row["group"]: row["late_attributed"] for row in counts["items"] if row["late_attributed"]}
    listed: dict[str, int] = {}
    for item in body["items"]:
        listed[item["agency_code"]] = listed.get(item["agency_code"], 0) + 1
    assert listed == charged
    shot(page, "06-overview-late-steps")
    first = body["items"][0]
    rows.first.get_by_role("link").click()
    page.wait_for_function("id => location.hash.includes(id)", arg=first["dossier_id"])
