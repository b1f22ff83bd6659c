"""Printed forms through real HTTP (uvicorn on 127.0.0.1): each form renders as PDF whose text
carries the receipt code, the applicant's name with its diacritics, the due date and the
national heading; HTML on `Accept: text/html`; who may print; forms that do not apply."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from gateways.bootstrap import Container
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import Api
from tests.e2e.test_reports import DEPT, OTHER, SECRET, WARD, _at, _problem, _provisioned
from tests.serving import serve

CITIZEN = {
    "name": "Nguyễn Thị Ngọc Ánh",
    "id_number": "079199912345",
    "phone": "0912345678",
    "address": "12 đường Lê Lợi, phường Bến Thành",
}
HEADING = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


@pytest.fixture
def served(make_container: Any, clock: FakeClock, backend_url: str) -> Iterator[tuple[Api, Container]]:
    container: Container = make_container(backend_url)
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            yield api, container


@pytest.fixture
def api(served: tuple[Api, Container]) -> Api:
    return served[0]


def _doc(
    api: Api, dossier_id: str, kind: str, role: str = "officer", agency: str | None = WARD, **headers: str
) -> httpx.Response:
    return api.http.get(
        f"/api/v1/dossiers/{dossier_id}/documents/{kind}", headers={**api.token(role, agency), **headers}
    )


def _text(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(r.content))
    # Lines wrap where the layout wraps them: compare with whitespace collapsed.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def dossier(api: Api, clock: FakeClock) -> dict[str, Any]:
    """Received at the ward Mon 2 Mar 2026 08:00, due Mon 9 Mar 08:00; a supplement asked and
    brought, handed to the department, which is late and apologises with a new date."""
    body = {"procedure_code": "DD.01", "applicant": CITIZEN, "channel": "direct"}
    created = _at(api, clock, "2026-03-02T08:00:00+07:00", "/api/v1/dossiers", body)
    assert created["lookup_secret"]
    return created


def _walk(api: Api, clock: FakeClock, dossier_id: str) -> None:
    path = f"/api/v1/dossiers/{dossier_id}"
    reason = "Thiếu bản sao giấy chứng nhận quyền sử dụng đất"
    _at(api, clock, "2026-03-02T09:00:00+07:00", path + "/supplement-requests", {"reason": reason})
    _at(api, clock, "2026-03-03T08:00:00+07:00", path + "/supplement-received", {})
    _at(api, clock, "2026-03-03T09:00:00+07:00", path + "/handoffs", {"to_agency_code": DEPT})
    _at(api, clock, "2026-03-03T10:00:00+07:00", path + "/handoffs/accept", {}, DEPT)
    apology = {"new_due_at": "2026-03-16T16:00:00+07:00", "reason": "Cần xác minh thực địa ở Đồng Nai"}
    _at(api, clock, "2026-03-09T09:00:00+07:00", path + "/apologies", apology, DEPT)


def test_the_receipt_slip_printed_at_intake_carries_the_secret_and_the_due_date(
    api: Api, dossier: dict[str, Any]
) -> None:
    secret = dossier["lookup_secret"]
    text = _text(_doc(api, dossier["id"], "receipt", **{"X-Lookup-Secret": secret}))
    for part in (
        *HEADING,
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        dossier["receipt_code"],
        CITIZEN["name"],
    ):
        assert part in text, part
    assert "08 giờ 00 phút, ngày 09/03/2026" in text  # the due date
    assert "Đăng ký biến động đất đai" in text
    assert secret in text
    assert "UBND PHƯỜNG AN KHÁNH" in text  # the desk's agency, in the left heading


def test_the_pdf_embeds_debians_dejavu_fonts(api: Api, dossier: dict[str, Any]) -> None:
    r = _doc(api, dossier["id"], "receipt")
    _text(r)
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for page in PdfReader(io.BytesIO(r.content)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert {"DejaVu-Serif", "DejaVu-Serif-Bold", "DejaVu-Serif-Italic"} <= fonts, fonts


def test_a_reprinted_receipt_says_where_the_secret_is_and_never_takes_a_wrong_one(
    api: Api, dossier: dict[str, Any]
) -> None:
    text = _text(_doc(api, dossier["id"], "receipt"))
    assert dossier["receipt_code"] in text
    assert dossier["lookup_secret"] not in text
    assert "Mã bí mật tra cứu được cấp một lần" in text
    wrong = _doc(api, dossier["id"], "receipt", **{"X-Lookup-Secret": "not-the-secret"})
    assert "does not belong" in _problem(wrong, 422)


def test_the_html_variant_is_the_same_form(api: Api, dossier: dict[str, Any]) -> None:
    r = _doc(api, dossier["id"], "receipt", Accept="text/html")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in r.text
    assert CITIZEN["name"] in r.text
    assert dossier["receipt_code"] in r.text
    assert "<svg" in r.text  # the QR code of the lookup URL
    assert "#/lookup?code=" in r.text
    query = api.http.get(
        f"/api/v1/dossiers/{dossier['id']}/documents/control-sheet",
        params={"format": "html"},
        headers=api.token("officer", WARD),
    )
    assert query.headers["content-type"].startswith("text/html")


def test_every_form_of_a_late_dossier_prints(api: Api, clock: FakeClock, dossier: dict[str, Any]) -> None:
    _walk(api, clock, dossier["id"])
    code = dossier["receipt_code"]
    supplement = _text(_doc(api, dossier["id"], "supplement"))
    for part in (*HEADING, "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "Mẫu số 02", code, CITIZEN["name"]):
        assert part in supplement, part
    assert "Thiếu bản sao giấy chứng nhận quyền sử dụng đất" in supplement

    apology = _text(_doc(api, dossier["id"], "apology", agency=DEPT))
    for part in (*HEADING, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", code, CITIZEN["name"]):
        assert part in apology, part
    assert "16 giờ 00 phút, ngày 16/03/2026" in apology  # the new date
    assert "Cần xác minh thực địa ở Đồng Nai" in apology
    assert "SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG" in apology  # the agency that apologises

    sheet = _text(_doc(api, dossier["id"], "control-sheet", role="inspector", agency=None))
    for part in (*HEADING, "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", code, CITIZEN["name"]):
        assert part in sheet, part
    assert "Sở Nông nghiệp và Môi trường" in sheet
    assert "officer-W.01" in sheet and "officer-S.01" in sheet  # who gave, who took
    assert "16/03/2026" in sheet  # the promised date, shown apart from the original due date


def test_a_form_that_does_not_apply_is_a_404_problem(api: Api, dossier: dict[str, Any]) -> None:
    assert "no apology" in _problem(_doc(api, dossier["id"], "apology"), 404)
    assert "not refused" in _problem(_doc(api, dossier["id"], "refusal"), 404)
    assert "no supplement" in _problem(_doc(api, dossier["id"], "supplement"), 404)
    _problem(_doc(api, "00000000-0000-4000-8000-000000000000", "receipt"), 404)


def test_an_unknown_kind_is_a_422_problem(api: Api, dossier: dict[str, Any]) -> None:
    r = _doc(api, dossier["id"], "certificate")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_documents_are_in_the_openapi_document(api: Api) -> None:
    paths = api.http.get("/openapi.json").json()["paths"]
    route = paths["/api/v1/dossiers/{dossier_id}/documents/{kind}"]["get"]
    kind = next(p for p in route["parameters"] if p["name"] == "kind")
    assert kind["schema"]["enum"] == ["receipt", "supplement", "refusal", "apology", "control-sheet"]
    assert "application/pdf" in route["responses"]["200"]["content"]
    assert "/api/v1/agencies/{agency_code}/documents/register" in paths


def test_another_agencys_officer_may_not_print(api: Api, dossier: dict[str, Any]) -> None:
    _problem(_doc(api, dossier["id"], "receipt", agency=OTHER), 403)
    _problem(_doc(api, dossier["id"], "control-sheet", agency=OTHER), 403)


def test_the_refusal_slip_of_an_online_submission_refused_at_intake(api: Api, clock: FakeClock) -> None:
    body = {"procedure_code": "DD.01", "applicant": CITIZEN, "channel": "online", "submitted_only": True}
    clock.set("2026-03-02T08:00:00+07:00")
    r = api.post("/api/v1/dossiers", {**body, "receiving_agency_code": WARD}, role="integration", agency=None)
    assert r.status_code == 201, r.text
    created = r.json()
    # Awaiting intake, the dossier names its procedure as the catalogue does.
    assert created["procedure_name"] == api.get("/api/v1/procedures/DD.01").json()["name"] != ""
    reason = "Thủ tục không thuộc thẩm quyền giải quyết của phường"
    _at(
        api,
        clock,
        "2026-03-02T09:00:00+07:00",
        f"/api/v1/dossiers/{created['id']}/refusal",
        {"reason": reason},
    )
    text = _text(_doc(api, created["id"], "refusal"))
    for part in (
        *HEADING,
        "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
        created["receipt_code"],
        CITIZEN["name"],
    ):
        assert part in text, part
    assert reason in text
    assert "not been received" in _problem(_doc(api, created["id"], "receipt"), 404)


def test_printing_opens_the_applicant_through_the_logged_vault(
    served: tuple[Api, Container], dossier: dict[str, Any]
) -> None:
    api, container = served
    _problem(_doc(api, dossier["id"], "apology"), 404)  # refused before anything is decrypted
    _text(_doc(api, dossier["id"], "receipt"))
    rows = container.db.query(
        "SELECT subject, purpose FROM pii_access_log WHERE dossier_id = ?", (dossier["id"],)
    )
    assert [(r["subject"], r["purpose"]) for r in rows] == [("officer-W.01", "print:receipt")]


def test_the_desks_register_for_a_period(api: Api, clock: FakeClock, dossier: dict[str, Any]) -> None:
    path = f"/api/v1/agencies/{WARD}/documents/register"
    period = {"from": "2026-03-01T00:00:00+07:00", "to": "2026-04-01T00:00:00+07:00"}
    r = api.http.get(path, params=period, headers=api.token("officer", WARD))
    text = _text(r)
    for part in (*HEADING, "SỔ THEO DÕI HỒ SƠ", dossier["receipt_code"], CITIZEN["name"]):
        assert part in text, part
    earlier = {"from": "2026-02-01T00:00:00+07:00", "to": "2026-03-01T00:00:00+07:00"}
    assert dossier["receipt_code"] not in _text(
        api.http.get(path, params=earlier, headers=api.token("officer", WARD))
    )
    _problem(api.http.get(path, params=period, headers=api.token("officer", OTHER)), 403)


def test_the_desks_register_by_days(api: Api, dossier: dict[str, Any]) -> None:
    """A desk asks for days as the reports take them: `to` is the last day, included."""
    path = f"/api/v1/agencies/{WARD}/documents/register"
    officer = api.token("officer", WARD)
    for days, listed in (
        ({"from": "2026-03-02", "to": "2026-03-02"}, True),  # the day of its receipt
        ({"from": "2026-02-15", "to": "2026-03-01"}, False),  # up to the day before
        ({"from": "2026-03-03", "to": "2026-03-14"}, False),
        ({"from": "2026-02-15", "to": "2026-03-02T08:00:00+07:00"}, False),  # an instant: excluded
        ({"from": "2026-02-15", "to": "2026-03-02T08:00:01+07:00"}, True),
    ):
        text = _text(api.http.get(path, params=days, headers=officer))
        assert (dossier["receipt_code"] in text) is listed, days
    for bad, says in (
        ({"from": "2026-02-30", "to": "2026-03-02"}, "from '2026-02-30'"),
        ({"from": "2026-03-01", "to": "soon"}, "to 'soon'"),
    ):
        r = api.http.get(path, params=bad, headers=officer)
        assert says in _problem(r, 422), r.text
