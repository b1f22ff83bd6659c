"""Reports through real HTTP (uvicorn on 127.0.0.1): Biểu 06, SLA by group, at-risk, who may read."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import openpyxl
import pytest

from gateways.bootstrap import Container
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, Api
from tests.serving import serve

PROVINCE, WARD, OTHER, DEPT = "P.79", "W.01", "W.02", "S.01"
SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    container: Container = make_container()
    with serve(create_app(container)) as base:
        yield from _provisioned(Api(base, SECRET, clock))


def _provisioned(client: Api) -> Iterator[Api]:
    admin = client.token("admin")
    client.http.put(
        f"/api/v1/agencies/{PROVINCE}", json={"name": "UBND Thành phố", "level": "province"}, headers=admin
    ).raise_for_status()
    for code, level, name in (
        (WARD, "commune", "UBND phường An Khánh"),
        (OTHER, "commune", "UBND phường Cát Lái"),
        (DEPT, "province_department", "Sở Nông nghiệp và Môi trường"),
    ):
        body = {"name": name, "level": level, "parent_code": PROVINCE}
        client.http.put(f"/api/v1/agencies/{code}", json=body, headers=admin).raise_for_status()
    # ward intake 4 h -> department 28 h -> ward return 8 h = 40 working hours
    route = [
        {"agency_code": WARD, "budget_working_hours": 4},
        {"agency_code": DEPT, "budget_working_hours": 28},
        {"agency_code": WARD, "budget_working_hours": 8},
    ]
    client.http.put(
        "/api/v1/procedures/DD.01",
        headers=admin,
        json={"name": "Đăng ký biến động đất đai", "deadline_working_hours": 40, "route": route},
    ).raise_for_status()
    yield client
    client.http.close()


def _at(api: Api, clock: FakeClock, when: str, path: str, body: Any, agency: str = WARD) -> dict[str, Any]:
    clock.set(when)
    r = api.post(path, body, agency=agency)
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = r.json()
    return result


def _problem(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail: str = r.json()["detail"]
    return detail


@pytest.fixture
def march(api: Api, clock: FakeClock) -> dict[str, str]:
    """Two dossiers at the ward's desk in March 2026; now is Tue 10 Mar 09:00."""
    new = {"procedure_code": "DD.01", "applicant": APPLICANT}
    # A, direct, Mon 2 Mar 08:00: due Mon 9 Mar 08:00 (Mon 7.5 h + Tue-Fri 32 h + 0.5 h).
    a = _at(api, clock, "2026-03-02T08:00:00+07:00", "/api/v1/dossiers", {**new, "channel": "direct"})["id"]
    # B, online, 08:30: due Mon 9 Mar 08:30. It never leaves the ward.
    b = _at(api, clock, "2026-03-02T08:30:00+07:00", "/api/v1/dossiers", {**new, "channel": "online"})["id"]
    _at(api, clock, "2026-03-02T10:00:00+07:00", f"/api/v1/dossiers/{a}/handoffs", {"to_agency_code": DEPT})
    # The department's 28 h from Mon 11:00 end Thu 5 Mar 16:30; it hands back Mon 9 Mar: late.
    _at(api, clock, "2026-03-02T11:00:00+07:00", f"/api/v1/dossiers/{a}/handoffs/accept", {}, DEPT)
    _at(
        api,
        clock,
        "2026-03-09T08:30:00+07:00",
        f"/api/v1/dossiers/{a}/decision",
        {"outcome": "approved"},
        DEPT,
    )
    _at(
        api,
        clock,
        "2026-03-09T09:00:00+07:00",
        f"/api/v1/dossiers/{a}/handoffs",
        {"to_agency_code": WARD},
        DEPT,
    )
    _at(api, clock, "2026-03-09T09:30:00+07:00", f"/api/v1/dossiers/{a}/handoffs/accept", {})
    ready = _at(api, clock, "2026-03-09T10:00:00+07:00", f"/api/v1/dossiers/{a}/result-ready", {})
    assert ready["timeliness"] == "late"
    clock.set("2026-03-10T09:00:00+07:00")
    return {"a": a, "b": b}


def test_bieu06_of_the_ward_for_a_reporting_period(api: Api, march: dict[str, str]) -> None:
    r = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-03")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["period"]) == ("2026-02-15", "2026-03-14", "2026-03")
    assert body["received"] == {"online": 1, "direct": 1, "postal": 0, "carried_over": 0, "total": 2}
    assert body["resolved"] == {"early": 0, "on_time": 0, "late": 1, "total": 1}
    # The period is not over: B is judged now (Tue 09:00), past its due Mon 9 Mar 08:30.
    assert body["in_process"] == {"within_due": 0, "overdue": 1, "total": 1}
    assert body["judged_at"] == "2026-03-10T09:00:00+07:00"
    assert body["on_time_rate"] == 0.0 and body["closed_without_result"] == 0
    assert body["view_position"] > 0 and body["lag"] == 0
    # The same range as dates; and judged at the end of Fri 6 Mar, before either was due.
    same = api.get("/api/v1/reports/bieu06", agency_code=WARD, **{"from": "2026-02-15", "to": "2026-03-14"})
    assert same.json()["received"] == body["received"]
    early = api.get("/api/v1/reports/bieu06", agency_code=WARD, **{"from": "2026-03-01", "to": "2026-03-06"})
    assert early.json()["in_process"] == {"within_due": 2, "overdue": 0, "total": 2}
    assert early.json()["on_time_rate"] is None  # nothing resolved yet
    # The quarter (15 Dec 2025 to 14 Mar 2026) holds the same two; the half-year is not over.
    quarter = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-Q1").json()
    assert (quarter["from"], quarter["to"], quarter["period"]) == ("2025-12-15", "2026-03-14", "2026-Q1")
    assert quarter["received"] == body["received"] and quarter["resolved"] == body["resolved"]
    year = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2025").json()
    assert (year["from"], year["to"], year["received"]["total"]) == ("2024-12-15", "2025-12-14", 0)
    # The official form of the same quarter: a spreadsheet whose total row is the JSON report's.
    form = api.get("/api/v1/reports/bieu06/form", agency_code=WARD, period="2026-Q1")
    assert form.status_code == 200, form.text
    assert form.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bieu06-' in form.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(form.content))["Biểu 06"]
    rows = [[c for c in r if c is not None] for r in sheet.iter_rows(values_only=True)]
    assert any("Kỳ báo cáo: Quý I năm 2026" in str(c) for r in rows for c in r)
    total = next(r for r in rows if r and r[0] == "Tổng cộng")
    assert total[1:5] == [2, 1, 1, 0] and total[5:9] == [1, 0, 0, 1]
    # The department's own steps (scope handled): one, late.
    dept = api.get("/api/v1/reports/bieu06", agency_code=DEPT, period="2026-03", scope="handled").json()
    assert dept["resolved"] == {"early": 0, "on_time": 0, "late": 1, "total": 1}


def test_sla_by_agency_and_level_charges_the_late_step_to_the_department(
    api: Api, march: dict[str, str]
) -> None:
    rows = api.get("/api/v1/reports/sla", group_by="agency", period="2026-03").json()["items"]
    by = {row["group"]: row for row in rows}
    assert set(by) == {WARD, DEPT}
    # A's late step was the department's. B's intake step (4 h from Mon 08:30, due 14:00) is still
    # open at the ward: over budget too, so the ward is charged one step.
    assert by[WARD]["received"]["total"] == 2 and by[WARD]["late_attributed"] == 1
    assert by[DEPT]["received"]["total"] == 0 and by[DEPT]["late_attributed"] == 1
    levels = api.get("/api/v1/reports/sla", group_by="level", period="2026-03").json()["items"]
    assert {(row["group"], row["late_attributed"]) for row in levels} == {
        ("commune", 1),
        ("province_department", 1),
    }
    procedures = api.get("/api/v1/reports/sla", group_by="procedure", period="2026-03").json()["items"]
    assert [(row["group"], row["resolved"]["late"]) for row in procedures] == [("DD.01", 1)]


def test_at_risk_lists_the_overdue_dossier_first(api: Api, march: dict[str, str]) -> None:
    body = api.get("/api/v1/reports/at-risk", agency_code=WARD, within_hours=8).json()
    assert [item["id"] for item in body["items"]] == [march["b"]]
    item = body["items"][0]
    # Due Mon 9 Mar 08:30; now Tue 09:00: Mon 08:30-17:00 is 7 h, Tue 07:30-09:00 1.5 h -> 8.5 h late.
    assert item["overdue"] is True and item["remaining_working_hours"] == -8.5
    assert body["lag"] == 0


def test_who_may_read_which_report(api: Api, march: dict[str, str]) -> None:
    path = "/api/v1/reports/bieu06"
    assert (
        api.get(path, role="supervisor", agency=PROVINCE, agency_code=WARD, period="2026-03").status_code
        == 200
    )
    assert api.get(path, role="officer", agency=WARD, period="2026-03").json()["agency_code"] == WARD
    assert api.get(path, role="admin", agency_code=WARD, period="2026-03").status_code == 200
    denied = api.get(path, role="supervisor", agency=OTHER, agency_code=WARD, period="2026-03")
    assert f"{WARD} is not {OTHER} nor below it" in _problem(denied, 403)
    assert "own agency" in _problem(api.get(path, role="officer", agency=WARD, agency_code=DEPT), 403)
    _problem(api.get(path, role="officer", agency=WARD, include_children="true"), 403)
    _problem(api.get(path, role="integration", agency_code=WARD), 403)
    # The supervisor's SLA rows stay inside its subtree.
    rows = api.get("/api/v1/reports/sla", role="supervisor", agency=WARD, period="2026-03").json()["items"]
    assert [row["group"] for row in rows] == [WARD]


def test_the_form_downloaded_from_the_api_keeps_what_the_form_has_no_column_for(
    api: Api, clock: FakeClock, march: dict[str, str]
) -> None:
    # A third dossier, received by post Tue 3 Mar and withdrawn Wed 4 Mar: closed without result,
    # which the official sheet has no column for; the "Chi tiết" sheet has it, as the CLI's has.
    new = {"procedure_code": "DD.01", "applicant": APPLICANT, "channel": "postal"}
    c = _at(api, clock, "2026-03-03T08:00:00+07:00", "/api/v1/dossiers", new)["id"]
    _at(api, clock, "2026-03-04T08:00:00+07:00", f"/api/v1/dossiers/{c}/withdrawal", {"reason": "rút"})
    clock.set("2026-03-10T09:00:00+07:00")
    form = api.get("/api/v1/reports/bieu06/form", agency_code=WARD, period="2026-03")
    assert form.status_code == 200, form.text
    book = openpyxl.load_workbook(io.BytesIO(form.content))
    assert book.sheetnames == ["Biểu 06", "Chi tiết"]
    rows = [list(r) for r in book["Chi tiết"].iter_rows(values_only=True)]
    headings = next(r for r in rows if r[0] == "STT")
    line = next(r for r in rows if r[0] == 1)
    detail = dict(zip(headings, line, strict=True))
    assert detail["Rút, dừng, từ chối (không có kết quả)"] == 1
    # online B, direct A, postal C; A late of one resolved; B overdue since Mon 9 Mar 08:30.
    assert line[2:6] == [1, 1, 1, 0] and line[-2:] == [1, 0.0]


def test_the_supervisor_of_a_successor_reads_the_ward_it_succeeded(api: Api, march: dict[str, str]) -> None:
    # The ward ends on 31 Mar 2026 and W.09 takes over on 1 Apr (decision 60): the new ward's
    # supervisor reads the old ward's own form, as it reads it rolled up under its own code.
    admin = api.token("admin")
    heir = {
        "name": "UBND phường mới",
        "level": "commune",
        "parent_code": PROVINCE,
        "valid_from": "2026-04-01",
    }
    api.http.put("/api/v1/agencies/W.09", json=heir, headers=admin).raise_for_status()
    ended = {
        "name": "UBND phường An Khánh",
        "level": "commune",
        "parent_code": PROVINCE,
        "valid_to": "2026-03-31",
        "successors": [{"code": "W.09", "valid_from": "2026-04-01"}],
    }
    api.http.put(f"/api/v1/agencies/{WARD}", json=ended, headers=admin).raise_for_status()
    path = "/api/v1/reports/bieu06"
    own = api.get(path, role="supervisor", agency="W.09", agency_code=WARD, period="2026-03")
    assert own.status_code == 200, own.text
    rolled = api.get(path, role="supervisor", agency="W.09", include_children="true", period="2026-03")
    assert own.json()["received"]["total"] == rolled.json()["received"]["total"] == 2
    flows = api.get(
        "/api/v1/reports/bottlenecks",
        role="supervisor",
        agency="W.09",
        agency_code=WARD,
        **{"from": "2026-02-15", "to": "2026-03-14"},
    )
    assert flows.status_code == 200, flows.text
    # A ward that succeeded nothing still reads neither.
    assert f"{WARD} is not {OTHER} nor below it" in _problem(
        api.get(path, role="supervisor", agency=OTHER, agency_code=WARD, period="2026-03"), 403
    )


def test_bad_parameters_are_422_problems_that_say_why(api: Api) -> None:
    path = "/api/v1/reports/bieu06"
    assert "YYYY-MM" in _problem(api.get(path, agency_code=WARD, period="2026-13"), 422)
    assert "together" in _problem(api.get(path, agency_code=WARD, **{"from": "2026-03-01"}), 422)
    assert "not both" in _problem(api.get(path, agency_code=WARD, period="2026-03", to="2026-03-01"), 422)
    assert "offset" in _problem(
        api.get(path, agency_code=WARD, **{"from": "2026-03-01T08:00", "to": "2026-03-02"}), 422
    )
    assert "before it starts" in _problem(
        api.get(path, agency_code=WARD, **{"from": "2026-03-05", "to": "2026-03-01"}), 422
    )
    assert "not in the catalogue" in _problem(api.get(path, agency_code="NOPE", period="2026-03"), 422)
    assert "agency_code" in _problem(api.get(path, period="2026-03"), 422)
    _problem(api.get("/api/v1/reports/sla", group_by="district"), 422)
    _problem(api.get("/api/v1/reports/at-risk", agency_code=WARD, within_hours=-1), 422)
