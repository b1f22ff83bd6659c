"""The indicators page in a real browser (Debian's chromium, Playwright), on a catalogue with no
other dossiers: two dossiers at An Khánh's desk give hand-computed values, and a citizen's
rating shows on the open page without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateways.bootstrap import bootstrap
from gateways.http.app import create_app
from gateways.seed.demo import seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.test_dashboard import AN_KHANH, NOW, SECRET, Demo, page, shot, sign_in
from tests.serving import serve

__all__ = ["page"]  # the dashboard tests' tab, on this module's demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    clock = FakeClock(NOW)
    settings = Settings(data_dir=tmp_path_factory.mktemp("indicators") / "var", jwt_secret=SECRET)
    container = bootstrap(settings.model_copy(update={"demo_login": True}), clock=clock)
    seed_demo(container.service, clock(), dossiers=0)  # the catalogue only
    with serve(create_app(container)) as base:
        d = Demo(base, container, httpx.Client(base_url=base, timeout=30))
        for name in ("returned", "at-desk"):  # direct, at the desk, now: resolved and returned
            made = d.receive(name)
            for path, step in (
                ("decision", {"outcome": "approved"}),
                ("result-ready", {}),
                ("result-returned", {}),
            ):
                d.post(f"/api/v1/dossiers/{made}/{path}", step, role="officer", agency=AN_KHANH)
        body = {
            "procedure_code": "DD.01-2025",
            "channel": "online",
            "applicant": {"name": "Trần Thị B", "id_number": "079300004321"},
        }
        d.post("/api/v1/dossiers", body, role="officer", agency=AN_KHANH)
        yield d
        d.http.close()
    container.close()


@pytest.mark.browser
@pytest.mark.integration
def test_the_indicators_page_shows_live_values(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "officer", AN_KHANH)
    page.goto(f"{demo.base}/#/indicators")
    # Two resolved (early, the same day) and returned of three received, one online; none rated.
    expect(page.get_by_test_id("ind-on_time_rate")).to_have_text("100%")
    expect(page.get_by_test_id("ind-on_time_rate-fraction")).to_have_text("2 / 2")
    expect(page.get_by_test_id("ind-online_rate-fraction")).to_have_text("1 / 3")
    expect(page.get_by_test_id("ind-online_rate")).to_have_text("33,3%")
    expect(page.get_by_test_id("ind-satisfaction_rate")).to_have_text("–")
    expect(page.get_by_test_id("ind-rating_coverage-fraction")).to_have_text("0 / 2")
    expect(page.get_by_test_id("ind-composite")).to_contain_text("Không tính điểm tổng hợp")
    payment = page.locator("[data-testid=ind-not-measurable] li[data-group=online_payment]")
    expect(payment).to_contain_text("không ghi nộp trực tuyến hay tại quầy")
    level = page.locator("[data-testid=ind-by-level] tbody tr")
    expect(level).to_have_count(1)
    expect(level.locator("td").first).to_have_text("Cấp xã")  # An Khánh's level
    expect(level.locator("td").nth(1)).to_have_text("3")  # received
    # The citizen rates one returned dossier through the lookup: the open page follows.
    rating = {
        "receipt_code": demo.codes["returned"],
        "secret": demo.secrets["returned"],
        "rating": "satisfied",
    }
    assert demo.http.post("/api/v1/lookup/satisfaction", json=rating).status_code == 201
    expect(page.get_by_test_id("ind-satisfaction_rate")).to_have_text("100%")
    expect(page.get_by_test_id("ind-rating_coverage-fraction")).to_have_text("1 / 2")
    shot(page, "20-indicators")
    # The desk records the other citizen's answer on the dossier's page.
    page.goto(f"{demo.base}/#/dossier/{demo.ids['at-desk']}")
    page.get_by_test_id("open-actions").click()
    dialog = page.get_by_test_id("action-dialog")
    dialog.get_by_test_id("action-satisfaction").check()
    dialog.get_by_test_id("rating-not_satisfied").check()
    dialog.get_by_test_id("action-submit").click()
    expect(dialog).to_have_count(0)
    page.goto(f"{demo.base}/#/indicators")
    expect(page.get_by_test_id("ind-satisfaction_rate-fraction")).to_have_text("1 / 2")
    expect(page.get_by_test_id("ind-satisfaction_rate")).to_have_text("50%")
