"""Input a client should not send, through real HTTP (uvicorn on 127.0.0.1): a clear problem
and nothing stored, never a 500 or a broken connection, and what was accepted stays servable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, Api
from tests.serving import serve

SECRET = "test-secret-of-at-least-thirty-two-bytes"
PROVINCE = "P.79"
DESK = "Sở-TNMT.01"  # a code with Vietnamese letters: valid, but not Latin-1


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    with serve(create_app(make_container())) as base:
        client = Api(base, SECRET, clock)
        admin = client.token("admin")
        for code, body in (
            (PROVINCE, {"name": "UBND Thành phố", "level": "province"}),
            (DESK, {"name": "Sở Tài nguyên", "level": "province_department", "parent_code": PROVINCE}),
        ):
            client.http.put(f"/api/v1/agencies/{quote(code)}", json=body, headers=admin).raise_for_status()
        route = [{"agency_code": DESK, "budget_working_hours": 8}]
        client.http.put(
            "/api/v1/procedures/TN.01",
            json={
                "name": "Thủ tục",
                "deadline_working_hours": 8,
                "route": route,
                "components": [{"name": "Đơn"}],
            },
            headers=admin,
        ).raise_for_status()
        yield client
        client.http.close()


def _received(api: Api) -> dict[str, Any]:
    """A dossier just received at the desk, as the create call answers it."""
    made: dict[str, Any] = api.post(
        "/api/v1/dossiers",
        {"procedure_code": "TN.01", "channel": "direct", "applicant": APPLICANT},
        agency=DESK,
    ).json()
    return made


def _upload(api: Api, dossier_id: str, form: bytes) -> httpx.Response:
    """The desk's officer posts `form` as the multipart body of a file for the component Đơn."""
    return api.http.post(
        f"/api/v1/dossiers/{dossier_id}/files",
        params={"component": "Đơn"},
        content=form,
        headers={**api.token("officer", DESK), "Content-Type": "multipart/form-data; boundary=XX"},
    )


def _problem(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail: str = r.json()["detail"]
    return detail


def test_forms_of_an_agency_whose_code_is_not_latin_1_download(api: Api, clock: FakeClock) -> None:
    made = api.post(
        "/api/v1/dossiers",
        {"procedure_code": "TN.01", "channel": "direct", "applicant": APPLICANT},
        agency=DESK,
    )
    assert made.status_code == 201, made.text
    now = clock()
    span = {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()}
    answers = {
        "bieu06 form": api.get(
            "/api/v1/reports/bieu06/form", role="admin", agency_code=DESK, period="2026-09"
        ),
        "receipt": api.get(f"/api/v1/dossiers/{made.json()['id']}/documents/receipt", format="html"),
        "register": api.get(f"/api/v1/agencies/{quote(DESK)}/documents/register", **span, format="html"),
    }
    for what, r in answers.items():
        assert r.status_code == 200, (what, r.text)
        disposition = r.headers["content-disposition"]
        assert disposition.isascii(), (what, disposition)
        assert "filename*=UTF-8''" in disposition and quote(DESK, safe="") in disposition, (
            what,
            disposition,
        )


@pytest.mark.parametrize(
    "code",
    ["W.01\r\nX-Injected: 1", "W\x00.01", "\u202eW.01", "W.01\u200b", " W.01", "W.01 ", "W" * 101],
)
def test_a_catalogue_code_with_control_characters_or_too_long_is_refused(api: Api, code: str) -> None:
    admin = api.token("admin")
    path = quote(code, safe="")
    agency = api.http.put(
        f"/api/v1/agencies/{path}",
        json={"name": "UBND", "level": "commune", "parent_code": PROVINCE},
        headers=admin,
    )
    assert "without surrounding spaces or control characters" in _problem(agency, 422)
    procedure = api.http.put(
        f"/api/v1/procedures/{path}",
        json={
            "name": "P",
            "deadline_working_hours": 8,
            "route": [{"agency_code": DESK, "budget_working_hours": 8}],
        },
        headers=admin,
    )
    assert "without surrounding spaces or control characters" in _problem(procedure, 422)
    # Nothing stored.
    assert api.http.get(f"/api/v1/agencies/{path}", headers=admin).status_code == 404
    assert api.http.get(f"/api/v1/procedures/{path}", headers=admin).status_code == 404


@pytest.mark.parametrize("fee", [10**15 + 1, 10**19, 10**30])
def test_a_procedure_fee_beyond_the_largest_amount_is_refused(api: Api, fee: int) -> None:
    admin = api.token("admin")
    body = {
        "name": "P",
        "deadline_working_hours": 8,
        "route": [{"agency_code": DESK, "budget_working_hours": 8}],
        "fee_vnd": fee,
    }
    r = api.http.put("/api/v1/procedures/TN.02", json=body, headers=admin)
    assert "fee_vnd" in _problem(r, 422)
    assert api.http.get("/api/v1/procedures/TN.02", headers=admin).status_code == 404
    ok = api.http.put("/api/v1/procedures/TN.02", json={**body, "fee_vnd": 10**15}, headers=admin)
    assert ok.status_code == 201, ok.text


def test_a_procedure_route_longer_than_the_bound_or_naming_an_overlong_code_is_refused(api: Api) -> None:
    """A route of any length was taken, and every dossier received copies it into its first
    event: a route of thousands of steps made each receipt as large. An inter-level procedure
    has a handful of steps; MAX_ROUTE_STEPS leaves room for returns and consultations."""
    from gateways.catalogue import MAX_ROUTE_STEPS

    admin = api.token("admin")

    def procedure(steps: int, code: str = DESK) -> dict[str, Any]:
        route = [{"agency_code": code, "budget_working_hours": 1}] * steps
        return {"name": "P", "deadline_working_hours": steps, "route": route}

    for steps in (MAX_ROUTE_STEPS + 1, 3000):  # 3000 steps: still under the body limit
        r = api.http.put("/api/v1/procedures/TN.03", json=procedure(steps), headers=admin)
        detail = _problem(r, 422)
        assert "route" in detail and f"at most {MAX_ROUTE_STEPS} steps (got {steps})" in detail
    assert api.http.get("/api/v1/procedures/TN.03", headers=admin).status_code == 404
    # A code past what a command may name is refused as too long, not echoed as an unknown agency.
    r = api.http.put("/api/v1/procedures/TN.03", json=procedure(1, "W" * 5000), headers=admin)
    assert "agency_code" in _problem(r, 422) and "W" * 200 not in r.text
    assert api.http.get("/api/v1/procedures/TN.03", headers=admin).status_code == 404
    ok = api.http.put("/api/v1/procedures/TN.03", json=procedure(MAX_ROUTE_STEPS), headers=admin)
    assert ok.status_code == 201, ok.text
    assert len(ok.json()["route"]) == MAX_ROUTE_STEPS


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_after_an_event_stamped_ahead_within_the_skew_the_desk_and_the_citizen_still_act(
    api: Api, clock: FakeClock
) -> None:
    """An agency system whose clock runs 90 s ahead (the server allows 120 s) records the
    dossier's steps; the desk's officer attaching a file and the citizen rating the service just
    after state no time: both are recorded at that instant, not refused for a time never sent."""
    made = _received(api)
    path = f"/api/v1/dossiers/{made['id']}"
    ahead = (clock() + timedelta(seconds=90)).isoformat()

    def step(name: str, body: dict[str, str]) -> None:
        r = api.post(f"{path}/{name}", {**body, "occurred_at": ahead}, role="integration", agency=None)
        assert r.status_code == 200, r.text

    step("decision", {"outcome": "approved"})
    upload = api.http.post(
        f"{path}/files",
        params={"purpose": "result"},
        files={"file": ("ket-qua.pdf", PDF, "application/pdf")},
        headers=api.token("officer", DESK),
    )
    assert upload.status_code == 201, upload.text
    step("result-ready", {})
    step("result-returned", {})
    rated = api.http.post(
        "/api/v1/lookup/satisfaction",
        json={"receipt_code": made["receipt_code"], "secret": made["lookup_secret"], "rating": "satisfied"},
    )
    assert rated.status_code == 201, rated.text
    times = [e["occurred_at"] for e in api.get(f"{path}/events").json()["items"]]
    assert times[-5:] == [ahead] * 5, times


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/agencies/W.09",
            {"name": "UBND", "level": "commune", "parent_code": "P\\ud800"},
            "parent_code",
        ),
        ("/api/v1/agencies/W.09", {"name": "UBND", "level": "commune", "basis": "\\udc00"}, "basis"),
        (
            "/api/v1/procedures/TN.09",
            {
                "name": "P",
                "field": "\\ud83d",
                "deadline_working_hours": 8,
                "route": [{"agency_code": DESK, "budget_working_hours": 8}],
            },
            "field",
        ),
    ],
)
def test_a_lone_surrogate_in_a_catalogue_text_is_refused(api: Api, path: str, body: Any, field: str) -> None:
    """`"\\ud800"` is JSON text for half a character: no store nor answer can encode it."""
    text = json.dumps(body).replace("\\\\u", "\\u").encode()  # the escape itself, not an escaped backslash
    r = api.http.put(path, content=text, headers={**api.token("admin"), "Content-Type": "application/json"})
    assert _problem(r, 422).startswith(field), r.text
    assert api.http.get(path, headers=api.token("admin")).status_code == 404


def test_a_lone_surrogate_in_the_demo_login_is_refused(make_container: Any) -> None:
    container = make_container()
    container.settings = container.settings.model_copy(update={"demo_login": True})
    with serve(create_app(container)) as base:
        r = httpx.post(
            f"{base}/api/v1/demo/token",
            content=b'{"role": "officer", "agency_code": "W\\ud800"}',
            headers={"Content-Type": "application/json", "Accept-Language": "en"},
        )
    assert _problem(r, 422).startswith("agency_code"), r.text


def _first_event(api: Api, **request: Any) -> tuple[int, str]:
    with api.http.stream("GET", "/api/v1/events/stream", **request) as r:
        if r.status_code != 200:
            return r.status_code, r.read().decode()
        text = ""
        for chunk in r.iter_text():
            text += chunk
            if "\n\n" in text:
                break
        return r.status_code, text


def test_an_event_stream_position_past_any_notification_id_is_refused_or_ignored(api: Api) -> None:
    inspector = api.token("inspector")
    status, text = _first_event(api, params={"after": str(10**30)}, headers=inspector)
    assert status == 422 and "after" in text, text
    # An id the stream never gave is ignored, as one that is not a number: the stream starts now.
    _, now = _first_event(api, headers=inspector)
    for bogus in (str(10**22), "9" * 5000):
        status, text = _first_event(api, headers={**inspector, "Last-Event-ID": bogus})
        assert status == 200 and text == now, text


def test_a_search_cursor_the_search_never_gave_is_refused(api: Api) -> None:
    for _ in range(3):
        made = api.post(
            "/api/v1/dossiers",
            {"procedure_code": "TN.01", "channel": "direct", "applicant": APPLICANT},
            agency=DESK,
        )
        assert made.status_code == 201, made.text
    first = api.get("/api/v1/dossiers", limit=2).json()
    cursor = first["next_cursor"]
    assert cursor
    second = api.get("/api/v1/dossiers", limit=2, cursor=cursor)
    assert second.status_code == 200 and len(second.json()["items"]) == 1
    for bogus in ("abc", "-1", cursor.upper(), cursor.replace("-", ""), "{" + cursor + "}"):
        detail = _problem(api.get("/api/v1/dossiers", limit=2, cursor=bogus), 422)
        assert "next_cursor" in detail, detail


def _form(*parts: tuple[str, bytes], end: bool = True) -> bytes:
    body = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="%s"; filename="don.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%s\r\n" % (name.encode(), data)
        for name, data in parts
    )
    return body + (b"--XX--\r\n" if end else b"")


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not a form at all", 400, "boundary its Content-Type names"),
        (_form(("file", PDF), end=False)[:-2], 400, "before its closing boundary"),
        (_form(("file", PDF), ("file", PDF + b"%2\n")), 422, "one file per request"),
    ],
)
def test_an_upload_the_form_of_which_is_broken_or_holds_two_files_records_nothing(
    api: Api, body: bytes, status: int, says: str
) -> None:
    made = _received(api)
    officer = api.token("officer", DESK)
    r = _upload(api, made["id"], body)
    assert says in _problem(r, status)
    listed = api.http.get(f"/api/v1/dossiers/{made['id']}/files", headers=officer).json()
    assert listed["items"] == [] and listed["version"] == made["version"]
    # The same file in a whole form of one part is taken.
    ok = _upload(api, made["id"], _form(("file", PDF)))
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"reason": "\xff\xfe"}', "not UTF-8"),
        (b"\xff", "not UTF-8"),
        (b'{"reason": "r", "n": 1' + b"0" * 5000 + b"}", "number too long"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_a_malformed_body_saying_why(
    api: Api, raw: bytes, says: str
) -> None:
    made = _received(api)
    officer = api.token("officer", DESK)
    r = api.http.post(
        f"/api/v1/dossiers/{made['id']}/stop",
        content=raw,
        headers={**officer, "Content-Type": "application/json"},
    )
    assert says in _problem(r, 400)
    assert r.json()["type"].endswith("/malformed-body")
    again = api.http.get(f"/api/v1/dossiers/{made['id']}", headers=officer).json()
    assert again["version"] == made["version"] and again["status"] == "received"


def test_a_file_named_with_control_characters_downloads_under_a_header_safe_name(api: Api) -> None:
    made = _received(api)
    officer = api.token("officer", DESK)
    form = _form(("file", PDF)).replace(b'filename="don.pdf"', b'filename="\xc4\x91\x01n\x7f.pdf"')
    r = _upload(api, made["id"], form)
    assert r.status_code == 201, r.text
    (item,) = api.http.get(f"/api/v1/dossiers/{made['id']}/files", headers=officer).json()["items"]
    got = api.http.get(f"/api/v1/dossiers/{made['id']}/files/{item['sha256']}", headers=officer)
    assert got.status_code == 200 and got.content == PDF
    disposition = got.headers["content-disposition"]
    # The plain name holds printable ASCII only; the exact one is in filename*.
    assert all(" " <= ch <= "~" for ch in disposition), disposition
    assert 'filename="_' in disposition and "filename*=UTF-8''%C4%91" in disposition


def test_an_empty_idempotency_key_is_refused_not_taken_for_none(api: Api) -> None:
    officer = api.token("officer", DESK)
    body = {"procedure_code": "TN.01", "channel": "direct", "applicant": APPLICANT}
    r = api.http.post("/api/v1/dossiers", json=body, headers={**officer, "Idempotency-Key": ""})
    assert "Idempotency-Key" in _problem(r, 422) or "idempotency" in r.text.lower()
    found = api.http.get("/api/v1/dossiers", params={"agency_code": DESK}, headers=officer).json()
    assert found["items"] == []  # nothing received


def test_a_field_a_body_does_not_declare_is_refused_naming_it(api: Api) -> None:
    """A misspelt optional field is not dropped without a word (here `notes` for `note`)."""
    made = _received(api)
    r = api.post(
        f"/api/v1/dossiers/{made['id']}/handoffs",
        {"to_agency_code": "000.00.21.H29", "notes": "gửi kèm bản gốc"},
        agency=DESK,
    )
    assert "notes" in _problem(r, 422)
    assert r.json()["errors"][0]["name"] == "body.notes"
    nested = api.post(
        "/api/v1/dossiers",
        {"procedure_code": "TN.01", "channel": "direct", "applicant": {**APPLICANT, "phone_number": "09"}},
        agency=DESK,
    )
    assert "phone_number" in _problem(nested, 422)
    still = api.http.get(f"/api/v1/dossiers/{made['id']}", headers=api.token("officer", DESK)).json()
    assert still["status"] == "received" and still["version"] == made["version"]  # nothing handed off


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/agencies/W.09", {"name": "UBND\x00", "level": "commune"}, "name"),
        ("/api/v1/agencies/W.09", {"name": "UBND\u202e", "level": "commune"}, "name"),
        ("/api/v1/agencies/W.09", {"name": "UBND", "level": "commune", "basis": "Luật\x00"}, "basis"),
        (
            "/api/v1/procedures/TN.09",
            {
                "name": "Thủ tục\nhai dòng",
                "deadline_working_hours": 8,
                "route": [{"agency_code": DESK, "budget_working_hours": 8}],
            },
            "name",
        ),
        (
            "/api/v1/procedures/TN.09",
            {
                "name": "Thủ tục",
                "deadline_working_hours": 8,
                "route": [{"agency_code": DESK, "budget_working_hours": 8}],
                "components": [{"name": "Đơn\x00"}],
            },
            "name",
        ),
    ],
)
def test_a_catalogue_name_with_a_control_character_is_refused_on_every_store(
    api: Api, path: str, body: Any, field: str
) -> None:
    admin = api.token("admin")
    detail = _problem(api.http.put(path, json=body, headers=admin), 422)
    assert field in detail and "control" in detail, detail
    assert api.http.get(path, headers=admin).status_code == 404  # nothing stored


def test_a_legal_basis_keeps_its_line_breaks(api: Api) -> None:
    admin = api.token("admin")
    body = {"name": "UBND Phường 9", "level": "commune", "parent_code": PROVINCE, "basis": "Nghị quyết\nsố 1"}
    r = api.http.put("/api/v1/agencies/W.09", json=body, headers=admin)
    assert r.status_code in (200, 201), r.text
    assert api.http.get("/api/v1/agencies/W.09", headers=admin).json()["basis"] == "Nghị quyết\nsố 1"
