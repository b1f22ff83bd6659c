"""The one-stop desk's rules over real HTTP: what is refused gets problem+json and appends
nothing; what the desk may do is recorded (DOMAIN.md, desk rules)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import DEPT, Api, _provisioned, _receive, assert_problem
from tests.serving import serve

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    with serve(create_app(make_container())) as base:
        yield from _provisioned(Api(base, SECRET, clock))


def _version(api: Api, dossier: str) -> int:
    return int(api.get(f"/api/v1/dossiers/{dossier}").json()["version"])


def test_a_dossier_brought_to_the_desk_can_be_refused_there_before_it_moves_on(
    api: Api, clock: FakeClock
) -> None:
    clock.set("2026-08-28T09:00:00+07:00")
    dossier = _receive(api).json()["id"]
    clock.set("2026-08-28T09:20:00+07:00")
    refusal = {"reason": "thiếu giấy tờ", "missing_components": ["Bản sao CCCD", "Sơ đồ thửa đất"]}
    r = api.post(f"/api/v1/dossiers/{dossier}/refusal", refusal)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["status"] == "refused" and body["status_code"] == 3 and body["remaining_working_hours"] is None
    )
    events = api.get(f"/api/v1/dossiers/{dossier}/events").json()["items"]
    assert events[-1]["type"] == "DossierRefusedAtIntake"
    assert events[-1]["payload"]["missing_components"] == ["Bản sao CCCD", "Sơ đồ thửa đất"]
    # Once handed on, the desk can no longer refuse it.
    other = _receive(api).json()["id"]
    api.post(f"/api/v1/dossiers/{other}/handoffs", {"to_agency_code": DEPT}).raise_for_status()
    version = _version(api, other)
    assert (
        "before it was handed on"
        in assert_problem(api.post(f"/api/v1/dossiers/{other}/refusal", {"reason": "muộn"}), 409)["detail"]
    )
    assert _version(api, other) == version


def test_a_supplement_is_requested_once_and_only_soon_after_receipt(api: Api, clock: FakeClock) -> None:
    clock.set("2026-08-28T09:00:00+07:00")  # Friday
    dossier = _receive(api).json()["id"]
    ask = {"reason": "bổ sung bản vẽ", "missing_components": ["Bản vẽ hiện trạng"]}
    r = api.post(f"/api/v1/dossiers/{dossier}/supplement-requests", ask)
    assert r.status_code == 200 and r.json()["status"] == "awaiting_supplement", r.text
    api.post(f"/api/v1/dossiers/{dossier}/supplement-received", {}).raise_for_status()
    version = _version(api, dossier)
    again = api.post(f"/api/v1/dossiers/{dossier}/supplement-requests", ask)
    assert "once per dossier" in assert_problem(again, 409)["detail"]
    assert _version(api, dossier) == version
    # Another dossier: past the period after receipt (24 working hours by default).
    late = _receive(api).json()["id"]
    clock.set("2026-09-10T09:00:00+07:00")
    r = api.post(f"/api/v1/dossiers/{late}/supplement-requests", ask)
    assert "within 24 working hours" in assert_problem(r, 409)["detail"]
    assert _version(api, late) == 1


def test_an_apology_promises_a_working_instant(api: Api, clock: FakeClock) -> None:
    clock.set("2026-08-28T09:00:00+07:00")
    dossier = _receive(api).json()["id"]
    sunday_night = {"new_due_at": "2026-09-13T22:00:00+07:00", "reason": "chậm xác minh"}
    r = api.post(f"/api/v1/dossiers/{dossier}/apologies", sunday_night)
    assert "not in office hours" in assert_problem(r, 422)["detail"]
    assert _version(api, dossier) == 1
    monday_close = {"new_due_at": "2026-09-14T17:00:00+07:00", "reason": "chậm xác minh"}
    r = api.post(f"/api/v1/dossiers/{dossier}/apologies", monday_close)
    assert r.status_code == 200 and r.json()["promised_at"] == "2026-09-14T17:00:00+07:00", r.text


def test_remaining_time_stops_at_the_result_and_a_late_step_shows_its_overrun(
    api: Api, clock: FakeClock
) -> None:
    clock.set("2026-08-28T09:00:00+07:00")
    dossier = _receive(api).json()["id"]
    clock.set("2026-08-28T10:00:00+07:00")
    api.post(f"/api/v1/dossiers/{dossier}/handoffs", {"to_agency_code": DEPT}).raise_for_status()
    api.post(f"/api/v1/dossiers/{dossier}/handoffs/accept", {}, agency=DEPT).raise_for_status()
    # The department holds it well past its 28 h budget (and National Day falls in between).
    clock.set("2026-09-10T13:00:00+07:00")
    api.post(f"/api/v1/dossiers/{dossier}/decision", {"outcome": "approved"}, agency=DEPT).raise_for_status()
    r = api.post(f"/api/v1/dossiers/{dossier}/handoffs", {"to_agency_code": "W.01"}, agency=DEPT)
    r.raise_for_status()
    sheet = api.get(f"/api/v1/dossiers/{dossier}/control-sheet").json()
    back = sheet["rows"][-1]
    assert back["step_timeliness"] == "late" and back["step_budget_working_hours"] == 28
    assert back["step_overrun_working_hours"] == pytest.approx(back["step_used_working_hours"] - 28)
    assert sheet["rows"][0]["step_overrun_working_hours"] is None  # the desk was on time
    api.post(f"/api/v1/dossiers/{dossier}/handoffs/accept", {}).raise_for_status()
    ready = api.post(f"/api/v1/dossiers/{dossier}/result-ready", {})
    assert ready.status_code == 200 and ready.json()["remaining_working_hours"] is None
    clock.set("2026-09-30T09:00:00+07:00")
    assert api.get(f"/api/v1/dossiers/{dossier}").json()["remaining_working_hours"] is None


def test_a_citizen_is_found_by_phone_number_through_the_blind_index_only(
    make_container: Any, clock: FakeClock, tmp_path: Any
) -> None:
    container = make_container()
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            clock.set("2026-08-28T09:00:00+07:00")
            dossier = _receive(api).json()["id"]  # the applicant's phone: 0909000111
            _receive(
                api, applicant={"name": "Trần Thị Bình", "id_number": "079300004321", "phone": "0912345678"}
            )
            found = api.get("/api/v1/dossiers", role="officer", agency="W.01", phone="+84 909 000 111").json()
            assert [d["id"] for d in found["items"]] == [dossier]
            none = api.get("/api/v1/dossiers", role="officer", agency="W.01", phone="0909000112").json()
            assert none["items"] == []
            stored = b"".join(p.read_bytes() for p in (tmp_path / "var").rglob("*.sqlite*"))
            assert b"0909000111" not in stored and b"909000111" not in stored
            r = api.post("/api/v1/privacy/forget", {"dossier_id": dossier}, role="admin", agency=None)
            assert r.status_code == 200, r.text
            after = api.get("/api/v1/dossiers", role="officer", agency="W.01", phone="0909000111").json()
            assert after["items"] == []
