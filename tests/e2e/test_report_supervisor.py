"""A province's supervisor sends the periodic Biểu 06 and reads what it counts, through real HTTP:
a period that has not begun, an agency whose only history is imported from a legacy system, and
the official form's rows by field."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gateways.bootstrap import Container
from gateways.documents import bieu06 as bieu06_document
from gateways.documents.sla_report import render
from gateways.http.app import create_app
from gateways.interchange.xes_import import import_xes
from gateways.views.sla.official import official_bieu06
from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, Api
from tests.e2e.test_imported_history import CASES, legacy_log
from tests.e2e.test_reports import DEPT, OTHER, SECRET, WARD, _at, _problem, _provisioned, api, march
from tests.serving import serve

__all__ = ["api", "march"]  # the reports tests' office and its two March dossiers


@pytest.fixture
def office(make_container: Any, clock: FakeClock) -> Iterator[tuple[Api, Container]]:
    container: Container = make_container()
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            yield api, container


def _cells(content: bytes, sheet: str = "Biểu 06") -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [[c for c in r if c is not None] for r in book[sheet].iter_rows(values_only=True)]


def test_a_period_that_has_not_begun_is_refused_not_filled_with_todays_open_dossiers(
    office: tuple[Api, Container], clock: FakeClock
) -> None:
    api, _ = office
    # One dossier received Mon 2 Mar 2026, still open; now is Tue 10 Mar, in period 2026-03.
    _at(
        api,
        clock,
        "2026-03-02T08:00:00+07:00",
        "/api/v1/dossiers",
        {"procedure_code": "DD.01", "applicant": APPLICANT, "channel": "direct"},
    )
    clock.set("2026-03-10T09:00:00+07:00")
    # Period 2026-04 starts on 15 Mar: nothing of it has happened. It was answered 200 with the
    # open dossier "carried over from the previous period" and overdue, judged before it began.
    for path, extra in (
        ("/api/v1/reports/bieu06", {"agency_code": WARD}),
        ("/api/v1/reports/bieu06/form", {"agency_code": WARD}),
        ("/api/v1/reports/sla", {}),
    ):
        detail = _problem(api.get(path, period="2026-04", **extra), 422)
        assert "2026-03-15T00:00:00+07:00" in detail and "after now" in detail
    late = api.get(
        "/api/v1/reports/bieu06",
        agency_code=WARD,
        **{"from": "2026-03-10T09:00:01+07:00", "to": "2026-03-11"},
    )
    assert "after now" in _problem(late, 422)
    # In Vietnamese by default, like every problem.
    vi = api.http.get(
        "/api/v1/reports/bieu06",
        params={"agency_code": WARD, "period": "2027"},
        headers={**api.token("inspector"), "Accept-Language": "vi"},
    )
    assert "chưa có số liệu để báo cáo" in _problem(vi, 422)
    # The running period is still judged now.
    body = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-03").json()
    assert body["received"]["total"] == 1 and body["judged_at"] == "2026-03-10T09:00:00+07:00"


def test_a_report_says_whether_imported_history_was_counted(
    office: tuple[Api, Container], tmp_path: Path
) -> None:
    api, container = office
    report = import_xes(legacy_log(tmp_path / "legacy.xes"), container.service, workers=0)
    assert report.dossiers_created == len(CASES) == 3
    container.feed.refresh()
    live = api.get("/api/v1/reports/sla", period="2024-03").json()
    assert live["include_imported"] is False and live["items"] == []
    rows = api.get("/api/v1/reports/sla", period="2024-03", include_imported="true").json()
    assert rows["include_imported"] is True
    # Every case was received by the log's "Group 1" desk, an agency with imported history only.
    [desk] = [row["group"] for row in rows["items"] if row["received"]["total"]]
    assert [row["received"]["total"] for row in rows["items"] if row["group"] == desk] == [3]
    # Its Biểu 06 is all zeros by default: the answer and every rendering say why.
    body = api.get("/api/v1/reports/bieu06", agency_code=desk, period="2024-03").json()
    assert body["received"]["total"] == 0 and body["include_imported"] is False
    counted = api.get(
        "/api/v1/reports/bieu06", agency_code=desk, period="2024-03", include_imported="true"
    ).json()
    assert counted["received"]["total"] == 3 and counted["include_imported"] is True
    form = api.get("/api/v1/reports/bieu06/form", agency_code=desk, period="2024-03")
    assert form.status_code == 200, form.text
    text = " ".join(str(c) for r in _cells(form.content) for c in r)
    assert "không gồm lịch sử hồ sơ nhập từ hệ thống cũ" in text
    detail = " ".join(str(c) for r in _cells(form.content, "Chi tiết") for c in r)
    assert "không gồm lịch sử hồ sơ nhập từ hệ thống cũ" in detail
    asked = api.get(
        "/api/v1/reports/bieu06/form", agency_code=desk, period="2024-03", include_imported="true"
    )
    assert "gồm cả lịch sử hồ sơ nhập từ hệ thống cũ" in " ".join(
        str(c) for r in _cells(asked.content) for c in r
    )
    pdf = api.get("/api/v1/reports/bieu06/form", agency_code=desk, period="2024-03", format="pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # The command line's renderings: a CSV column and a caption under the table.
    one = container.sla.bieu06(desk, date(2024, 2, 15), date(2024, 3, 14), now=api.clock())
    csv_text = render(one, "csv", container.catalogue).decode("utf-8-sig")
    header, values = (line.split(",") for line in csv_text.splitlines()[:2])
    assert dict(zip(header, values, strict=True))["include_imported"] == "false"
    assert "không gồm lịch sử hồ sơ nhập từ hệ thống cũ" in render(one, "table", container.catalogue).decode()


def test_the_official_form_lists_fields_in_vietnamese_order_and_its_rows_add_up_to_the_total(
    office: tuple[Api, Container], clock: FakeClock
) -> None:
    api, _ = office
    admin = api.token("admin")
    route = [{"agency_code": WARD, "budget_working_hours": 8}]
    # DD.01 of the set-up has no field: its row is the last, "other fields".
    for code, field in (("GD.01", "Giáo dục"), ("DA.01", "Đất đai"), ("DU.01", "Dược"), ("AN.01", "Ăn uống")):
        body = {"name": f"Thủ tục {code}", "field": field, "deadline_working_hours": 8, "route": route}
        api.http.put(f"/api/v1/procedures/{code}", headers=admin, json=body).raise_for_status()
    for n, code in enumerate(("GD.01", "DA.01", "DA.01", "DU.01", "AN.01", "DD.01")):
        new = {"procedure_code": code, "applicant": APPLICANT, "channel": "direct"}
        _at(api, clock, f"2026-03-02T0{8 + n // 4}:{10 * (n % 4):02d}:00+07:00", "/api/v1/dossiers", new)
    clock.set("2026-03-20T09:00:00+07:00")
    form = api.get("/api/v1/reports/bieu06/form", agency_code=WARD, period="2026-03")
    assert form.status_code == 200, form.text
    cells = _cells(form.content)
    start = next(i for i, r in enumerate(cells) if r and r[0] == "(1)") + 1
    rows = [r for r in cells[start:] if r and isinstance(r[0], int)]
    assert [r[1] for r in rows] == [
        "Ăn uống",
        "Dược",
        "Đất đai",
        "Giáo dục",
        "Lĩnh vực khác (thủ tục chưa ghi lĩnh vực)",
    ]
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    total = next(r for r in cells[start:] if r and r[0] == "Tổng cộng")
    assert [sum(r[2 + k] for r in rows) for k in range(11)] == total[1:12]
    assert total[1] == 6 and total[9] == total[11] == 6  # received; all in process, overdue


def test_the_official_form_says_what_its_received_column_holds_beyond_resolved_and_in_process(
    office: tuple[Api, Container], clock: FakeClock
) -> None:
    api, container = office
    new = {"procedure_code": "DD.01", "applicant": APPLICANT, "channel": "direct"}
    # Three received Mon 2 Mar: one withdrawn the next day, one resolved at the ward, one open.
    gone = _at(api, clock, "2026-03-02T08:00:00+07:00", "/api/v1/dossiers", new)["id"]
    done = _at(api, clock, "2026-03-02T08:10:00+07:00", "/api/v1/dossiers", new)["id"]
    _at(api, clock, "2026-03-02T08:20:00+07:00", "/api/v1/dossiers", new)
    _at(api, clock, "2026-03-03T08:00:00+07:00", f"/api/v1/dossiers/{gone}/withdrawal", {"reason": "rút"})
    _at(api, clock, "2026-03-03T09:00:00+07:00", f"/api/v1/dossiers/{done}/decision", {"outcome": "approved"})
    _at(api, clock, "2026-03-03T10:00:00+07:00", f"/api/v1/dossiers/{done}/result-ready", {})
    clock.set("2026-03-20T09:00:00+07:00")
    form = api.get("/api/v1/reports/bieu06/form", agency_code=WARD, period="2026-03")
    cells = _cells(form.content)
    total = next(r for r in cells if r and r[0] == "Tổng cộng")
    # Received (3) is 3 but resolved (7) and in process (11) are 1 each: the form has no column
    # for the withdrawn one, and the sheet said nothing of it.
    assert (total[1], total[5], total[9]) == (3, 1, 1)
    note = (
        "Cột (3) gồm cả 1 hồ sơ đã rút, dừng hoặc bị từ chối (không có kết quả), không thuộc cột (7) và (11)."
    )
    assert note in [c for r in cells for c in r]
    official = official_bieu06(container.sla, WARD, date(2026, 2, 15), date(2026, 3, 14), now=clock())
    assert note in bieu06_document.html(official, container.calendar.tz)


def test_the_late_steps_behind_late_attributed_name_the_dossier_the_agency_and_the_overrun(
    api: Api, march: dict[str, str]
) -> None:
    # The SLA report charged one step to the ward and one to the department in period 2026-03;
    # the supervisor finds which dossiers and by how much, straight from the report.
    charged = api.get("/api/v1/reports/sla", group_by="agency", period="2026-03").json()["items"]
    assert {row["group"]: row["late_attributed"] for row in charged} == {WARD: 1, DEPT: 1}
    r = api.get("/api/v1/reports/late-steps", period="2026-03")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and body["judged_at"] == "2026-03-10T09:00:00+07:00"
    got = [
        (i["dossier_id"], i["agency_code"], i["level"], i["overrun_at"], i["left_at"], i["timeliness"])
        for i in body["items"]
    ]
    assert got == [
        # B: the ward's 4 h intake from Mon 2 Mar 08:30 ran out at 14:00; still open.
        (march["b"], WARD, "commune", "2026-03-02T14:00:00+07:00", None, None),
        # A: the department's 28 h from Mon 11:00 ran out Thu 5 Mar 16:30; it gave the dossier
        # back Mon 9 Mar 09:00, late.
        (
            march["a"],
            DEPT,
            "province_department",
            "2026-03-05T16:30:00+07:00",
            "2026-03-09T09:00:00+07:00",
            "late",
        ),
    ]
    # By hand: B's ward used Mon 7 h, Tue-Fri 32 h, Mon 9 8 h, Tue 10 07:30-09:00 1.5 h = 48.5 h;
    # A's department 28 h, then Thu 0.5 h, Fri 8 h, Mon 9 07:30-09:00 1.5 h = 38 h.
    assert [
        (i["budget_working_hours"], i["used_working_hours"], i["overrun_working_hours"])
        for i in body["items"]
    ] == [
        (4.0, 48.5, 44.5),
        (28.0, 38.0, 10.0),
    ]
    # Who may read: a supervisor its subtree, an officer its own agency's steps.
    mine = api.get("/api/v1/reports/late-steps", role="officer", agency=DEPT, period="2026-03").json()
    assert [i["dossier_id"] for i in mine["items"]] == [march["a"]] and mine["agencies"] == [DEPT]
    denied = api.get(
        "/api/v1/reports/late-steps", role="supervisor", agency=OTHER, agency_code=WARD, period="2026-03"
    )
    _problem(denied, 403)
    assert api.get("/api/v1/reports/late-steps", period="2026-02").json()["total"] == 0
    assert api.get("/api/v1/reports/late-steps", period="2026-03", limit=1).json()["total"] == 2


def test_the_official_form_files_a_procedure_under_the_field_it_had_in_the_period(
    office: tuple[Api, Container], clock: FakeClock
) -> None:
    api, _ = office
    admin = api.token("admin")
    route = [{"agency_code": WARD, "budget_working_hours": 8}]
    body = {"name": "Thủ tục DU.01", "field": "Dược", "deadline_working_hours": 8, "route": route}
    api.http.put("/api/v1/procedures/DU.01", headers=admin, json=body).raise_for_status()
    new = {"procedure_code": "DU.01", "applicant": APPLICANT, "channel": "direct"}
    _at(api, clock, "2026-03-02T08:00:00+07:00", "/api/v1/dossiers", new)
    # Entered ahead: from 1 May 2026 the procedure belongs to another field.
    later = {**body, "field": "Y tế", "valid_from": "2026-05-01"}
    api.http.put("/api/v1/procedures/DU.01", headers=admin, json=later).raise_for_status()
    clock.set("2026-03-20T09:00:00+07:00")
    march = _cells(api.get("/api/v1/reports/bieu06/form", agency_code=WARD, period="2026-03").content)
    start = next(i for i, r in enumerate(march) if r and r[0] == "(1)") + 1
    assert [r[1] for r in march[start:] if r and isinstance(r[0], int)] == ["Dược"]
