"""Bottleneck reports over real HTTP (uvicorn on 127.0.0.1), fed by dossiers walked through the API.

Two dossiers of a land procedure (ward intake 4 h -> department 28 h -> ward return 8 h)
in the week of Monday 2 March 2026, on the default office hours (07:30-11:30, 13:00-17:00):

A: received Mon 08:00 at the ward, handed to the department 10:00, sent back 11:00, handed
   again 14:00, accepted 15:00; decided and handed back Tue 15:00, accepted 16:00; result
   ready Wed 08:30, returned 09:00.
B: received Mon 09:00, handed off 09:30, accepted by the department Thu 08:00; still there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateways.auth import issue_token
from gateways.http.app import create_app
from projections.bottleneck import RELATIVE_ERROR
from tests.conftest import FakeClock
from tests.serving import serve

PROVINCE, DISTRICT, WARD, DEPT = "P.79", "D.02", "W.01", "S.01"
SECRET = "test-secret-of-at-least-thirty-two-bytes"
WEEK = {"from": "2026-03-02", "to": "2026-03-06"}


class Api:
    def __init__(self, base: str, clock: FakeClock) -> None:
        self.http = httpx.Client(
            base_url=base, timeout=20, headers={"Accept-Language": "en"}
        )  # English problems
        self.clock = clock

    def auth(self, role: str, agency: str | None) -> dict[str, str]:
        token = issue_token(
            SECRET,
            role=role,
            sub=f"{role}-{agency}",
            agency_code=agency,
            now=self.clock(),
            ttl=timedelta(days=3650),
        )
        return {"Authorization": f"Bearer {token}"}

    def act(self, at: str, path: str, agency: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.clock.set(at + "+07:00")
        r = self.http.post(path, json=body or {}, headers=self.auth("officer", agency))
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result

    def get(
        self, path: str, role: str = "inspector", agency: str | None = None, **params: Any
    ) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.auth(role, agency))

    def report(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.get(path, **params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    container = make_container()
    with serve(create_app(container)) as base:
        yield from _provisioned(Api(base, clock))


def _provisioned(client: Api) -> Iterator[Api]:
    admin = client.auth("admin", None)
    for code, level, parent, name in (
        (PROVINCE, "province", None, "UBND Thành phố"),
        (DISTRICT, "district", PROVINCE, "UBND Quận 2"),
        (WARD, "commune", DISTRICT, "UBND phường An Khánh"),
        (DEPT, "province_department", PROVINCE, "Sở Nông nghiệp và Môi trường"),
    ):
        body = {"name": name, "level": level, "parent_code": parent, "valid_from": "2025-01-01"}
        client.http.put(f"/api/v1/agencies/{code}", json=body, headers=admin).raise_for_status()
    route = [
        {"agency_code": WARD, "budget_working_hours": 4},
        {"agency_code": DEPT, "budget_working_hours": 28},
        {"agency_code": WARD, "budget_working_hours": 8},
    ]
    client.http.put(
        "/api/v1/procedures/DD.01",
        headers=admin,
        json={"name": "Đăng ký biến động", "field": "Đất đai", "deadline_working_hours": 40, "route": route},
    ).raise_for_status()
    yield client
    client.http.close()


def _walk(api: Api) -> tuple[str, str]:
    applicant = {"name": "Nguyễn Văn An", "id_number": "079200001234"}
    new = {"procedure_code": "DD.01", "channel": "direct", "applicant": applicant}
    a = api.act("2026-03-02T08:00", "/api/v1/dossiers", WARD, new)["id"]
    b = api.act("2026-03-02T09:00", "/api/v1/dossiers", WARD, new)["id"]
    api.act("2026-03-02T09:30", f"/api/v1/dossiers/{b}/handoffs", WARD, {"to_agency_code": DEPT})
    api.act("2026-03-02T10:00", f"/api/v1/dossiers/{a}/handoffs", WARD, {"to_agency_code": DEPT})
    api.act("2026-03-02T11:00", f"/api/v1/dossiers/{a}/handoffs/return", DEPT, {"reason": "thiếu tờ khai"})
    api.act("2026-03-02T14:00", f"/api/v1/dossiers/{a}/handoffs", WARD, {"to_agency_code": DEPT})
    api.act("2026-03-02T15:00", f"/api/v1/dossiers/{a}/handoffs/accept", DEPT)
    api.act("2026-03-03T15:00", f"/api/v1/dossiers/{a}/decision", DEPT, {"outcome": "approved"})
    api.act("2026-03-03T15:00", f"/api/v1/dossiers/{a}/handoffs", DEPT, {"to_agency_code": WARD})
    api.act("2026-03-03T16:00", f"/api/v1/dossiers/{a}/handoffs/accept", WARD)
    api.act("2026-03-04T08:30", f"/api/v1/dossiers/{a}/result-ready", WARD)
    api.act("2026-03-04T09:00", f"/api/v1/dossiers/{a}/result-returned", WARD)
    api.act("2026-03-05T08:00", f"/api/v1/dossiers/{b}/handoffs/accept", DEPT)
    api.clock.set("2026-03-20T10:00:00+07:00")
    return a, b


def near(value: float, expected: float) -> bool:
    return abs(value - expected) <= RELATIVE_ERROR * expected


def test_the_bottleneck_report_of_a_week(api: Api) -> None:
    a, _b = _walk(api)
    body = api.report("/api/v1/reports/bottlenecks", **WEEK)
    assert body["lag"] == 0 and body["view_position"] > 0
    rows = {row["agency_code"]: row for row in body["agencies"]}
    ward, dept = rows[WARD], rows[DEPT]
    # Ward: intakes of A and B (Mon) and the return step of A (Tue) arrived; all three finished.
    # Dwell: B 09:00-09:30 = 0.5 h; A's return step Tue 16:00-17:00 + Wed 07:30-08:30 = 2 h;
    # A's intake reopened by the return: 08:00-10:00 + 11:00-11:30 + 13:00-14:00 = 3.5 h.
    assert (ward["arrivals"], ward["completions"], ward["stays"], ward["returns"]) == (3, 3, 3, 1)
    assert near(ward["dwell_hours"]["p50"], 2.0) and near(ward["dwell_hours"]["p99"], 3.5)
    assert ward["mean_dwell_hours"] == pytest.approx((0.5 + 2 + 3.5) / 3, abs=1e-3)
    assert ward["wip"] == 0 and ward["in_transit"] == 0
    # Department: A (Mon 15:00 -> Tue 15:00 = 2 + 4 + 2 = 8 h) finished; B arrived Thu, held at
    # the end of Friday, within its 28 h budget.
    assert (dept["arrivals"], dept["completions"], dept["wip"], dept["overdue_wip"]) == (2, 1, 1, 0)
    assert near(dept["dwell_hours"]["p50"], 8.0)
    edges = {(e["from_agency_code"], e["to_agency_code"]): e for e in body["edges"]}
    # W->S: A returned (10:00-11:00 = 1 h), A accepted (14:00-15:00 = 1 h), B accepted Thu 08:00:
    # Mon 09:30-11:30 2 h + 13:00-17:00 4 h, Tue 8, Wed 8, Thu 07:30-08:00 0.5 h = 22.5 h.
    down = edges[(WARD, DEPT)]
    assert (down["count"], down["returns"]) == (3, 1)
    assert near(down["transit_hours"]["p50"], 1.0) and near(down["transit_hours"]["p99"], 22.5)
    up = edges[(DEPT, WARD)]
    assert (up["count"], up["returns"]) == (1, 0) and near(up["transit_hours"]["p90"], 1.0)
    assert "steps" not in body
    by_step = api.report("/api/v1/reports/bottlenecks", steps="true", **WEEK)["steps"]
    steps = {(s["procedure_code"], s["route_step"]): s for s in by_step}
    # Route steps 0 (intake of A and B), 1 (department: A) and 2 (return of A).
    assert steps[("DD.01", 0)]["stays"] == 2 and steps[("DD.01", 2)]["stays"] == 1
    assert near(steps[("DD.01", 1)]["dwell_hours"]["p50"], 8.0)

    # Click the ward: its stays, slowest first, two per page.
    page = api.report("/api/v1/reports/bottlenecks/dossiers", agency_code=WARD, limit=2, **WEEK)
    assert [round(i["dwell_hours"], 3) for i in page["items"]] == [3.5, 2.0]
    assert page["items"][0]["dossier_id"] == a and page["items"][0]["receipt_code"]
    rest = api.report(
        "/api/v1/reports/bottlenecks/dossiers", agency_code=WARD, limit=2, cursor=page["next_cursor"], **WEEK
    )
    assert [round(i["dwell_hours"], 3) for i in rest["items"]] == [0.5] and rest["next_cursor"] is None
    # Click the W->S edge's returns.
    back = api.report(
        "/api/v1/reports/bottlenecks/dossiers",
        from_agency_code=WARD,
        to_agency_code=DEPT,
        returned="true",
        **WEEK,
    )
    assert [(i["dossier_id"], i["outcome"], i["transit_hours"]) for i in back["items"]] == [
        (a, "returned", 1.0)
    ]


def test_wip_series_heat_map_and_what_is_held_now(api: Api) -> None:
    _a, b = _walk(api)
    series = api.report("/api/v1/reports/wip", agency_code=DEPT, **{"from": "2026-03-02", "to": "2026-03-11"})
    days = {p["period"]: p for p in series["items"]}
    assert len(days) == 10
    # Mon: A accepted (held), B in transit; Tue: A handed back; Thu: B accepted.
    assert (days["2026-03-02"]["wip"], days["2026-03-02"]["in_transit"], days["2026-03-02"]["arrivals"]) == (
        1,
        1,
        1,
    )
    assert (days["2026-03-03"]["wip"], days["2026-03-03"]["completions"]) == (0, 1)
    assert (days["2026-03-05"]["wip"], days["2026-03-05"]["in_transit"]) == (1, 0)
    # B's 28 h from Thu 08:00: Thu 7.5, Fri 8 (15.5), Mon 8 (23.5), Tue 07:30-11:30 4 (27.5) and
    # 13:00-13:30 -> due Tue 10 March 13:30: overdue at the end of that day.
    assert days["2026-03-09"]["overdue_wip"] == 0 and days["2026-03-10"]["overdue_wip"] == 1
    weekly = api.report(
        "/api/v1/reports/wip", agency_code=DEPT, bucket="week", **{"from": "2026-03-02", "to": "2026-03-15"}
    )
    assert [(p["period"], p["arrivals"], p["wip"], p["overdue_wip"]) for p in weekly["items"]] == [
        ("2026-W10", 2, 1, 0),
        ("2026-W11", 0, 1, 1),
    ]

    heat = api.report(
        "/api/v1/reports/heatmap", metric="overdue_wip", **{"from": "2026-03-02", "to": "2026-03-15"}
    )
    assert heat["weeks"] == ["2026-W10", "2026-W11"]
    cells = {row["group"]: row["cells"] for row in heat["rows"]}
    assert [(c["value"], c["wip"]) for c in cells[DEPT]] == [(0, 1), (1, 1)]
    dwell = api.report(
        "/api/v1/reports/heatmap", metric="dwell", **{"from": "2026-03-02", "to": "2026-03-08"}
    )
    cells = {row["group"]: row["cells"] for row in dwell["rows"]}
    assert cells[WARD][0]["count"] == 3 and near(cells[WARD][0]["value"], 2.0)

    # Held now (Fri 20 March 10:00) by the department: B, since Thu 5 March 08:00.
    held = api.report("/api/v1/reports/bottlenecks/dossiers", agency_code=DEPT, state="open")
    assert [i["dossier_id"] for i in held["items"]] == [b]
    # Thu 5: 08:00-11:30 3.5 + 4 = 7.5; Fri 6, Mon 9 .. Thu 19: 10 working days = 80;
    # Fri 20 07:30-10:00 = 2.5 -> 90 working hours so far.
    assert held["items"][0]["dwell_hours"] == pytest.approx(90.0)


def test_who_may_read_and_what_is_refused(api: Api) -> None:
    _walk(api)
    path = "/api/v1/reports/bottlenecks"
    # A district supervisor sees its ward and the edges that touch it, not the department's row.
    mine = api.get(path, role="supervisor", agency=DISTRICT, **WEEK).json()
    assert {r["agency_code"] for r in mine["agencies"]} == {WARD}
    assert {(e["from_agency_code"], e["to_agency_code"]) for e in mine["edges"]} == {
        (WARD, DEPT),
        (DEPT, WARD),
    }
    assert api.get(path, role="supervisor", agency=DISTRICT, agency_code=DEPT, **WEEK).status_code == 403
    assert (
        api.get("/api/v1/reports/wip", role="supervisor", agency=WARD, agency_code=DEPT, **WEEK).status_code
        == 403
    )
    assert api.get(path, role="admin", **WEEK).status_code == 200
    assert api.get(path, role="officer", agency=WARD, **WEEK).status_code == 403
    assert api.http.get(path, params=WEEK).status_code == 401

    for params, words in (
        ({"from": "2026-03-06", "to": "2026-03-02"}, "before"),
        ({"from": "yesterday", "to": "2026-03-02"}, "neither a date"),
        ({"from": "2026-03-02T08:00:00", "to": "2026-03-06"}, "offset"),
        ({"to": "2026-03-06"}, "'from' is required"),
        ({**WEEK, "agency_code": "X.99"}, "no agency"),
        # Centuries kept the server busy for minutes (a week per cell); now refused at once.
        ({"from": "0001-01-01", "to": "9999-12-31"}, "at most 3660 days"),
    ):
        r = api.get(path, **params)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), (
            r.text
        )
        assert words in r.json()["detail"]
    assert api.get("/api/v1/reports/heatmap", metric="speed", **WEEK).status_code == 422
    centuries = api.get("/api/v1/reports/heatmap", **{"from": "0001-01-01", "to": "9999-12-31"})
    assert centuries.status_code == 422 and "at most 3660 days" in centuries.json()["detail"]
    assert "agency_code" in api.get("/api/v1/reports/wip", **WEEK).json()["detail"]
    r = api.get(
        "/api/v1/reports/wip", agency_code=DEPT, bucket="day", **{"from": "2020-01-01", "to": "2026-01-01"}
    )
    assert r.status_code == 422 and "bucket=week" in r.json()["detail"]
    drill = "/api/v1/reports/bottlenecks/dossiers"
    assert api.get(drill, from_agency_code=WARD, **WEEK).status_code == 422
    assert api.get(drill, agency_code=WARD, cursor="nonsense", **WEEK).status_code == 422
    # An instant bound reads as its local day: 2026-03-06T23:00Z is Sat 7 March in Hanoi time.
    late = api.report(path, **{"from": "2026-03-02", "to": "2026-03-06T23:00:00Z"})
    assert late["to"] == "2026-03-07"
