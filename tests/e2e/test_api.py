"""The API end to end through real HTTP (uvicorn on 127.0.0.1), on the real SQLite store."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateways.auth import issue_token
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.serving import serve

WARD, DEPT, OTHER = "W.01", "S.01", "W.02"


class Api:
    def __init__(self, base: str, secret: str, clock: FakeClock) -> None:
        # Problems in English: these tests read the English messages (Vietnamese is the default).
        self.http = httpx.Client(base_url=base, timeout=20, headers={"Accept-Language": "en"})
        self.secret = secret
        self.clock = clock

    def token(self, role: str, agency: str | None = None) -> dict[str, str]:
        tok = issue_token(
            self.secret,
            role=role,
            sub=f"{role}-{agency}",
            agency_code=agency,
            now=self.clock(),
            ttl=timedelta(days=3650),
        )
        return {"Authorization": f"Bearer {tok}"}

    def post(
        self, path: str, body: Any, role: str = "officer", agency: str | None = WARD, **headers: str
    ) -> httpx.Response:
        return self.http.post(path, json=body, headers={**self.token(role, agency), **headers})

    def get(
        self, path: str, role: str = "inspector", agency: str | None = None, **params: Any
    ) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.token(role, agency))


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    container = make_container()
    with serve(create_app(container)) as base:
        yield from _provisioned(Api(base, "test-secret-of-at-least-thirty-two-bytes", clock))


def _provisioned(client: Api) -> Iterator[Api]:
    admin = {"role": "admin", "agency": None}
    client.http.put(
        "/api/v1/agencies/P.79",
        json={"name": "UBND Thành phố", "level": "province"},
        headers=client.token(**admin),
    ).raise_for_status()
    for code, level, name in (
        (WARD, "commune", "UBND phường An Khánh"),
        (OTHER, "commune", "UBND phường Cát Lái"),
        (DEPT, "province_department", "Sở Nông nghiệp và Môi trường"),
    ):
        r = client.http.put(
            f"/api/v1/agencies/{code}",
            json={"name": name, "level": level, "parent_code": "P.79"},
            headers=client.token(**admin),
        )
        assert r.status_code == 201, r.text
    # land procedure: ward intake 4 h -> department 28 h -> ward return 8 h = 40 working hours
    r = client.http.put(
        "/api/v1/procedures/DD.01",
        headers=client.token(**admin),
        json={
            "name": "Đăng ký biến động đất đai",
            "field": "Đất đai",
            "deadline_working_hours": 40,
            "supplement_policy": "restart",
            "route": [
                {"agency_code": WARD, "budget_working_hours": 4},
                {"agency_code": DEPT, "budget_working_hours": 28},
                {"agency_code": WARD, "budget_working_hours": 8},
            ],
        },
    )
    assert r.status_code == 201, r.text
    yield client
    client.http.close()


APPLICANT = {"name": "Nguyễn Văn An", "id_number": "079200001234", "phone": "0909000111"}


def _receive(api: Api, **extra: Any) -> httpx.Response:
    return api.post(
        "/api/v1/dossiers", {"procedure_code": "DD.01", "channel": "direct", "applicant": APPLICANT, **extra}
    )


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_full_inter_level_walk_across_a_weekend_and_national_day(api: Api, clock: FakeClock) -> None:
    clock.set("2026-08-28T14:00:00+07:00")  # Friday afternoon
    r = _receive(api)
    assert r.status_code == 201, r.text
    d = r.json()
    dossier_id, secret = d["id"], d["lookup_secret"]
    # Days off after Fri 28 Aug 2026: Sat 29, Sun 30 (weekend); Mon 31 (substituted day off),
    # Tue 1 and Wed 2 Sep (National Day). Deadline 40 h from Fri 14:00:
    #   Fri 14:00-17:00 = 3 h; Thu 3 = 8 (11); Fri 4 = 8 (19); Mon 7 = 8 (27); Tue 8 = 8 (35);
    #   Wed 9: 07:30-11:30 = 4 (39) + 13:00-14:00 = 1 (40)  -> due Wed 2026-09-09 14:00.
    assert d["due_at"] == "2026-09-09T14:00:00+07:00"
    # Ward intake step, 4 h: Fri 3 h + Thu 3 Sep 07:30-08:30 -> 08:30.
    assert d["steps"][0]["due_at"] == "2026-09-03T08:30:00+07:00"
    assert d["status"] == "received" and d["status_code"] == 2 and "handoff" in d["allowed_actions"]
    assert "applicant" not in d

    clock.set("2026-09-03T08:00:00+07:00")
    r = api.post(f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": DEPT, "note": "chuyển Sở"})
    assert r.status_code == 200, r.text
    assert r.json()["pending_handoff_to"] == DEPT
    clock.set("2026-09-03T10:00:00+07:00")
    r = api.post(f"/api/v1/dossiers/{dossier_id}/handoffs/accept", {}, agency=DEPT)
    assert r.status_code == 200, r.text
    # Department 28 h from Thu 10:00: Thu 5.5 h, Fri 8 (13.5), Mon 8 (21.5),
    # Tue 4 (25.5) + 2.5 -> Tue 8 Sep 15:30.
    assert r.json()["steps"][1]["due_at"] == "2026-09-08T15:30:00+07:00"

    clock.set("2026-09-09T09:00:00+07:00")
    assert (
        api.post(
            f"/api/v1/dossiers/{dossier_id}/decision",
            {"outcome": "approved", "decision_number": "12/QĐ"},
            agency=DEPT,
        ).status_code
        == 200
    )
    assert (
        api.post(f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": WARD}, agency=DEPT).status_code
        == 200
    )
    clock.set("2026-09-09T10:00:00+07:00")
    assert api.post(f"/api/v1/dossiers/{dossier_id}/handoffs/accept", {}).status_code == 200
    clock.set("2026-09-09T13:30:00+07:00")
    r = api.post(f"/api/v1/dossiers/{dossier_id}/result-ready", {})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status_code"] == 9 and d["timeliness"] == "on_time"  # due day, before 14:00
    # Step outcomes: ward on time (08:00 vs 08:30), department late (31 h of 28), ward return early.
    assert [s["timeliness"] for s in d["steps"]] == ["on_time", "late", "early"]
    assert d["steps"][1]["used_working_hours"] == pytest.approx(31.0)
    clock.set("2026-09-10T08:00:00+07:00")
    assert api.post(f"/api/v1/dossiers/{dossier_id}/result-returned", {}).json()["status_code"] == 10

    sheet = api.get(f"/api/v1/dossiers/{dossier_id}/control-sheet").json()
    assert [
        (row["from_agency_code"], row["to_agency_code"], row["step_timeliness"]) for row in sheet["rows"]
    ] == [(WARD, DEPT, "on_time"), (DEPT, WARD, "late")]
    assert sheet["rows"][0]["accepted_at"] == "2026-09-03T10:00:00+07:00"
    assert sheet["returned_at"] == "2026-09-10T08:00:00+07:00"

    history = api.get(f"/api/v1/dossiers/{dossier_id}/events").json()["items"]
    assert [e["type"] for e in history] == [
        "DossierReceived",
        "HandedOff",
        "HandoffAccepted",
        "DossierDecided",
        "HandedOff",
        "HandoffAccepted",
        "ResultReady",
        "ResultReturned",
    ]
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(history))
    assert "Nguyễn" not in str(history)  # PII stays sealed

    # As of Thursday 09:00 the dossier was in transit to the department.
    past = api.get(f"/api/v1/dossiers/{dossier_id}", as_of="2026-09-03T09:00:00+07:00").json()
    assert past["status"] == "in_process" and past["holder_agency_code"] == WARD
    assert past["pending_handoff_to"] == DEPT and past["version"] == 2

    # The citizen looks it up with the receipt code and secret; a wrong secret is refused.
    code = sheet["receipt_code"]
    r = api.http.get(f"/api/v1/lookup/{code}", params={"secret": secret})
    assert r.status_code == 200 and r.json()["status_code"] == 10
    assert_problem(api.http.get(f"/api/v1/lookup/{code}", params={"secret": "wrong"}), 404)
    assert api.get("/api/v1/audit/verify").json()["ok"] is True


def test_two_concurrent_conflicting_commands_one_wins(api: Api, clock: FakeClock) -> None:
    dossier_id = _receive(api).json()["id"]
    barrier = threading.Barrier(2)

    def hand_to(agency: str) -> int:
        barrier.wait()
        return api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": agency}, **{"If-Match": '"1"'}
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(hand_to, [DEPT, OTHER]))
    assert codes == [200, 409]
    assert len(api.get(f"/api/v1/dossiers/{dossier_id}/events").json()["items"]) == 2


def test_stale_if_match_is_a_conflict(api: Api) -> None:
    dossier_id = _receive(api).json()["id"]
    assert (
        api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": DEPT}, **{"If-Match": '"1"'}
        ).status_code
        == 200
    )
    assert_problem(
        api.post(f"/api/v1/dossiers/{dossier_id}/handoffs/accept", {}, agency=DEPT, **{"If-Match": '"1"'}),
        409,
    )


def test_replayed_idempotency_key_appends_nothing(api: Api) -> None:
    first = _receive_with_key(api, "k-1")
    again = _receive_with_key(api, "k-1")
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    dossier_id = first.json()["id"]
    h1 = api.post(
        f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": DEPT}, **{"Idempotency-Key": "h"}
    )
    h2 = api.post(
        f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": DEPT}, **{"Idempotency-Key": "h"}
    )
    assert h1.status_code == h2.status_code == 200 and h1.content == h2.content
    assert len(api.get(f"/api/v1/dossiers/{dossier_id}/events").json()["items"]) == 2
    assert_problem(
        api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": OTHER}, **{"Idempotency-Key": "h"}
        ),
        422,
    )


def _receive_with_key(api: Api, key: str) -> httpx.Response:
    return api.post(
        "/api/v1/dossiers",
        {"procedure_code": "DD.01", "channel": "online", "applicant": APPLICANT},
        **{"Idempotency-Key": key},
    )


def test_bad_input_gets_problem_json_never_500(api: Api, clock: FakeClock) -> None:
    dossier_id = _receive(api).json()["id"]
    headers = {**api.token("officer", WARD), "content-type": "application/json"}
    # malformed JSON
    assert_problem(
        api.http.post(f"/api/v1/dossiers/{dossier_id}/handoffs", content=b"{not json", headers=headers), 400
    )
    # unknown agency
    assert (
        "unknown agency"
        in assert_problem(
            api.post(f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": "NOPE"}), 422
        )["detail"]
    )
    # unknown procedure
    assert_problem(
        api.post("/api/v1/dossiers", {"procedure_code": "X", "channel": "direct", "applicant": APPLICANT}),
        422,
    )
    # wrong holder
    assert_problem(
        api.post(f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": WARD}, agency=DEPT), 403
    )
    # wrong role
    assert_problem(
        api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs", {"to_agency_code": DEPT}, role="inspector", agency=None
        ),
        403,
    )
    # no token
    assert_problem(
        api.http.post(f"/api/v1/dossiers/{dossier_id}/handoffs", json={"to_agency_code": DEPT}), 401
    )
    # a 1 MB body
    big = {"to_agency_code": DEPT, "note": "x" * (1024 * 1024)}
    assert_problem(api.post(f"/api/v1/dossiers/{dossier_id}/handoffs", big), 413)
    # times going backwards (integration states a time before the last event)
    assert_problem(
        api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs",
            {"to_agency_code": DEPT, "occurred_at": "2026-08-01T09:00:00+07:00"},
            role="integration",
            agency=None,
        ),
        409,
    )
    # occurred_at from an officer
    assert_problem(
        api.post(
            f"/api/v1/dossiers/{dossier_id}/handoffs",
            {"to_agency_code": DEPT, "occurred_at": "2026-09-01T09:00:00+07:00"},
        ),
        403,
    )
    # invalid values and unknown dossier
    assert_problem(
        api.post("/api/v1/dossiers", {"procedure_code": "DD.01", "channel": "fax", "applicant": APPLICANT}),
        422,
    )
    assert_problem(api.get("/api/v1/dossiers/not-a-uuid"), 404)
    assert_problem(api.get("/api/v1/dossiers/00000000-0000-4000-8000-000000000000"), 404)
    # a domain rule: accepting with no pending handoff
    assert_problem(api.post(f"/api/v1/dossiers/{dossier_id}/handoffs/accept", {}), 409)


def test_calendar_endpoint(api: Api) -> None:
    r = api.http.get(
        "/api/v1/calendar/working-time", params={"start": "2026-08-28T14:00:00+07:00", "hours": 40}
    )
    assert r.json()["due_at"] == "2026-09-09T14:00:00+07:00"
    r = api.http.get(
        "/api/v1/calendar/working-time",
        params={"start": "2026-08-28T14:00:00+07:00", "end": "2026-09-09T14:00:00+07:00"},
    )
    assert r.json()["working_hours"] == 40


def test_inbox_orders_by_remaining_time_and_search_sees_the_agency(api: Api, clock: FakeClock) -> None:
    first = _receive(api).json()["id"]
    clock.at += timedelta(hours=1)
    second = _receive(api).json()["id"]
    inbox = api.get(f"/api/v1/agencies/{WARD}/inbox", role="officer", agency=WARD).json()["items"]
    assert [i["id"] for i in inbox] == [first, second]
    assert_problem(api.get(f"/api/v1/agencies/{WARD}/inbox", role="officer", agency=DEPT), 403)
    found = api.get("/api/v1/dossiers", role="officer", agency=WARD, status="received").json()["items"]
    assert {i["id"] for i in found} == {first, second}
    assert api.get("/api/v1/dossiers", role="officer", agency=DEPT).json()["items"] == []
    # A status that does not exist is a mistake to say, not an empty answer.
    wrong = assert_problem(api.get("/api/v1/dossiers", role="officer", agency=WARD, status="recieved"), 422)
    assert "in_process" in str(wrong)


def test_a_limited_inbox_is_the_most_urgent_part_of_the_whole(api: Api, clock: FakeClock) -> None:
    r = api.http.put(  # a one-day procedure at the ward: due before land dossiers received earlier
        "/api/v1/procedures/HT.99",
        headers=api.token("admin", None),
        json={
            "name": "Chứng thực bản sao",
            "field": "Chứng thực",
            "deadline_working_hours": 8,
            "supplement_policy": "restart",
            "route": [{"agency_code": WARD, "budget_working_hours": 8}],
        },
    )
    assert r.status_code == 201, r.text
    received = []
    for hours, procedure in (
        (0, "DD.01"),
        (1, "DD.01"),
        (1, "HT.99"),
        (20, "DD.01"),
        (2, "HT.99"),
        (40, "DD.01"),
    ):
        clock.at += timedelta(hours=hours, minutes=7)  # in office hours, over a night and a weekend
        received.append(_receive(api, procedure_code=procedure).json()["id"])
    clock.at += timedelta(days=1)
    path = f"/api/v1/agencies/{WARD}/inbox"
    whole = api.get(path, role="officer", agency=WARD, limit=1000).json()["items"]
    assert sorted(i["id"] for i in whole) == sorted(received)
    assert [i["id"] for i in whole][:2] == [received[2], received[4]]  # the one-day dossiers first
    remaining = [i["remaining_working_hours"] for i in whole]
    assert remaining == sorted(remaining) and len(set(remaining)) > 2  # and ties: the weekend's
    for limit in range(1, len(whole) + 1):
        part = api.get(path, role="officer", agency=WARD, limit=limit).json()["items"]
        assert part == whole[:limit]


def test_health_docs_and_openapi_are_served_offline(api: Api) -> None:
    assert api.http.get("/healthz").json() == {"status": "ok"}
    assert api.http.get("/readyz").json()["event_store"] == "ok"
    docs = api.http.get("/docs").text
    assert "cdn" not in docs.lower()
    assert "/api/v1/dossiers/{dossier_id}/handoffs" in api.http.get("/openapi.json").json()["paths"]


def test_the_citizen_sees_the_name_of_the_agency_a_dossier_is_in_transit_to(api: Api) -> None:
    made = _receive(api).json()
    api.post(f"/api/v1/dossiers/{made['id']}/handoffs", {"to_agency_code": DEPT}).raise_for_status()
    r = api.http.post(
        "/api/v1/lookup", json={"receipt_code": made["receipt_code"], "secret": made["lookup_secret"]}
    )
    assert r.status_code == 200, r.text
    name = api.get(f"/api/v1/agencies/{DEPT}").json()["name"]
    assert r.json()["in_transit_to"] == DEPT and r.json()["in_transit_to_name"] == name != DEPT


def test_a_sender_may_give_the_citizen_a_lookup_secret_of_its_own(api: Api) -> None:
    """An agency system (over Kafka, where the results topic is read by every agency) draws the
    secret itself and sends only its hash: no secret is answered and the citizen's works."""
    own = "bí-mật-của-hệ-thống-một-cửa-7f3a9c"
    digest = hashlib.sha256(b"lienthong-lookup:" + own.encode()).hexdigest()
    r = _receive(api, lookup_secret_hash=digest)
    assert r.status_code == 201, r.text
    assert "lookup_secret" not in r.json() and "lookup_secret_note" not in r.json()
    code = r.json()["receipt_code"]
    looked = api.http.post("/api/v1/lookup", json={"receipt_code": code, "secret": own})
    assert looked.status_code == 200, looked.text
    assert_problem(api.http.post("/api/v1/lookup", json={"receipt_code": code, "secret": digest}), 404)
    # Not a hash: refused, naming the field; nothing was received.
    before = len(api.get("/api/v1/dossiers").json()["items"])
    problem = assert_problem(_receive(api, lookup_secret_hash="my-secret"), 422)
    assert "lookup_secret_hash" in str(problem)
    assert len(api.get("/api/v1/dossiers").json()["items"]) == before
