"""What a walk through the dashboard as its users found (Debian's chromium through Playwright, on
the served demo of the dashboard's tests): pages that ask the server for what the reader may not
have, that do not fit a phone, or that leave a reader with an empty box and no word why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_dashboard import AN_KHANH, CITY, Demo, demo, fits, open_tab, sign_in

__all__ = ["demo"]  # the fixtures, shared with the dashboard's tests


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    with open_tab(browser) as tab:
        yield tab


def failed_requests(page: Any) -> list[str]:
    """Every answer of 400 or more the page receives from now on (the list fills as it goes)."""
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.request.method} {r.url}"))
    return failed


@pytest.mark.browser
@pytest.mark.integration
def test_an_officer_opens_a_dossier_without_a_refused_request(page: Any, demo: Demo) -> None:
    """The integrity check is for inspectors and supervisors: the officer's dossier page says so
    instead of asking the server and logging its 403 in the console."""
    from playwright.sync_api import expect

    mine = demo.receive("officer-walk")
    sign_in(page, demo, "officer", AN_KHANH)
    failed = failed_requests(page)
    page.goto(f"{demo.base}/#/dossier/{mine}")
    expect(page.get_by_test_id("dossier-title")).to_contain_text(demo.codes["officer-walk"])
    expect(page.get_by_text("Chỉ thanh tra, lãnh đạo và quản trị được kiểm tra toàn vẹn.")).to_be_visible()
    expect(page.get_by_test_id("files")).to_be_visible()  # the page drew to its end
    expect(page.get_by_test_id("timeline").locator("li")).to_have_count(1)
    assert failed == []


@pytest.mark.browser
@pytest.mark.integration
def test_the_printable_control_sheet_fits_a_phone(browser: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="vi-VN", is_mobile=True)
    tab = context.new_page()
    try:
        sign_in(tab, demo, "supervisor", CITY)
        tab.goto(f"{demo.base}/#/dossier/{demo.ids['late']}/print")
        sheet = tab.get_by_test_id("print-sheet")
        expect(sheet).to_contain_text("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
        expect(sheet.locator("tbody tr")).to_have_count(1)  # the handoff to the department
        assert fits(tab)
    finally:
        context.close()


def card(page: Any, title: str) -> Any:
    return page.locator("section.card", has=page.locator("h2", has_text=title))


@pytest.mark.browser
@pytest.mark.integration
def test_bottlenecks_say_when_a_range_holds_no_work(page: Any, demo: Demo) -> None:
    """Every box of the page, the chart of work in progress too, says the range is empty."""
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/bottlenecks?from=2020-01-06&to=2020-01-31")
    expect(card(page, "Tồn đọng và thời gian lưu theo cơ quan")).to_contain_text(
        "Không có dữ liệu trong khoảng này."
    )
    expect(card(page, "Hồ sơ tồn theo thời gian")).to_contain_text("Không có dữ liệu trong khoảng này.")
    expect(card(page, "Bản đồ nhiệt cơ quan × tuần")).to_contain_text("Không có dữ liệu trong khoảng này.")


THU_DUC = "000.00.63.H29"  # UBND thành phố Thủ Đức, a district until 30 Jun 2025


@pytest.mark.browser
@pytest.mark.integration
def test_the_overview_of_an_abolished_district_does_not_pull_back_a_reader_who_left(
    page: Any, demo: Demo
) -> None:
    """The overview of an agency abolished by the reform moves to its last busy period once its
    trend has come in. A supervisor who went on to another page before that stays there."""
    from playwright.sync_api import expect

    held: list[Any] = []

    def hold(route: Any) -> None:  # a bound method is not taken as a route handler
        held.append(route)

    page.route("**/api/v1/reports/bieu06?*", hold)  # the overview's figures, held back
    sign_in(page, demo, "supervisor", THU_DUC, ended=True)
    while len(held) < 13:  # the period's figures and the trend's twelve periods
        page.wait_for_event("request", timeout=30_000)
    page.goto(f"{demo.base}/#/bottlenecks")
    expect(page.get_by_test_id("bn-agencies")).to_be_attached()
    answered: list[Any] = []
    page.on("requestfinished", lambda r: "/reports/bieu06?" in r.url and answered.append(r))
    for route in list(held):
        route.continue_()
    page.unroute("**/api/v1/reports/bieu06?*")
    while len(answered) < 13:
        page.wait_for_event("requestfinished", timeout=30_000)
    page.get_by_role("button", name="Xem", exact=True).click()  # the reader goes on with the page
    expect(page.get_by_test_id("bn-agencies")).to_be_attached()
    assert page.evaluate("location.hash").startswith("#/bottlenecks"), page.evaluate("location.hash")


@pytest.mark.browser
@pytest.mark.integration
def test_bottlenecks_of_an_abolished_district_say_when_it_ended_and_open_its_last_year(
    page: Any, demo: Demo
) -> None:
    """The default range (the last 56 days) is empty for a district the reform abolished: the
    page says when it ended and opens its last year in one click."""
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", THU_DUC, ended=True)
    page.goto(f"{demo.base}/#/bottlenecks")
    ended = page.get_by_test_id("bn-ended")
    expect(ended).to_contain_text("Ủy ban nhân dân thành phố Thủ Đức kết thúc hoạt động ngày 30/06/2025")
    ended.get_by_role("button").click()
    expect(page.locator("#bn-to")).to_have_value("2025-06-30")
    expect(page.locator("#bn-from")).to_have_value("2024-07-01")
    expect(page.get_by_test_id("bn-ended")).to_have_count(0)  # the range now ends with it
    expect(page.get_by_test_id("bn-agencies").locator("tbody tr").first).to_be_visible()


# Every table on the page whose content is wider than its card (hidden until scrolled sideways).
CUT_TABLES = """() => [...document.querySelectorAll('.table-wrap')]
    .filter((w) => w.scrollWidth > w.clientWidth + 1)
    .map((w) => `${w.querySelector('table').dataset.testid}: ${w.scrollWidth} > ${w.clientWidth}`)"""


@pytest.mark.browser
@pytest.mark.integration
def test_tables_read_as_cards_show_every_value_on_a_phone(browser: Any, demo: Demo) -> None:
    """On a phone each row is a card of name and value; a value too wide to stand beside its
    name (the dwell times, a long overdue chip) goes under it instead of pushing every value of
    the table past the card's edge."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="vi-VN", is_mobile=True)
    tab = context.new_page()
    try:
        sign_in(tab, demo, "supervisor", CITY)
        tab.goto(f"{demo.base}/#/bottlenecks")
        first = tab.get_by_test_id("bn-agencies").locator("tbody tr").first
        expect(first).to_be_visible()
        assert tab.evaluate(CUT_TABLES) == []
        wip = first.locator("td").nth(1)  # "Đang tồn": its number inside the card
        box = wip.evaluate("td => td.closest('.table-wrap').getBoundingClientRect().right")
        number = wip.evaluate(
            "td => { const r = document.createRange(); r.selectNodeContents(td);"
            " return r.getBoundingClientRect().right; }"
        )
        assert number <= box + 1
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.integration
def test_the_work_in_progress_chart_counts_in_whole_numbers_each_once(page: Any, demo: Demo) -> None:
    """A day's arrivals are a few dossiers: the axis reads 0, 1, 2, not 0, 0, 1, 1, 2, 2."""
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/bottlenecks")
    chart = card(page, "Hồ sơ tồn theo thời gian").locator(".js-plotly-plot")
    expect(chart.locator(".y2tick text").first).to_be_attached()
    for axis in ("ytick", "y2tick"):
        ticks = chart.locator(f".{axis} text").evaluate_all("ts => ts.map((t) => t.textContent)")
        assert ticks and len(ticks) == len(set(ticks)), (axis, ticks)
        assert all(tick.isdigit() for tick in ticks), (axis, ticks)


# For each radio of a fieldset: whether it stands on the line of its own words.
RADIOS_ON_THEIR_LINE = """(fieldset) => [...fieldset.querySelectorAll('label')].map((label) => {
    const radio = label.querySelector('input').getBoundingClientRect();
    const words = document.createRange();
    words.setStartAfter(label.querySelector('input'));
    words.setEndAfter(label.lastChild);
    const text = words.getClientRects()[0];
    const middle = (radio.top + radio.bottom) / 2;
    return text.top <= middle && middle <= text.bottom;
})"""


@pytest.mark.browser
@pytest.mark.integration
def test_the_heat_map_metric_radios_stand_beside_their_words(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/bottlenecks")
    picker = card(page, "Bản đồ nhiệt cơ quan × tuần").locator("fieldset")
    expect(picker.locator("input[type=radio]")).to_have_count(2)
    assert picker.evaluate(RADIOS_ON_THEIR_LINE) == [True, True]


@pytest.mark.browser
@pytest.mark.integration
def test_the_indicators_page_names_its_periods_as_the_overview_does(page: Any, demo: Demo) -> None:
    """Days as Vietnamese readers write them, not ISO dates in a Vietnamese page."""
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/indicators")
    chosen = page.get_by_test_id("ind-period").locator("option:checked")
    # Wed 18 Nov 2026: the period "2026-12", 15 Nov to 14 Dec.
    expect(chosen).to_have_text("12/2026: 15/11/2026 – 14/12/2026 (kỳ hiện tại)")
    page.goto(f"{demo.base}/#/overview")
    expect(page.get_by_test_id("ov-period").locator("option:checked")).to_have_text(
        "12/2026: 15/11/2026 – 14/12/2026 (kỳ hiện tại)"
    )


@pytest.mark.browser
@pytest.mark.integration
def test_the_printable_control_sheet_of_a_dossier_never_handed_off_says_so(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    kept = demo.receive("kept-at-the-desk")
    sign_in(page, demo, "officer", AN_KHANH)
    page.goto(f"{demo.base}/#/dossier/{kept}/print")
    sheet = page.get_by_test_id("print-sheet")
    expect(sheet).to_contain_text(demo.codes["kept-at-the-desk"])
    expect(sheet.locator("tbody tr")).to_have_count(1)
    expect(sheet.locator("tbody")).to_have_text("Hồ sơ chưa được chuyển giữa các cơ quan.")


@pytest.mark.browser
@pytest.mark.integration
def test_a_page_outside_the_roles_menu_takes_the_reader_to_their_own(page: Any, demo: Demo) -> None:
    """An officer who types (or kept) the bottleneck page's address lands on their inbox, not on
    a page of refusals; nothing is asked of the server that it would refuse."""
    from playwright.sync_api import expect

    sign_in(page, demo, "officer", AN_KHANH)
    expect(page.get_by_test_id("inbox-active")).to_be_visible()
    failed = failed_requests(page)
    page.goto(f"{demo.base}/#/bottlenecks")
    expect(page).to_have_url(re.compile(r"#/inbox$"))
    expect(page.get_by_test_id("inbox-active")).to_be_visible()
    assert page.get_by_role("link", name="Điểm nghẽn").count() == 0
    assert failed == []


@pytest.mark.browser
@pytest.mark.integration
def test_tables_by_level_head_their_first_column_level_not_agency(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    by_level = page.get_by_test_id("by-level")
    expect(by_level.locator("tbody tr").first).to_contain_text("Cấp xã")
    expect(by_level.locator("thead th").first).to_have_text("Cấp")
    page.goto(f"{demo.base}/#/indicators")
    indicators = page.get_by_test_id("ind-by-level")
    expect(indicators.locator("tbody tr").first).to_be_visible()
    expect(indicators.locator("thead th").first).to_have_text("Cấp")
    expect(page.get_by_test_id("ind-by-agency").locator("thead th").first).to_have_text("Cơ quan")
