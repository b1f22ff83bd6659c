"""The SLA view on the real stores (SQLite and PostgreSQL), fed the demo's seeded history.

Biểu 06 from the view is checked against a recomputation that knows nothing of the view:
each dossier's events folded with `domain.dossier.fold` (as of the window's start and end).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from domain import commands as cmd
from domain.agencies import Agency, AgencyLevel
from domain.dossier import TERMINAL, Dossier, Status, fold, working_hours_until
from domain.events import Actor, Channel, DossierEvent
from gateways.bootstrap import Container
from gateways.documents.sla_report import render
from gateways.http.report_presenters import bieu06_json, sla_json
from gateways.report_cli import report
from gateways.seed.demo import seed_demo
from gateways.views.feed import StoreFeed
from gateways.views.runtime import ViewRunner
from gateways.views.sla import TABLES, SlaReports, SlaView
from gateways.views.sla.official import official_bieu06
from projections import sla
from tests.conftest import FakeClock

PROVINCE = "000.00.00.H29"
AN_KHANH = "000.21.99.H29"  # a ward since 2025-07-01
THU_DUC = "000.00.63.H29"  # the district abolished on 2025-07-01
THAO_DIEN = "000.01.62.H29"  # a ward under it before the reform
CENTRE = "000.00.40.H29"
_US = timedelta(microseconds=1)
INTEGRATION = Actor(agency_code="", user="test", role="integration")


@dataclass
class Seeded:
    container: Container
    runner: ViewRunner
    feed: StoreFeed
    reports: SlaReports
    histories: dict[str, list[DossierEvent]]
    now: datetime


@pytest.fixture
def seeded(backend_url: str, make_container: Any, clock: FakeClock) -> Iterator[Seeded]:
    container: Container = make_container(backend_url)
    seed_demo(container.service, clock(), dossiers=100, seed=7)
    runner = ViewRunner(container.view_db, SlaView(container.calendar.tz))
    # Small batches: a dossier's events arrive over many batches, as they do live.
    feed = StoreFeed(container.store, [runner], batch=40)
    feed.catch_up()
    histories: dict[str, list[DossierEvent]] = defaultdict(list)
    position = 0
    while records := container.store.notifications(position, 1000):
        for record in records:
            histories[record.dossier_id].append(record.to_domain())
        position = records[-1].notification_id or position
    reports = SlaReports(container.view_db, container.catalogue, container.calendar)
    yield Seeded(container, runner, feed, reports, dict(histories), clock())


def recompute(s: Seeded, agencies: set[str], w: sla.Window) -> sla.Bieu06:
    """Biểu 06 straight from the domain's own fold of each dossier, no view involved."""
    n: Counter[str] = Counter()
    for events in s.histories.values():
        final = fold(events)
        assert final is not None
        if final.receiving_agency_code not in agencies or final.imported:
            continue
        refused = final.status == Status.REFUSED
        # An online submission refused at intake counts as received and closed at the refusal.
        received_at = final.closed_at if refused else final.received_at
        if received_at is None:
            continue  # submitted online, not yet received: not on the form
        if w.contains(received_at):
            n[final.channel.value] += 1
        at_start = fold(events, as_of=w.start - _US)
        if at_start is not None and _in_process(at_start):
            n["carried_over"] += 1
        if final.resolved_at is not None and w.contains(final.resolved_at):
            assert final.timeliness is not None
            n[final.timeliness.value] += 1
        if final.status in TERMINAL - {Status.RETURNED} and final.closed_at and w.contains(final.closed_at):
            n["closed"] += 1
        at_end = fold(events, as_of=w.end - _US)
        if at_end is not None and _in_process(at_end):
            n["overdue" if at_end.is_overdue(w.end) else "within_due"] += 1
    return sla.Bieu06(
        online=n["online"],
        direct=n["direct"],
        postal=n["postal"],
        carried_over=n["carried_over"],
        early=n["early"],
        on_time=n["on_time"],
        late=n["late"],
        within_due=n["within_due"],
        overdue=n["overdue"],
        closed_without_result=n["closed"],
    )


def _in_process(state: Dossier) -> bool:
    return state.received_at is not None and state.resolved_at is None and not state.is_terminal


def _windows(s: Seeded) -> list[sla.Window]:
    tz = s.container.calendar.tz
    periods = [sla.window(*sla.reporting_period(2026, m), tz) for m in range(1, 9)]
    return [
        *periods,
        sla.window(*sla.reporting_period(2025, 2), tz),  # three-level days
        sla.window(date(2025, 1, 1), date(2026, 8, 28), tz),
        # Instants: the edges are counted from the fact rows, not the day buckets.
        sla.window(
            datetime.fromisoformat("2026-03-10T10:15+07:00"),
            datetime.fromisoformat("2026-05-20T15:40+07:00"),
            tz,
        ),
        sla.window(
            datetime.fromisoformat("2026-06-03T08:00+07:00"),
            datetime.fromisoformat("2026-06-03T16:00+07:00"),
            tz,
        ),
    ]


def test_bieu06_agrees_with_a_recomputation_from_the_domain_fold(seeded: Seeded) -> None:
    s = seeded
    tz = s.container.calendar.tz
    hierarchy = s.container.catalogue.hierarchy
    seen_late = seen_carried = seen_overdue = 0
    for w in _windows(s):
        first, last = w.days(tz)
        for root, children in ((PROVINCE, True), (AN_KHANH, False), (CENTRE, False), (THU_DUC, True)):
            report = s.reports.bieu06(root, w.start, w.end - _US, include_children=children)
            expected = recompute(s, set(sla.agencies_during(hierarchy, root, first, last, children)), w)
            assert report.form == expected, (root, w)
            form = report.form
            # Every dossier on the form ends in exactly one place.
            assert (
                form.received_total
                == form.resolved_total + form.in_process_total + form.closed_without_result
            )
            seen_late += form.late
            seen_carried += form.carried_over
            seen_overdue += form.overdue
    assert seen_late and seen_carried and seen_overdue  # the demo exercises every column


def test_the_district_reports_its_wards_only_while_it_existed(seeded: Seeded) -> None:
    s = seeded
    before = s.reports.bieu06(THU_DUC, date(2025, 1, 1), date(2025, 2, 28), include_children=True)
    assert THAO_DIEN in before.agencies and before.form.received_total > 0
    after = s.reports.bieu06(THU_DUC, date(2026, 1, 1), date(2026, 6, 30), include_children=True)
    # Its wards left it on 2025-07-01; District 2, which it succeeded in 2021, still rolls up
    # under it (an ended agency's history shows under its default heir: DOMAIN.md, succession).
    assert after.agencies == ("000.00.62.H29", THU_DUC) and after.form.received_total == 0


def test_a_catalogue_edit_shows_in_the_next_bieu06_without_a_rebuild(seeded: Seeded) -> None:
    """The desks of a subtree are kept between reports, but only for the catalogue they came from."""
    s = seeded
    new_desk = "000.99.00.H29"
    first, last = date(2026, 1, 1), date(2026, 6, 30)
    before = s.reports.bieu06(PROVINCE, first, last, include_children=True)
    assert new_desk not in before.agencies
    assert s.reports.bieu06(PROVINCE, first, last, include_children=True).agencies == before.agencies
    s.container.catalogue.put_agency(
        Agency(new_desk, "Sở thử nghiệm", AgencyLevel.PROVINCE_DEPARTMENT, PROVINCE, valid_from=first)
    )
    after = s.reports.bieu06(PROVINCE, first, last, include_children=True)
    assert set(after.agencies) == {*before.agencies, new_desk}


def test_sql_reports_equal_the_projection_over_all_facts(seeded: Seeded) -> None:
    """Counters and edge queries give what `projections.sla` computes from the facts."""
    s = seeded
    tz = s.container.calendar.tz
    hierarchy = s.container.catalogue.hierarchy
    with s.container.view_db.transaction() as tx:
        facts = list(SlaView(tz).load(tx, sorted(s.histories)).values())
    assert len(facts) == len(s.histories)
    by_agency: dict[str, list[sla.Tally]] = defaultdict(list)
    by_procedure: dict[str, list[sla.Tally]] = defaultdict(list)
    for f in facts:
        for t in sla.tallies(f):
            by_agency[t.agency_code].append(t)
            by_procedure[t.procedure_code].append(t)
    for w in _windows(s):
        first, last = w.days(tz)
        for scope in sla.SCOPES:

            def form(items: list[sla.Tally], w: sla.Window = w, scope: str = scope) -> sla.Bieu06:
                def between(start: datetime | None, end: datetime) -> sla.Sums:
                    return sla.sums_between(items, start, end, scope=scope)

                return sla.bieu06(between(None, w.start), between(w.start, w.end))

            for group_by in ("agency", "level", "procedure"):
                report = s.reports.sla(group_by, w.start, w.end - _US, scope=scope)
                late = sla.late_attributed_of(facts, w, hierarchy, tz, group_by=group_by)
                assert {r.group: r.late_attributed for r in report.rows if r.late_attributed} == late
                if group_by == "agency" and scope == sla.RECEIVED:
                    # The list behind the counts: the same steps, charged to the same agencies.
                    listed = s.reports.late_steps(None, w.start, w.end - _US, limit=1000)
                    assert listed.total == len(listed.items) == sum(late.values())
                    assert Counter(i.agency_code for i in listed.items) == late
                forms: dict[str, sla.Bieu06] = defaultdict(sla.Bieu06)
                if group_by == "procedure":
                    forms.update({code: form(items) for code, items in by_procedure.items()})
                for agency, items in by_agency.items() if group_by != "procedure" else ():
                    key = sla.level_during(hierarchy, agency, first, last) if group_by == "level" else agency
                    forms[key] = forms[key] + form(items)
                expected = {k: v for k, v in forms.items() if v != sla.Bieu06()}
                got = {r.group: r.form for r in report.rows if r.form != sla.Bieu06()}
                assert got == expected, (scope, group_by, w)


def _rows(s: Seeded) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in TABLES:
        rows = s.container.view_db.query(f"SELECT * FROM {table}")
        out[table] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out


def test_a_rebuild_equals_the_live_view_row_for_row(seeded: Seeded) -> None:
    s = seeded
    live = _rows(s)
    assert all(live[table] for table in TABLES)
    # One more dossier after the first feed, so the live view has seen two rounds.
    before = sum(1 for _ in live["sla_dossiers"])
    seed_demo(s.container.service, s.now, dossiers=20, seed=8)
    s.feed.catch_up()
    live = _rows(s)
    assert len(live["sla_dossiers"]) > before
    [result] = s.feed.rebuild(["sla"])
    assert result.events == s.container.store.max_notification_id()
    assert _rows(s) == live


def _receive(s: Seeded, procedure_code: str, at: str) -> str:
    dossier_id = str(uuid.uuid4())
    s.container.service.create(
        dossier_id=dossier_id,
        procedure_code=procedure_code,
        channel=Channel.DIRECT,
        applicant={"name": "Nguyễn Văn An", "id_number": "079200001234"},
        receiving_agency_code=None,
        actor=INTEGRATION,
        occurred_at=datetime.fromisoformat(at),
    )
    return dossier_id


def test_at_risk_lists_open_dossiers_by_remaining_working_time(seeded: Seeded) -> None:
    s = seeded
    cal = s.container.calendar
    # Overdue: a 4 h procedure received yesterday (Thu 27 Aug 2026) at 08:00, due 12:00... 13:30.
    late = _receive(s, "CT.01-2025", "2026-08-27T08:00:00+07:00")
    # Within its time: an 8 h procedure received today (Fri 28 Aug) at 13:00; at 14:00 it has
    # 3 h today and 4 h on Thu 3 Sep left (31 Aug - 2 Sep are National Day days off): 7 h.
    soon = _receive(s, "HT.03-2025", "2026-08-28T13:00:00+07:00")
    # Waiting for the citizen: its clock stopped with the hours it had left.
    waiting = _receive(s, "DD.01-2025", "2026-08-26T08:00:00+07:00")
    s.container.service.execute(
        waiting,
        lambda _s: cmd.RequestSupplement(
            actor=INTEGRATION, occurred_at=datetime.fromisoformat("2026-08-26T09:00:00+07:00"), reason="thiếu"
        ),
    )
    s.feed.catch_up()
    histories = {**s.histories}
    for dossier_id in (late, soon, waiting):
        histories[dossier_id] = [r.to_domain() for r in s.container.store.load(dossier_id)]

    items = s.reports.at_risk(PROVINCE, within_hours=80, now=s.now)
    expected = []
    for events in histories.values():
        state = fold(events)
        assert state is not None
        if not _in_process(state) or state.imported:
            continue
        remaining = state.remaining_at(cal, s.now)
        assert remaining is not None
        if remaining < 80:
            expected.append((state.receipt_code, round(remaining, 6)))
    assert len(expected) >= 3
    assert next(i for i in items if i.dossier_id == soon).remaining_working_hours == 7.0
    assert sorted(expected, key=lambda e: (e[1], e[0])) == [
        (i.receipt_code, round(i.remaining_working_hours, 6)) for i in items
    ]
    assert items[0].dossier_id == late and items[0].overdue
    paused = next(i for i in items if i.dossier_id == waiting)
    # DD.01-2025 has 80 h; paused after 1 h (08:00-09:00) with 79 h left, frozen since.
    assert paused.paused == "supplement" and paused.remaining_working_hours == 79.0
    assert paused.step_remaining_working_hours is None
    # A tighter threshold keeps the head of the same list.
    assert [i.dossier_id for i in s.reports.at_risk(PROVINCE, 0, s.now)] == [late]
    # An agency sees those it received or holds.
    desk = items[0].receiving_agency_code
    mine = s.reports.at_risk(desk, within_hours=80, now=s.now, include_children=False)
    assert late in {i.dossier_id for i in mine}
    assert all(desk in (i.holder_agency_code, i.receiving_agency_code) for i in mine)
    for i in items:
        if i.step_remaining_working_hours is not None:
            assert i.step_due_at is not None
            assert i.step_remaining_working_hours == working_hours_until(cal, s.now, i.step_due_at)


def test_the_report_renders_as_csv_with_a_bom_and_as_the_official_xlsx_form(
    seeded: Seeded, tmp_path: Path
) -> None:
    s = seeded
    report = s.reports.bieu06(PROVINCE, date(2026, 7, 15), date(2026, 8, 14), include_children=True)
    name = s.container.catalogue.hierarchy.latest(PROVINCE)
    assert name is not None
    data = render(report, "csv", s.container.catalogue)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, row = table[0], table[1]
    values = dict(zip(header, row, strict=True))
    form = report.form
    assert int(values["received_total"]) == form.received_total > 0
    assert int(values["resolved_late"]) == form.late
    assert values["agency_code"] == PROVINCE

    path = tmp_path / "bieu06.xlsx"
    path.write_bytes(render(report, "xlsx", s.container.catalogue))
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    cells = [[c for c in r if c is not None] for r in sheet.iter_rows(values_only=True)]
    if s.container.view_db.is_postgres:
        return  # the PDF is laid out from the same rows on either store: once is enough
    text = " ".join(str(c) for r in cells for c in r)
    assert "Biểu 06" in text and name.name in text and "15/07/2026" in text and "14/08/2026" in text
    numbers = next(r for r in cells if len(r) > 1 and r[1] == name.name)
    # No., agency; received online, direct, postal, carried over, total; resolved early, on time,
    # late, total; in process within due, overdue, total; closed without result; on-time rate (%).
    assert numbers[0] == 1
    assert numbers[2:15] == [
        form.online, form.direct, form.postal, form.carried_over, form.received_total,
        form.early, form.on_time, form.late, form.resolved_total,
        form.within_due, form.overdue, form.in_process_total, form.closed_without_result,
    ]  # fmt: skip
    assert form.on_time_rate is not None and numbers[15] == round(form.on_time_rate * 100, 2)
    # The title lines span the whole table: 16 columns, No. to on-time rate.
    assert {str(r) for r in sheet.merged_cells.ranges} >= {"A1:P1", "A2:P2", "C7:G7", "H7:K7", "L7:N7"}
    headings = {str(c) for r in cells[:9] for c in r}
    assert {"Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết", "Số hồ sơ đang giải quyết"} <= headings


def test_the_report_command_writes_csv_json_and_says_what_is_wrong(
    seeded: Seeded, backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = seeded
    for name, value in (
        ("LIENTHONG_ENV_FILE", str(tmp_path / "absent.env")),
        ("LIENTHONG_DATA_DIR", str(tmp_path / "var")),
        ("LIENTHONG_EVENT_STORE_URL", backend_url),
        ("LIENTHONG_JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LIENTHONG_KAFKA_BOOTSTRAP", raising=False)
    cli = typer.Typer()
    cli.command()(report)
    runner = CliRunner()
    out = tmp_path / "bieu06.csv"
    args = ["bieu06", "--agency", PROVINCE, "--include-children", "--period", "2026-08", "--format", "csv"]
    done = runner.invoke(cli, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    # The command judges at the real clock's now, like any report; the period is long over.
    expected = s.reports.bieu06(
        PROVINCE, date(2026, 7, 15), date(2026, 8, 14), include_children=True, now=datetime.now(UTC)
    ).form
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert (row["from"], row["to"]) == ("2026-07-15", "2026-08-14")
    assert int(row["received_total"]) == expected.received_total > 0
    assert int(row["resolved_total"]) == expected.resolved_total

    done = runner.invoke(
        cli, ["sla", "--group-by", "level", "--from", "2025-01-01", "--to", "2026-08-14", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    body = orjson.loads(done.stdout)
    grouped = s.reports.sla("level", date(2025, 1, 1), date(2026, 8, 14), now=datetime.now(UTC))
    assert body["items"] == sla_json(grouped, s.container.calendar.tz)["items"]
    assert "commune" in {item["group"] for item in body["items"]}

    done = runner.invoke(cli, ["bieu06", "--period", "2026-08"])
    assert done.exit_code == 2 and "--agency" in done.output
    done = runner.invoke(cli, ["bieu06", "--agency", PROVINCE, "--period", "2026-8"])
    assert done.exit_code == 2 and "YYYY-MM" in done.output


def test_the_official_bieu06_form_in_rows_by_field_totals_the_json_report(seeded: Seeded) -> None:
    s = seeded
    catalogue = s.container.catalogue
    quarter = sla.period("quarter", 2026, 2)  # 15 March to 14 June 2026, over before `now`
    official = official_bieu06(
        s.reports, PROVINCE, quarter.first, quarter.last, period=quarter, include_children=True, now=s.now
    )
    body = bieu06_json(official.report, s.container.calendar.tz)
    assert (body["from"], body["to"]) == ("2026-03-15", "2026-06-14")
    assert body["received"]["total"] > 0
    # The same query through the JSON report: one answer, whatever the format.
    assert body == bieu06_json(
        s.reports.bieu06(PROVINCE, quarter.first, quarter.last, include_children=True, now=s.now),
        s.container.calendar.tz,
    )

    data = render(official.report, "xlsx", catalogue, official=official)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Biểu 06", "Chi tiết"]
    sheet = book["Biểu 06"]
    rows = [[c for c in r if c is not None] for r in sheet.iter_rows(values_only=True)]
    header = " ".join(str(c) for r in rows[:6] for c in r)
    for text in (
        "Biểu số 06/VPCP/KSTT",
        "Ban hành kèm theo Thông tư số 01/2020/TT-VPCP ngày 21/10/2020",
        "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT",
        "Kỳ báo cáo: Quý II năm 2026",
        "(Từ ngày 15/03/2026 đến ngày 14/06/2026)",
        "- Đơn vị báo cáo: Ủy ban nhân dân Thành phố Hồ Chí Minh và các cơ quan, đơn vị trực thuộc",
        "- Đơn vị nhận báo cáo: Văn phòng Chính phủ",
        "Đơn vị tính: Số hồ sơ thủ tục hành chính",
    ):
        assert text in header, text
    assert rows[7][:5] == ["STT", "Lĩnh vực giải quyết", "Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết",
                           "Số hồ sơ đang giải quyết"]  # fmt: skip
    assert rows[8] == ["Tổng số", "Trong đó: số mới tiếp nhận", "Từ kỳ trước chuyển qua",
                       "Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn",
                       "Tổng số", "Trong hạn", "Quá hạn"]  # fmt: skip
    assert rows[9] == ["Trực tuyến", "Trực tiếp, dịch vụ bưu chính"]
    assert rows[10] == [f"({n})" for n in range(1, 14)]
    assert {str(r) for r in sheet.merged_cells.ranges} >= {
        "C8:F8",
        "G8:J8",
        "K8:M8",
        "D9:E9",
        "A8:A10",
        "B8:B10",
    }

    total_at = next(i for i, r in enumerate(rows) if len(r) > 1 and r[0] == "Tổng cộng")
    by_field = rows[11:total_at]
    fields = {p.field for p in catalogue.procedures()}
    assert len(by_field) >= 3 and [r[0] for r in by_field] == list(range(1, len(by_field) + 1))
    assert all(r[1] in fields for r in by_field)
    assert len({r[1] for r in by_field}) == len(by_field)  # one row per field
    r, d, p = body["received"], body["resolved"], body["in_process"]
    expected = [r["total"], r["online"], r["direct"] + r["postal"], r["carried_over"],
                d["total"], d["early"], d["on_time"], d["late"],
                p["total"], p["within_due"], p["overdue"]]  # fmt: skip
    assert rows[total_at][1:] == expected
    assert [sum(row[2 + k] for row in by_field) for k in range(11)] == expected
    # Each field's row is the sum of its procedures' rows in the SLA report by procedure.
    by_procedure = s.reports.sla(
        "procedure", quarter.first, quarter.last, agency_code=PROVINCE, include_children=True, now=s.now
    )
    first = by_field[0]
    codes = {pr.code for pr in catalogue.procedures() if pr.field == first[1]}
    forms = [row.form for row in by_procedure.rows if row.group in codes]
    assert first[2] == sum(f.received_total for f in forms) and first[6] == sum(
        f.resolved_total for f in forms
    )

    pdf = PdfReader(io.BytesIO(render(official.report, "pdf", catalogue, official=official)))
    text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    assert "Biểu số 06/VPCP/KSTT" in text and "Quý II năm 2026" in text and "Tổng cộng" in text
    assert all(str(row[1]).split()[0] in text for row in by_field)


def test_a_report_over_every_agency_seeks_its_edges_by_time(seeded: Seeded) -> None:
    """The part of a day that is not whole is counted from the fact rows by instant; with no
    agency to narrow it, the query must seek the instant, not scan every dossier and step."""
    s = seeded
    if not s.container.settings.resolved_view_store_url.startswith("sqlite"):
        pytest.skip("the plan is SQLite's; PostgreSQL plans by its own statistics")
    asked: list[tuple[str, Any]] = []
    query = s.reports.db.query

    def recording(statement: str, params: Any = ()) -> list[dict[str, Any]]:
        asked.append((statement, params))
        return query(statement, params)

    s.reports.db.query = recording  # type: ignore[method-assign]
    try:
        start = s.now - timedelta(hours=5)
        for scope in sla.SCOPES:
            s.reports._edge_counts(scope, None, [("d", start, s.now)], "procedure_code", False)
    finally:
        del s.reports.db.query
    assert len(asked) == len(sla.SCOPES)
    for statement, params in asked:
        plan = [str(r["detail"]) for r in query("EXPLAIN QUERY PLAN " + statement, params)]
        assert not [step for step in plan if step.startswith("SCAN")], plan
