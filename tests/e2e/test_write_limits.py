"""What the write path refuses, over real HTTP: out-of-range values, events in the future,
bodies past the limit (refused while they stream in), and overload (503, never 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import WARD, Api, _provisioned, _receive, assert_problem
from tests.serving import serve, stream_chunked

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    with serve(create_app(make_container())) as base:
        yield from _provisioned(Api(base, SECRET, clock))


def test_out_of_range_values_get_422_or_400_never_500(api: Api, clock: FakeClock) -> None:
    clock.set("2026-08-28T09:00:00+07:00")
    dossier = _receive(api).json()["id"]
    far = {"procedure_code": "DD.01", "channel": "direct", "applicant": {"name": "A", "id_number": "1"}}
    r = api.post("/api/v1/dossiers", {**far, "occurred_at": "9999-12-31T23:00:00+07:00"}, role="integration")
    assert "year" in assert_problem(r, 422)["detail"]
    r = api.post("/api/v1/dossiers", {**far, "occurred_at": "2026-08-28T10:00:00+07:00"}, role="integration")
    assert "lies in the future" in assert_problem(r, 422)["detail"]
    r = api.post(f"/api/v1/dossiers/{dossier}/fee-requests", {"amount_vnd": 10**30})
    assert_problem(r, 422)
    r = api.post(
        f"/api/v1/dossiers/{dossier}/apologies", {"new_due_at": "9999-01-01T08:00:00+07:00", "reason": "x"}
    )
    assert_problem(r, 422)
    r = api.post(
        f"/api/v1/dossiers/{dossier}/handoffs", {"to_agency_code": "S.01"}, **{"If-Match": "9" * 5000}
    )
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    r = api.post(
        f"/api/v1/dossiers/{dossier}/handoffs", {"to_agency_code": "S.01"}, **{"If-Match": '"99999999999999"'}
    )
    assert_problem(r, 400)
    for params in (
        {"start": "2026-08-28T09:00:00+07:00", "hours": "inf"},
        {"start": "2026-08-28T09:00:00+07:00", "hours": "1e300"},
        {"start": "9999-12-31T09:00:00+07:00", "hours": "8"},
    ):
        assert_problem(api.get("/api/v1/calendar/working-time", **params), 422)
    for nonnumber in ("nan", "inf", "-inf"):  # said to be no number, not "more than 1,000,000"
        r = api.get("/api/v1/calendar/working-time", start="2026-08-28T09:00:00+07:00", hours=nonnumber)
        assert "finite" in assert_problem(r, 422)["detail"], r.text
    assert_problem(api.get(f"/api/v1/dossiers/{dossier}", as_of="9999-01-01T00:00:00+07:00"), 422)
    assert_problem(api.get("/api/v1/dossiers", cursor="z" * 50_000), 422)
    # The dossier was not touched by any of it.
    assert api.get(f"/api/v1/dossiers/{dossier}").json()["version"] == 1


def test_an_instant_whose_plus_the_url_turned_into_a_space_is_refused_saying_so(
    api: Api, clock: FakeClock
) -> None:
    """`?as_of=2026-08-28T09:30:00+07:00` typed as is: the + arrives as a space."""
    clock.set("2026-08-28T09:00:00+07:00")
    dossier = _receive(api).json()["id"]
    inspector = api.token("inspector")
    for url in (
        f"/api/v1/dossiers/{dossier}?as_of=2026-08-28T09:30:00+07:00",
        "/api/v1/calendar/working-time?start=2026-08-28T14:00:00+07:00&hours=40",
    ):
        r = api.http.get(url, headers=inspector)
        hint = "a + in a URL reads as a space: write the offset as %2B07:00"
        assert hint in assert_problem(r, 422)["detail"]
        r = api.http.get(url, headers={**inspector, "Accept-Language": "vi"})
        assert "dấu + trong URL được đọc là khoảng trắng" in assert_problem(r, 422)["detail"]
        assert api.http.get(url.replace("+", "%2B"), headers=inspector).status_code == 200
    # Another mistake in an instant gets no such hint.
    r = api.http.get(f"/api/v1/dossiers/{dossier}?as_of=yesterday", headers=inspector)
    assert "%2B" not in assert_problem(r, 422)["detail"]


def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(api: Api) -> None:
    """200 MiB offered in chunks: 413 arrives long before the client could finish sending."""
    token = api.token("officer", WARD)["Authorization"]
    offered = 200 * 1024 * 1024
    head = (
        "POST /api/v1/dossiers HTTP/1.1\r\nHost: lienthong\r\nContent-Type: application/json\r\n"
        f"Authorization: {token}\r\n"
    )
    answer, sent = stream_chunked(str(api.http.base_url), head, b"", offered, b"x" * 65536)
    head = answer.split(b"\r\n", 1)[0]
    assert b" 413 " in head, answer[:300]
    assert b"application/problem+json" in answer
    assert sent < offered // 4, f"the server let {sent} bytes in before refusing"


def test_a_body_past_the_limit_is_one_problem_whether_its_length_is_declared_or_chunked(api: Api) -> None:
    """Clients branch on the problem's `type`: a body refused for its declared Content-Length
    and the same body refused while it streams in chunks are the same problem."""
    headers = {**api.token("officer", WARD), "Content-Type": "application/json"}
    body = b'{"procedure_code": "' + b"x" * 300_000 + b'"}'
    declared = api.http.post("/api/v1/dossiers", content=body, headers=headers)
    pieces = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    chunked = api.http.post("/api/v1/dossiers", content=pieces, headers=headers)
    assert "content-length" in declared.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    first, second = assert_problem(declared, 413), assert_problem(chunked, 413)
    assert first["type"].endswith("/too-large")
    assert [second[k] for k in ("type", "title", "detail")] == [first[k] for k in ("type", "title", "detail")]


def test_overload_answers_503_with_retry_after(make_container: Any, clock: FakeClock) -> None:
    container = make_container()
    container.writer.max_pending = 0  # nothing may wait: every command is turned away
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            r = _receive(api)
            body = assert_problem(r, 503)
            assert r.headers["Retry-After"] == "1" and "retry" in body["detail"]
            assert container.store.max_notification_id() == 0
