"""The web dashboard in a real browser: Debian's chromium driven by Playwright, against the app
served by uvicorn on 127.0.0.1 with the embedded demo (HCMC catalogue and dossiers) on a fixed clock.

Screenshots of every page land in var/screenshots/ (repository root). The browser is installed
by deploy/browser/install.sh (`make test` runs it); Playwright never downloads one.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.http.app import create_app
from gateways.seed.demo import load_catalogue, seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.serving import serve

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SECRET = "test-secret-of-at-least-thirty-two-bytes"

CITY = "000.00.00.H29"  # Ủy ban nhân dân Thành phố Hồ Chí Minh
AN_KHANH = "000.21.99.H29"  # Ủy ban nhân dân phường An Khánh (after the 2025 reform)
CAT_LAI = "000.23.99.H29"
LAND_DEPT = "000.00.21.H29"  # Sở Nông nghiệp và Môi trường
LAND = "DD.01-2025"  # An Khánh 4 h -> department 72 h -> An Khánh 4 h = 80 working hours
# Wednesday 18 Nov 2026, 10:00 in Ho Chi Minh City: "now" for the whole module.
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=VN)
APPLICANT = {"name": "Nguyễn Văn An", "id_number": "079200001234"}


# --- wiring: what the composition root provides once the dashboard is integrated -----------------


def seed(container: Container, clock: FakeClock, dossiers: int) -> dict[str, int]:
    counts = seed_demo(container.service, clock(), dossiers)
    container.feed.catch_up()
    container.checkpoints.checkpoint(clock())
    return counts


# --- the served demo -------------------------------------------------------------------------------


@dataclass
class Demo:
    base: str
    container: Container
    http: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str, agency: str | None = None) -> dict[str, str]:
        token = issue_token(
            SECRET,
            role=role,
            sub=f"test-{role}@{agency or 'lienthong'}",
            agency_code=agency,
            now=datetime.now(VN),
            ttl=timedelta(hours=2),
        )
        return {"Authorization": f"Bearer {token}"}

    def post(
        self, path: str, body: dict[str, Any], role: str = "integration", agency: str | None = None
    ) -> Any:
        r = self.http.post(path, json=body, headers=self.auth(role, agency))
        assert r.status_code in (200, 201), r.text
        return r.json()

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        r = self.http.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    def receive(self, name: str, at: str | None = None, agency: str = AN_KHANH) -> str:
        body: dict[str, Any] = {"procedure_code": LAND, "channel": "direct", "applicant": APPLICANT}
        if at:  # an agency system records what happened earlier
            made = self.post("/api/v1/dossiers", {**body, "occurred_at": at})
        else:  # the desk's officer, now
            made = self.post("/api/v1/dossiers", body, role="officer", agency=agency)
        self.ids[name], self.secrets[name], self.codes[name] = (
            made["id"],
            made["lookup_secret"],
            made["receipt_code"],
        )
        return str(made["id"])


@contextlib.contextmanager
def served_demo(work: Path, catalogue: bool = True) -> Iterator[Demo]:
    """A fresh store under `work` (with the country's catalogue unless told not to), served with
    the demo login at 18 Nov 2026 09:00, Vietnam's time; closed after."""
    clock = FakeClock(datetime(2026, 11, 18, 9, 0, tzinfo=VN))
    container = bootstrap(Settings(data_dir=work / "var", jwt_secret=SECRET, demo_login=True), clock=clock)
    try:
        if catalogue:
            load_catalogue(container.catalogue)
        with serve(create_app(container)) as base:
            d = Demo(base, container, httpx.Client(base_url=base, timeout=30))
            try:
                yield d
            finally:
                d.http.close()
    finally:
        container.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    clock = FakeClock(NOW)
    settings = Settings(data_dir=tmp_path_factory.mktemp("dashboard") / "var", jwt_secret=SECRET)
    settings = settings.model_copy(update={"demo_login": True})
    container = bootstrap(settings, clock=clock)
    app = create_app(container)
    seed(container, clock, 240)
    with serve(app) as base:
        d = Demo(base, container, httpx.Client(base_url=base, timeout=30))
        _walk_the_examples(d)
        container.checkpoints.checkpoint(clock())
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield d
        d.http.close()
    container.close()


def _walk_the_examples(d: Demo) -> None:
    """The dossiers the tests look at, recorded through the command API."""

    # A late dossier: received Mon 26 Oct 08:00, due 80 working hours later = Mon 9 Nov 08:00
    #   (Mon 26: 3.5 + 4 = 7.5 h; Tue 27 - Fri 30: 32 h -> 39.5; Mon 2 - Fri 6 Nov: 40 h -> 79.5;
    #   Mon 9 07:30-08:00: 0.5 h -> 80). The department accepted it Mon 26 at 14:00 and still holds it.
    late = d.receive("late", "2026-10-26T08:00:00+07:00")
    d.post(
        f"/api/v1/dossiers/{late}/handoffs",
        {"to_agency_code": LAND_DEPT, "occurred_at": "2026-10-26T10:00:00+07:00"},
    )
    d.post(f"/api/v1/dossiers/{late}/handoffs/accept", {"occurred_at": "2026-10-26T14:00:00+07:00"})
    # Two received at An Khánh's desk this morning, still in its hands.
    d.receive("fresh")
    d.receive("stale")
    # One the department holds, that will come back to An Khánh while its officer watches.
    back = d.receive("back", "2026-11-16T08:00:00+07:00")
    d.post(
        f"/api/v1/dossiers/{back}/handoffs",
        {"to_agency_code": LAND_DEPT, "occurred_at": "2026-11-16T09:00:00+07:00"},
    )
    d.post(f"/api/v1/dossiers/{back}/handoffs/accept", {"occurred_at": "2026-11-16T10:00:00+07:00"})


# --- the browser (one per run: `browser` of tests/e2e/conftest.py) -------------------------------


@contextlib.contextmanager
def open_tab(browser: Any, **options: Any) -> Iterator[Any]:
    """A tab in a fresh browser context (Vietnamese, Vietnam's time); script errors on the
    page fail the test."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()  # the browser lives on for the next test (tests/e2e/conftest.py)
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    with open_tab(browser) as tab:
        yield tab


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, demo: Demo, role: str, agency: str | None, ended: bool = False) -> None:
    """Through the demo sign-in form, as a person would; `ended`: an agency abolished before
    today, offered once the form is asked for them."""
    page.goto(f"{demo.base}/#/login")
    page.get_by_test_id("demo-role").select_option(role)
    if ended:
        page.get_by_test_id("demo-agency-ended").check()
    page.get_by_test_id("demo-agency").select_option(agency or "")
    page.get_by_test_id("demo-submit").click()
    page.wait_for_function("() => !location.hash.startsWith('#/login')")


def page_token(page: Any) -> dict[str, str]:
    token = page.evaluate("localStorage.getItem('lienthong.token')")
    return {"Authorization": f"Bearer {token}"}


def fits(page: Any) -> bool:
    """Nothing sticks out sideways. A phone's browser widens its window to what the page needs
    (window.innerWidth grows with it), so the page is measured against the screen's width."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def count(text: str) -> int:
    """A count as shown ("1.234" in Vietnamese)."""
    return int(re.sub(r"\D", "", text))


def percent(text: str) -> float | None:
    """A rate as shown ("96,5 %" in Vietnamese, "96.5%" in English)."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace("%", "").replace(",", ".")
    return None if cleaned in ("–", "") else float(cleaned)


def assert_kpis_match(page: Any, body: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("kpi-received-total")).to_have_text(re.compile(r"\d"))
    shown = {
        ("received", key): count(page.get_by_test_id(f"kpi-received-{key}").inner_text())
        for key in ("total", "online", "direct", "postal", "carried_over")
    }
    shown |= {
        ("resolved", key): count(page.get_by_test_id(f"kpi-resolved-{key}").inner_text())
        for key in ("total", "early", "on_time", "late")
    }
    shown |= {
        ("in_process", key): count(page.get_by_test_id(f"kpi-in_process-{key}").inner_text())
        for key in ("total", "within_due", "overdue")
    }
    expected = {(part, key): body[part][key] for part, key in shown}
    assert shown == expected
    assert count(page.get_by_test_id("kpi-closed").inner_text()) == body["closed_without_result"]
    rate = body["on_time_rate"]
    assert percent(page.get_by_test_id("kpi-rate").inner_text()) == (
        None if rate is None else round(rate * 100, 1)
    )


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.integration
def test_a_supervisor_sees_the_bieu06_numbers_of_the_api_and_drills_down(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    page.goto(f"{demo.base}/#/login")
    expect(page.get_by_test_id("demo-role")).to_be_visible()
    shot(page, "01-login")
    sign_in(page, demo, "supervisor", CITY)
    assert page.evaluate("location.hash").startswith("#/overview")
    me = page_token(page)
    # The current reporting period on Wed 18 Nov 2026 is "2026-12": 15 Nov to 14 Dec.
    body = demo.get("/api/v1/reports/bieu06", me, agency_code=CITY, include_children="true", period="2026-12")
    assert body["from"] == "2026-11-15" and body["to"] == "2026-12-14"
    assert_kpis_match(page, body)
    expect(page.locator("[data-testid=by-level] tbody tr").first).to_be_visible()
    expect(page.locator(".chart .main-svg").first).to_be_visible()  # plotly drew, from this server
    shot(page, "02-overview")

    # The previous period, chosen in the form.
    page.get_by_test_id("ov-period").select_option("2026-11")
    body = demo.get("/api/v1/reports/bieu06", me, agency_code=CITY, include_children="true", period="2026-11")
    expect(page.get_by_test_id("kpi-received-total")).to_have_text(
        re.compile(f"^{body['received']['total']}$")
    )
    assert_kpis_match(page, body)

    # Drill down to the ward of An Khánh: its own Biểu 06.
    page.locator("[data-testid=by-agency] a", has_text="phường An Khánh").first.click()
    expect(page.locator(".breadcrumb [aria-current=location]")).to_have_text(
        "Ủy ban nhân dân phường An Khánh"
    )
    ward = demo.get(
        "/api/v1/reports/bieu06", me, agency_code=AN_KHANH, include_children="true", period="2026-11"
    )
    expect(page.get_by_test_id("kpi-received-total")).to_have_text(
        re.compile(f"^{ward['received']['total']}$")
    )
    assert_kpis_match(page, ward)
    shot(page, "03-overview-drilldown")

    # The English switch.
    page.get_by_test_id("lang").click()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    expect(page.get_by_text("Form 06 figures", exact=False)).to_be_visible()
    assert_kpis_match(page, ward)
    shot(page, "04-overview-english")


@pytest.mark.browser
@pytest.mark.integration
def test_a_late_dossier_opens_from_the_at_risk_list_and_the_slider_shows_its_earlier_state(
    page: Any, demo: Demo
) -> None:
    from playwright.sync_api import expect

    late = demo.ids["late"]
    sign_in(page, demo, "supervisor", CITY)
    row = page.locator(f"[data-testid=at-risk] tr[data-dossier='{late}']")
    expect(row).to_have_attribute("data-overdue", "true")
    # Due Mon 9 Nov 08:00; now Wed 18 Nov 10:00: Mon 9 7.5 h + Tue 10 - Fri 13 32 h + Mon 16,
    # Tue 17 16 h + Wed 18 07:30-10:00 2.5 h = 58 working hours = 7 days (8 h) and 2 hours late.
    expect(row).to_contain_text("Quá hạn 7 ngày 2 giờ làm việc")
    row.get_by_role("link").click()
    expect(page.get_by_test_id("dossier-title")).to_contain_text(demo.codes["late"])
    expect(page.get_by_test_id("asof-holder")).to_have_attribute("data-code", LAND_DEPT)
    expect(page.get_by_test_id("verify")).to_have_attribute("data-ok", "true")
    expect(page.get_by_test_id("control-sheet").locator("tbody tr")).to_have_count(1)
    shot(page, "05-dossier")

    # Back to the first instant: just received at An Khánh's desk.
    slider = page.get_by_test_id("asof-slider")
    slider.focus()
    slider.press("Home")
    expect(page.get_by_test_id("asof-status")).to_have_attribute("data-status", "received")
    expect(page.get_by_test_id("asof-holder")).to_have_attribute("data-code", AN_KHANH)
    expect(page.locator("[data-testid=timeline] li.later")).to_have_count(2)
    shot(page, "06-dossier-as-of-received")
    # One event on: handed off, still An Khánh's until the department accepts it.
    page.get_by_test_id("asof-next").click()
    expect(page.locator("[data-testid=timeline] li.later")).to_have_count(1)
    expect(page.get_by_test_id("asof")).to_contain_text("Sở Nông nghiệp và Môi trường")
    expect(page.get_by_test_id("asof-holder")).to_have_attribute("data-code", AN_KHANH)
    page.get_by_test_id("asof-next").click()
    expect(page.get_by_test_id("asof-holder")).to_have_attribute("data-code", LAND_DEPT)

    page.get_by_test_id("print-link").click()
    expect(page.get_by_test_id("print-sheet")).to_contain_text("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
    expect(page.get_by_test_id("print-sheet")).to_contain_text(demo.codes["late"])
    shot(page, "07-control-sheet-print")


@pytest.mark.browser
@pytest.mark.integration
def test_an_officer_hands_a_dossier_off_from_the_inbox_and_sees_it_leave(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    fresh = demo.ids["fresh"]
    sign_in(page, demo, "officer", AN_KHANH)
    assert page.evaluate("location.hash").startswith("#/inbox")
    active = page.locator(f"[data-testid=inbox-active] tr[data-dossier='{fresh}']")
    expect(active).to_be_visible()
    shot(page, "08-inbox")
    active.get_by_test_id("act").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog.get_by_test_id("action-handoff")).to_be_checked()
    # The next step of the route is preselected: the department.
    picker = dialog.get_by_test_id("field-to_agency_code")
    expect(picker).to_have_value(LAND_DEPT)
    # Names repeat across the country's catalogue: each choice shows its code, and the
    # agencies of the officer's own province come before the others.
    groups = picker.locator("optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert groups[:2] == ["Theo quy trình", "Trong tỉnh, thành phố"], groups
    assert all(" · " in text for text in picker.locator("option").all_inner_texts()[:50])
    dialog.get_by_test_id("field-note").fill("Chuyển Sở thẩm định")
    shot(page, "09-inbox-handoff-dialog")
    dialog.get_by_test_id("action-submit").click()
    expect(active).to_have_count(0)
    expect(page.locator(f"[data-testid=inbox-sent] tr[data-dossier='{fresh}']")).to_be_visible()
    shot(page, "10-inbox-after-handoff")
    state = demo.get(f"/api/v1/dossiers/{fresh}", demo.auth("inspector"))
    assert state["pending_handoff_to"] == LAND_DEPT and state["holder_agency_code"] == AN_KHANH


@pytest.mark.browser
@pytest.mark.integration
def test_a_stale_page_gets_a_conflict_message_not_a_crash(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    stale = demo.ids["stale"]
    sign_in(page, demo, "officer", AN_KHANH)
    page.locator(f"[data-testid=inbox-active] tr[data-dossier='{stale}']").get_by_test_id("act").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog.get_by_test_id("action-submit")).to_be_visible()
    # Meanwhile a colleague at the same desk asks the citizen for a supplement.
    demo.post(
        f"/api/v1/dossiers/{stale}/supplement-requests", {"reason": "Thiếu bản sao CCCD"}, "officer", AN_KHANH
    )
    dialog.get_by_test_id("action-submit").click()
    conflict = dialog.get_by_test_id("conflict")
    expect(conflict).to_contain_text("đã thay đổi trong lúc bạn xem")
    expect(conflict).to_contain_text("phiên bản 2")
    shot(page, "11-inbox-conflict")
    state = demo.get(f"/api/v1/dossiers/{stale}", demo.auth("inspector"))
    assert state["status"] == "awaiting_supplement" and state["pending_handoff_to"] is None
    # Reloading shows what the dossier allows now: the supplement's arrival, no handoff.
    conflict.get_by_role("button").click()
    expect(dialog.get_by_test_id("action-supplement_received")).to_be_visible()
    expect(dialog.get_by_test_id("action-handoff")).to_have_count(0)


@pytest.mark.browser
@pytest.mark.integration
def test_the_inbox_updates_live_when_a_dossier_comes_back(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    back = demo.ids["back"]
    sign_in(page, demo, "officer", AN_KHANH)
    expect(page.get_by_test_id("live")).to_have_class(re.compile(r"\bon\b"))
    incoming = page.locator(f"[data-testid=inbox-incoming] tr[data-dossier='{back}']")
    expect(page.get_by_test_id("inbox-active")).to_be_visible()
    expect(incoming).to_have_count(0)
    demo.post(
        f"/api/v1/dossiers/{back}/handoffs", {"to_agency_code": AN_KHANH, "note": "Trả kết quả thẩm định"}
    )
    expect(incoming).to_be_visible()  # no reload: the event stream brought it


@pytest.mark.browser
@pytest.mark.integration
def test_citizen_lookup_refuses_a_wrong_secret_and_answers_the_right_one(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    page.goto(f"{demo.base}/#/lookup")
    page.get_by_test_id("lookup-code").fill(demo.codes["late"])
    page.get_by_test_id("lookup-secret").fill("not-the-secret")
    page.get_by_test_id("lookup-submit").click()
    expect(page.get_by_test_id("lookup-refused")).to_contain_text("Không tìm thấy hồ sơ")
    expect(page.get_by_test_id("lookup-result")).to_have_count(0)
    shot(page, "12-lookup-refused")
    page.get_by_test_id("lookup-secret").fill(demo.secrets["late"])
    page.get_by_test_id("lookup-submit").click()
    result = page.get_by_test_id("lookup-result")
    expect(result).to_contain_text("Sở Nông nghiệp và Môi trường Thành phố Hồ Chí Minh")
    expect(result).to_contain_text("Đang giải quyết")
    expect(result).to_contain_text("08:00 09/11/2026")  # the due time worked out above
    shot(page, "13-lookup-found")


@pytest.mark.browser
@pytest.mark.integration
def test_problems_come_in_the_language_chosen_on_the_page_not_the_browsers(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.base}/#/lookup")
    refused = """async (chosen) => {
        localStorage.setItem('lienthong.lang', chosen);
        const { api } = await import('/ui/js/api.js');
        try {
            const body = { receipt_code: 'NO-SUCH', secret: 'x' };
            await api('/api/v1/lookup', { method: 'POST', body, auth: false });
        } catch (err) {
            return [err.status, err.problem.title];
        }
        return null;
    }"""
    browser_language = page.evaluate("navigator.language")
    assert page.evaluate(refused, "vi") == [404, "Không tìm thấy"], browser_language
    assert page.evaluate(refused, "en") == [404, "Not found"]


@pytest.mark.browser
@pytest.mark.integration
def test_bottlenecks_show_the_heat_map_and_flow_and_the_dossiers_behind_an_agency(
    page: Any, demo: Demo
) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/bottlenecks")
    agencies = page.get_by_test_id("bn-agencies")
    expect(agencies.locator("tbody tr").first).to_be_visible()
    expect(page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm").first).to_be_attached()
    expect(page.locator(".js-plotly-plot .sankey").first).to_be_attached()
    shot(page, "14-bottlenecks")
    me = page_token(page)
    # The default range: the 56 days up to today.
    listed = demo.get(
        "/api/v1/reports/bottlenecks/dossiers",
        me,
        agency_code=LAND_DEPT,
        **{"from": "2026-09-24", "to": "2026-11-18"},
    )
    assert listed["items"], "the department finished stays in the range"
    agencies.get_by_test_id("bn-agency").filter(has_text="Sở Nông nghiệp và Môi trường").click()
    rows = page.locator("[data-testid=bn-dossiers] tbody tr")
    expect(rows.first).to_contain_text(listed["items"][0]["receipt_code"])
    expect(rows).to_have_count(min(25, len(listed["items"])))
    shot(page, "15-bottlenecks-drill-down")


@pytest.mark.browser
@pytest.mark.integration
def test_bottlenecks_refuse_a_reversed_range_in_the_form_and_ask_nobody(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    sign_in(page, demo, "supervisor", CITY)
    page.goto(f"{demo.base}/#/bottlenecks")
    expect(page.get_by_test_id("bn-agencies").locator("tbody tr").first).to_be_visible()
    before = page.evaluate("location.hash")
    asked: list[str] = []
    page.on("request", lambda r: "/api/v1/reports/" in r.url and asked.append(r.url))
    page.locator("#bn-from").fill("2026-11-10")
    page.locator("#bn-to").fill("2026-11-01")
    page.get_by_role("button", name="Xem", exact=True).click()
    refused = page.get_by_test_id("bn-range-error")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("«Từ ngày» (10/11/2026) ở sau «Đến ngày» (01/11/2026)")
    expect(page.locator("#bn-from")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("problem")).to_have_count(0)
    assert page.evaluate("location.hash") == before and asked == []
    # Put right, the range is taken and the message goes.
    page.locator("#bn-from").fill("2026-10-01")
    expect(refused).to_be_hidden()
    page.get_by_role("button", name="Xem", exact=True).click()
    expect(page.locator("#bn-from")).to_have_value("2026-10-01")
    assert "from=2026-10-01" in page.evaluate("location.hash")
    # The server still refuses a reversed range itself, for any other client.
    r = demo.http.get(
        "/api/v1/reports/bottlenecks",
        params={"agency_code": CITY, "from": "2026-11-10", "to": "2026-11-01"},
        headers=page_token(page),
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    # A reversed range in the address (an old link) is said the same way, and asked of nobody.
    page.goto(f"{demo.base}/#/bottlenecks?from=2026-11-10&to=2026-11-01")
    expect(refused).to_contain_text("«Từ ngày» (10/11/2026) ở sau «Đến ngày» (01/11/2026)")
    expect(page.get_by_test_id("problem")).to_have_count(0)
    assert not [url for url in asked if "from=2026-11-10" in url]


@pytest.mark.browser
@pytest.mark.integration
def test_pages_say_which_report_failed_and_keep_the_rest(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    problem = '{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"view store down"}'
    page.route(
        "**/api/v1/reports/sla*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/problem+json",
            body='{"title":"Not found","status":404,"detail":"Not Found"}',
        ),
    )
    page.route(
        "**/api/v1/reports/heatmap*",
        lambda route: route.fulfill(status=503, content_type="application/problem+json", body=problem),
    )
    sign_in(page, demo, "supervisor", CITY)
    missing = page.get_by_test_id("problem").first
    expect(missing).to_have_attribute("data-status", "404")
    expect(missing).to_contain_text("Máy chủ chưa có báo cáo này (404)")
    expect(page.get_by_test_id("kpi-received-total")).to_have_text(re.compile(r"^\d+$"))
    shot(page, "16-overview-report-missing")
    page.goto(f"{demo.base}/#/bottlenecks")
    failed = page.locator("[data-testid=problem][data-status='503']")
    expect(failed).to_contain_text("Máy chủ gặp lỗi khi lập báo cáo này (503)")
    expect(failed).to_contain_text("view store down")
    expect(page.get_by_test_id("bn-agencies")).to_be_visible()


@pytest.mark.browser
@pytest.mark.integration
def test_pages_fit_a_phone(browser: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    tab = context.new_page()
    try:
        sign_in(tab, demo, "supervisor", CITY)
        expect(tab.get_by_test_id("kpi-received-total")).to_have_text(re.compile(r"^\d+$"))
        expect(tab.locator(".chart .main-svg").first).to_be_visible()
        assert fits(tab)
        shot(tab, "17-overview-phone")
        tab.get_by_role("button", name="Trình đơn").click()
        expect(tab.get_by_role("link", name="Tra cứu hồ sơ")).to_be_visible()
        sign_in(tab, demo, "officer", AN_KHANH)
        expect(tab.get_by_test_id("inbox-active")).to_be_visible()
        assert fits(tab)
        shot(tab, "18-inbox-phone")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.integration
def test_the_by_level_chart_uses_a_phones_width(browser: Any, demo: Demo) -> None:
    """At 375 px the levels' names ("Trung tâm phục vụ hành chính công") stand above their bars,
    not beside them eating the plot: the bars' scale spans most of the screen."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="vi-VN", is_mobile=True)
    tab = context.new_page()
    try:
        sign_in(tab, demo, "supervisor", CITY)
        chart = tab.get_by_test_id("by-level-chart")
        plot = chart.locator(".nsewdrag").first  # the plot area: 0 to 100 % of the bars' scale
        expect(plot).to_be_attached()
        levels = tab.locator("[data-testid=by-level] tbody tr").count()
        assert levels >= 2
        screen = tab.evaluate("document.documentElement.clientWidth")
        assert screen <= 375
        width = plot.bounding_box()["width"]
        assert width > 0.4 * screen, (width, screen)
        bars = chart.locator(".bars .point path").evaluate_all(
            "ps => ps.map(p => p.getBoundingClientRect().width)"
        )
        rate_cells = tab.locator("[data-testid=by-level] tbody tr td:nth-child(5)")
        rates = [percent(text) for text in rate_cells.all_inner_texts()]
        widest = max(bars)
        assert any(r is not None and r >= 50 for r in rates) and widest > 0.2 * screen, (bars, rates)
        expect(chart.locator(".annotation")).to_have_count(levels)  # one name per bar, above it
        assert fits(tab)
        shot(tab, "17b-overview-by-level-phone")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.integration
def test_an_inspector_keeps_the_newest_checkpoint_and_compares_it_with_the_store(
    browser: Any, page: Any, demo: Demo, tmp_path: Path
) -> None:
    """What `lienthong audit latest --out FILE` and `audit verify --kept FILE` do, from the
    browser: the file downloaded is the CLI's, and a kept checkpoint the store no longer holds,
    or holds with another root, is said in red with what it means."""
    import orjson
    from playwright.sync_api import expect

    latest = demo.container.checkpoints.latest()
    assert latest is not None
    sign_in(page, demo, "inspector", None)
    page.goto(f"{demo.base}/#/dossier/{demo.ids['late']}")
    expect(page.get_by_test_id("verify")).to_have_attribute("data-ok", "true")
    page.get_by_test_id("verify-kept-link").click()  # from a dossier's integrity badge
    expect(page.get_by_role("link", name="Kiểm tra toàn vẹn")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("audit-latest")).to_have_attribute("data-n", str(latest.n))
    with page.expect_download() as waiting:
        page.get_by_test_id("audit-download").click()
    kept = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(kept)
    assert kept.name == f"lienthong-checkpoint-{latest.n}.json"
    assert kept.read_bytes() == orjson.dumps(latest.as_json(), option=orjson.OPT_INDENT_2) + b"\n"
    shot(page, "30-audit")

    asked: list[str] = []
    page.on("request", lambda r: "/api/v1/audit/verify" in r.url and asked.append(r.url))
    result = page.get_by_test_id("kept-result")
    submit = page.get_by_test_id("kept-submit")

    # The file kept, read back: green.
    page.get_by_test_id("kept-file").set_input_files(str(kept))
    expect(page.get_by_test_id("kept-json")).to_have_value(kept.read_text())
    submit.click()
    expect(result).to_have_attribute("data-outcome", "kept")
    expect(result).to_contain_text(f"Kho vẫn giữ điểm kiểm tra #{latest.n} với đúng gốc đã lưu giữ")
    assert asked and f"kept_checkpoint={latest.n}" in asked[-1] and f"kept_root={latest.root}" in asked[-1]
    shot(page, "31-audit-kept")

    # A page of /audit/checkpoints, pasted: its newest is compared.
    listed = demo.get("/api/v1/audit/checkpoints", demo.auth("inspector"))
    page.get_by_test_id("kept-json").fill(orjson.dumps(listed).decode())
    submit.click()
    expect(result).to_contain_text(f"đã đối chiếu điểm mới nhất (#{latest.n})")
    expect(result).to_have_attribute("data-outcome", "kept")

    # A file whose root was changed: its signature fails, nothing is asked of the store.
    before = len(asked)
    altered = {**latest.as_json(), "root": "ab" * 32}
    page.get_by_test_id("kept-json").fill(orjson.dumps(altered).decode())
    submit.click()
    expect(result).to_have_attribute("data-outcome", "forged")
    expect(result).to_contain_text("tệp đã bị sửa, hoặc là của một hệ thống khác")
    page.get_by_test_id("kept-json").fill('{"n": 1, "root": "ab"}')
    submit.click()
    expect(result).to_have_attribute("data-outcome", "invalid")
    expect(result).to_contain_text("trường «size» bị thiếu hoặc không phải số nguyên")
    assert len(asked) == before

    # Typed by hand: another root for the same number is a history signed again…
    page.get_by_test_id("kept-json").fill("")
    page.get_by_test_id("kept-n").fill(str(latest.n))
    page.get_by_test_id("kept-root").fill("0" * 64)
    submit.click()
    expect(result).to_have_attribute("data-outcome", "replaced")
    expect(result).to_contain_text(f"Kho giữ điểm kiểm tra #{latest.n} với một gốc khác gốc đã lưu giữ")
    expect(result).to_contain_text("đã bị thay thế và ký lại")
    # What the server found, in the page's language (its fault's kind, not its English reason).
    expect(result).to_contain_text(
        f"Máy chủ: điểm kiểm tra #{latest.n} trong kho có gốc {latest.root}, khác gốc đã lưu giữ {'0' * 64}"
    )
    expect(result).not_to_contain_text("kept outside the system")
    shot(page, "32-audit-replaced")
    # … a number past the newest stored is a deleted tail …
    page.get_by_test_id("kept-n").fill(str(latest.n + 3))
    page.get_by_test_id("kept-root").fill(latest.root)
    submit.click()
    expect(result).to_have_attribute("data-outcome", "missing")
    expect(result).to_contain_text(f"Kho không còn giữ điểm kiểm tra #{latest.n + 3}")
    expect(result).to_contain_text(f"Điểm kiểm tra mới nhất trong kho là #{latest.n}.")
    expect(result).to_contain_text(
        f"điểm kiểm tra #{latest.n + 3} đã lưu giữ ngoài hệ thống không còn trong kho"
    )
    # … and what is not a root at all is the server's 422, shown as it says it.
    page.get_by_test_id("kept-root").fill("not-a-root")
    submit.click()
    problem = page.get_by_test_id("problem")
    expect(problem).to_have_attribute("data-status", "422")
    r = demo.http.get(
        "/api/v1/audit/verify",
        params={"kept_checkpoint": latest.n + 3, "kept_root": "not-a-root"},
        headers=page_token(page),
    )
    assert r.status_code == 422
    expect(problem).to_contain_text(r.json()["title"])
    expect(result).to_have_count(0)

    # The page fits a phone, with a root typed in full.
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="vi-VN", is_mobile=True)
    tab = context.new_page()
    try:
        sign_in(tab, demo, "inspector", None)
        tab.goto(f"{demo.base}/#/audit")
        tab.get_by_test_id("kept-root").fill(latest.root)
        expect(tab.get_by_test_id("audit-latest")).to_be_visible()
        assert fits(tab)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.integration
def test_a_checkpoint_gone_before_its_download_or_a_problem_answered_is_said_as_the_page_says_errors(
    page: Any, demo: Demo
) -> None:
    """The newest checkpoint is asked again at the click: when the store no longer held any
    (listed on loading, gone since) the page showed a script error (reading `n` of null) as a
    network failure; a problem the server answers is shown with its title and detail."""
    from playwright.sync_api import expect

    latest = demo.container.checkpoints.latest()
    assert latest is not None
    sign_in(page, demo, "inspector", None)
    page.goto(f"{demo.base}/#/audit")
    expect(page.get_by_test_id("audit-latest")).to_have_attribute("data-n", str(latest.n))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Gone: the list answers no checkpoint at all.
    page.route(
        "**/api/v1/audit/checkpoints?*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"items": [], "next_cursor": null}'
        ),
    )
    page.get_by_test_id("audit-download").click()
    gone = page.get_by_test_id("audit-download-problem")
    expect(gone).to_have_attribute("role", "alert")
    expect(gone).to_have_class(re.compile(r"\bnotice\b.*\berror\b"))
    expect(gone).to_contain_text(f"Kho không còn giữ điểm kiểm tra #{latest.n}")
    expect(gone).not_to_contain_text("Lỗi mạng")
    shot(page, "33-audit-checkpoint-gone")

    # A problem: its title and detail, in the same notice.
    problem = (
        '{"type":"https://lienthong.gov.vn/problems/unknown-checkpoint","title":"Checkpoint gone",'
        '"status":404,"detail":"no checkpoint is stored any more"}'
    )
    page.unroute("**/api/v1/audit/checkpoints?*")
    page.route(
        "**/api/v1/audit/checkpoints?*",
        lambda route: route.fulfill(status=404, content_type="application/problem+json", body=problem),
    )
    page.get_by_test_id("audit-download").click()
    shown = page.get_by_test_id("audit-download-problem")
    expect(shown).to_have_attribute("data-status", "404")
    expect(shown).to_contain_text("Checkpoint gone")
    expect(shown).to_contain_text("no checkpoint is stored any more")
    expect(shown).to_have_class(re.compile(r"\bnotice\b.*\berror\b"))
    assert errors == []


# --- the HTTP side of the dashboard ----------------------------------------------------------------


@pytest.mark.integration
def test_demo_login_issues_tokens_for_a_role_and_agency(demo: Demo) -> None:
    r = demo.http.post("/api/v1/demo/token", json={"role": "officer", "agency_code": AN_KHANH})
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["role"] == "officer" and issued["agency_code"] == AN_KHANH
    mine = {"Authorization": f"Bearer {issued['token']}"}
    inbox = demo.http.get(f"/api/v1/agencies/{AN_KHANH}/inbox", headers=mine)
    assert inbox.status_code == 200
    other = demo.http.get(f"/api/v1/agencies/{CAT_LAI}/inbox", headers=mine)
    assert other.status_code == 403  # an officer of An Khánh, nobody else
    for body, status in (
        ({"role": "officer"}, 422),
        ({"role": "mayor"}, 422),
        ({"role": "supervisor", "agency_code": "NOPE"}, 422),
    ):
        r = demo.http.post("/api/v1/demo/token", json=body)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    agencies = demo.http.get("/api/v1/demo/agencies").json()
    assert {a["code"] for a in agencies["items"]} >= {CITY, AN_KHANH, LAND_DEPT}


@pytest.mark.integration
def test_without_demo_login_no_token_is_issued_and_the_page_still_serves(make_container: Any) -> None:
    container = make_container()
    assert container.settings.demo_login is False
    with (
        serve(create_app(container)) as base,
        httpx.Client(base_url=base, headers={"Accept-Language": "en"}) as client,
    ):
        for method, path in (("POST", "/api/v1/demo/token"), ("GET", "/api/v1/demo/agencies")):
            r = client.request(method, path, json={"role": "admin"} if method == "POST" else None)
            assert r.status_code == 404, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["title"] == "Demo login is off"
        page = client.get("/")
        assert page.status_code == 200 and "/ui/js/app.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/ui/env.json").json()["demo_login"] is False
        # A file outside the dashboard's folder, however the path is spelled, is not served.
        assert client.get("/ui/%2e%2e/%2e%2e/seed/demo_catalogue.json").status_code == 404


@pytest.mark.integration
def test_the_chart_library_is_served_locally_compressed(demo: Demo) -> None:
    r = demo.http.get("/ui/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.text.lstrip().startswith("/**") and "plotly.js" in r.text[:200]
    again = demo.http.get("/ui/vendor/plotly.min.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def _read_stream(response: httpx.Response, until: float, stop: Any) -> list[dict[str, str]]:
    """SSE messages (id, event, data) until `stop(messages)` or the deadline."""
    messages: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if current:
                messages.append(current)
                current = {}
                if stop(messages):
                    break
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            current[name] = value.strip()
        if time.monotonic() > until:
            break
    return messages


@pytest.mark.integration
def test_the_event_stream_sends_new_events_to_those_who_may_hear_of_them(demo: Demo) -> None:
    start = demo.container.store.max_notification_id()
    made = demo.post(
        "/api/v1/dossiers",
        {"procedure_code": LAND, "channel": "online", "applicant": APPLICANT},
        "officer",
        AN_KHANH,
    )
    end = demo.container.store.max_notification_id()
    assert end == start + 1
    deadline = time.monotonic() + 20
    with demo.http.stream(
        "GET",
        "/api/v1/events/stream",
        headers={**demo.auth("officer", AN_KHANH), "Last-Event-ID": str(start)},
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        mine = _read_stream(r, deadline, lambda ms: any(m.get("event") == "dossier-event" for m in ms))
    heard = [m for m in mine if m.get("event") == "dossier-event"]
    assert heard and heard[0]["id"] == str(end)
    assert (
        f'"dossier_id":"{made["id"]}"' in heard[0]["data"] and '"type":"DossierReceived"' in heard[0]["data"]
    )
    assert "applicant" not in heard[0]["data"]
    # Cát Lái's officer has no part in it: its stream moves past the event without telling it.
    with demo.http.stream(
        "GET", "/api/v1/events/stream", headers={**demo.auth("officer", CAT_LAI), "Last-Event-ID": str(start)}
    ) as r:
        theirs = _read_stream(r, deadline, lambda ms: any(m.get("id") == str(end) for m in ms))
    assert any(m.get("id") == str(end) for m in theirs)
    assert not [m for m in theirs if m.get("event") == "dossier-event"]
    no_token = demo.http.get("/api/v1/events/stream")
    assert no_token.status_code == 401
