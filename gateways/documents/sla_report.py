"""Biểu 06 and SLA reports rendered: a text table, CSV, JSON, the spreadsheet and the official
form (xlsx, PDF), for the command line and the HTTP reports alike.

CSV starts with a UTF-8 BOM so spreadsheet programs show Vietnamese; the xlsx follows the
layout of Biểu 06 of Circular 01/2020/TT-VPCP (title, agency, period, the column groups).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from rich.console import Console
from rich.table import Table

from domain.errors import InvalidValue
from gateways.catalogue import Catalogue
from gateways.documents import bieu06 as bieu06_form
from gateways.http.report_presenters import bieu06_json, range_json, sla_json
from gateways.views.sla import Bieu06Report, SlaReport
from gateways.views.sla.official import OfficialBieu06, imported_note
from projections.sla import Bieu06

FORMATS = ("table", "csv", "json", "xlsx", "pdf")
LEVEL_NAMES = {
    "commune": "Cấp xã",
    "district": "Cấp huyện",
    "province": "Cấp tỉnh",
    "province_department": "Sở, ban, ngành",
    "province_centre": "Trung tâm Phục vụ hành chính công",
    "ministry": "Bộ, ngành",
}
# (group heading, [(column heading, value of the form)]) in the order of the official form.
COLUMN_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Số hồ sơ nhận giải quyết",
        [
            ("Trực tuyến", "online"),
            ("Trực tiếp", "direct"),
            ("Bưu chính", "postal"),
            ("Kỳ trước chuyển qua", "carried_over"),
            ("Tổng số", "received_total"),
        ],
    ),
    (
        "Số hồ sơ đã giải quyết",
        [
            ("Trước hạn", "early"),
            ("Đúng hạn", "on_time"),
            ("Quá hạn", "late"),
            ("Tổng số", "resolved_total"),
        ],
    ),
    (
        "Số hồ sơ đang giải quyết",
        [("Trong hạn", "within_due"), ("Quá hạn", "overdue"), ("Tổng số", "in_process_total")],
    ),
]
CSV_COLUMNS = [
    ("received_online", "online"),
    ("received_direct", "direct"),
    ("received_postal", "postal"),
    ("received_carried_over", "carried_over"),
    ("received_total", "received_total"),
    ("resolved_early", "early"),
    ("resolved_on_time", "on_time"),
    ("resolved_late", "late"),
    ("resolved_total", "resolved_total"),
    ("in_process_within_due", "within_due"),
    ("in_process_overdue", "overdue"),
    ("in_process_total", "in_process_total"),
    ("closed_without_result", "closed_without_result"),
]

Report = Bieu06Report | SlaReport


def _rows(report: Report, catalogue: Catalogue) -> list[tuple[str, str, Bieu06, int | None]]:
    """(code, name, form, late steps) for each line of the report."""
    hierarchy = catalogue.hierarchy

    def agency_name(code: str) -> str:
        agency = hierarchy.latest(code)
        return agency.name if agency else code

    if isinstance(report, Bieu06Report):
        return [(report.agency_code, agency_name(report.agency_code), report.form, None)]
    names: dict[str, str] = {}
    for row in report.rows:
        if report.group_by == "agency":
            names[row.group] = agency_name(row.group)
        elif report.group_by == "level":
            names[row.group] = LEVEL_NAMES.get(row.group, row.group)
        else:
            procedure = catalogue.procedure(row.group)
            names[row.group] = procedure.name if procedure else row.group
    return [(row.group, names[row.group], row.form, row.late_attributed) for row in report.rows]


def _rate(form: Bieu06) -> float | None:
    rate = form.on_time_rate
    return round(rate * 100, 2) if rate is not None else None


def _csv(report: Report, catalogue: Catalogue, tz: tzinfo) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    key = "agency_code" if isinstance(report, Bieu06Report) else "group"
    late = [] if isinstance(report, Bieu06Report) else ["late_attributed"]
    writer.writerow(
        [
            key,
            "name",
            "from",
            "to",
            "scope",
            "include_imported",
            *(c for c, _ in CSV_COLUMNS),
            "on_time_rate",
            *late,
        ]
    )
    span = range_json(report.window, tz)
    for code, name, form, late_steps in _rows(report, catalogue):
        rate = form.on_time_rate
        writer.writerow(
            [
                code,
                name,
                span["from"],
                span["to"],
                report.scope,
                "true" if report.include_imported else "false",
                *(getattr(form, attr) for _, attr in CSV_COLUMNS),
                "" if rate is None else f"{rate:.4f}",
                *([late_steps] if late else []),
            ]
        )
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def _json(report: Report, tz: tzinfo) -> bytes:
    body = bieu06_json(report, tz) if isinstance(report, Bieu06Report) else sla_json(report, tz)
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def _day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%d/%m/%Y")


def _xlsx(report: Report, catalogue: Catalogue, tz: tzinfo) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Biểu 06"
    _detail(sheet, report, catalogue, tz)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _detail(sheet: Worksheet, report: Report, catalogue: Catalogue, tz: tzinfo) -> None:
    """The counts with every channel and the closed dossiers apart, one line per agency or group."""
    late = isinstance(report, SlaReport)
    # No., name, the column groups, closed without result, on-time rate (, late steps).
    width = 2 + sum(len(cols) for _, cols in COLUMN_GROUPS) + 2 + (1 if late else 0)
    bold, centre = Font(bold=True), Alignment(horizontal="center", vertical="center", wrap_text=True)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)

    def line(row: int, text: str, size: int = 11, strong: bool = False) -> None:
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = sheet.cell(row=row, column=1, value=text)
        cell.font = Font(bold=strong, size=size)
        cell.alignment = Alignment(horizontal="center")

    line(1, "Biểu 06 — ban hành kèm theo Thông tư số 01/2020/TT-VPCP", 10)
    line(2, "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", 14, strong=True)
    if isinstance(report, Bieu06Report):
        agency = catalogue.hierarchy.latest(report.agency_code)
        unit = agency.name if agency else report.agency_code
        if report.include_children:
            unit += " và các cơ quan, đơn vị trực thuộc"
        line(3, f"Cơ quan, đơn vị: {unit} ({report.agency_code})")
    else:
        by = {"agency": "cơ quan, đơn vị", "level": "cấp hành chính", "procedure": "thủ tục hành chính"}
        line(3, f"Tổng hợp theo {by[report.group_by]}")
    end = report.window.end - timedelta(microseconds=1)
    line(4, f"Kỳ báo cáo: từ ngày {_day(report.window.start, tz)} đến ngày {_day(end, tz)}")
    judged = report.judged_at.astimezone(tz)
    scope = "hồ sơ tiếp nhận tại cơ quan" if report.scope == "received" else "lượt xử lý của cơ quan"
    imported = imported_note(report.include_imported)
    line(5, f"Số liệu tính đến {judged:%H:%M} ngày {judged:%d/%m/%Y}; phạm vi: {scope}; {imported}", 10)

    top, sub = 7, 8
    by_procedure = isinstance(report, SlaReport) and report.group_by == "procedure"
    first_heading = "Thủ tục hành chính" if by_procedure else "Đơn vị"
    for column, heading in ((1, "STT"), (2, first_heading)):
        sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
        sheet.cell(row=top, column=column, value=heading)
    column = 3
    for heading, cols in COLUMN_GROUPS:
        sheet.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + len(cols) - 1)
        sheet.cell(row=top, column=column, value=heading)
        for offset, (name, _) in enumerate(cols):
            sheet.cell(row=sub, column=column + offset, value=name)
        column += len(cols)
    tail = ["Rút, dừng, từ chối (không có kết quả)", "Tỷ lệ đúng hạn (%)"]
    if late:
        tail.append("Số bước xử lý quá hạn (quy trách nhiệm)")
    for heading in tail:
        sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
        sheet.cell(row=top, column=column, value=heading)
        column += 1
    for index in range(1, width + 1):
        sheet.cell(row=sub + 1, column=index, value=f"({index})")
    row = sub + 2
    for number, (_, name, form, late_steps) in enumerate(_rows(report, catalogue), start=1):
        values: list[Any] = [number, name]
        values += [getattr(form, attr) for _, cols in COLUMN_GROUPS for _, attr in cols]
        values += [form.closed_without_result, _rate(form) if form.on_time_rate is not None else "—"]
        if late:
            values.append(late_steps)
        for index, value in enumerate(values, start=1):
            sheet.cell(row=row, column=index, value=value)
        row += 1
    for cells in sheet.iter_rows(min_row=top, max_row=row - 1, max_col=width):
        for cell in cells:
            cell.border = box
            cell.alignment = centre
            if cell.row in (top, sub, sub + 1):
                cell.font = bold
    sheet.column_dimensions["B"].width = 42
    for index in range(3, width + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 12


def _table(report: Report, catalogue: Catalogue, tz: tzinfo) -> bytes:
    span = range_json(report.window, tz)
    table = Table(
        title=f"Biểu 06 · {span['from']} → {span['to']} · {report.scope}",
        caption=imported_note(report.include_imported),
    )
    table.add_column("Đơn vị / nhóm")
    for _, cols in COLUMN_GROUPS:
        for name, _ in cols:
            table.add_column(name, justify="right")
    table.add_column("Không KQ", justify="right")
    table.add_column("Đúng hạn %", justify="right")
    late = isinstance(report, SlaReport)
    if late:
        table.add_column("Bước quá hạn", justify="right")
    for _, name, form, late_steps in _rows(report, catalogue):
        rate = _rate(form)
        cells = [str(getattr(form, attr)) for _, cols in COLUMN_GROUPS for _, attr in cols]
        extra = [str(late_steps)] if late else []
        table.add_row(
            name, *cells, str(form.closed_without_result), "—" if rate is None else f"{rate:.2f}", *extra
        )
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table)
    return console.export_text().encode("utf-8")


def render(
    report: Report,
    fmt: str,
    catalogue: Catalogue,
    tz: tzinfo | None = None,
    official: OfficialBieu06 | None = None,
) -> bytes:
    """The report in one of FORMATS, as bytes ready for a file or standard output. With
    `official` (Biểu 06 by field), xlsx is the official form with the detail on a second sheet,
    and pdf is the official form."""
    zone = tz or report.window.start.tzinfo
    assert zone is not None
    if official is not None and fmt == "xlsx":
        return bieu06_form.xlsx(official, zone, detail=lambda sheet: _detail(sheet, report, catalogue, zone))
    if fmt == "pdf":
        if official is None:
            raise InvalidValue("pdf is the official Biểu 06 form: report bieu06 --format pdf")
        return bieu06_form.pdf(official, zone)
    if fmt == "csv":
        return _csv(report, catalogue, zone)
    if fmt == "json":
        return _json(report, zone)
    if fmt == "xlsx":
        return _xlsx(report, catalogue, zone)
    if fmt == "table":
        return _table(report, catalogue, zone)
    raise InvalidValue(f"format must be one of {', '.join(FORMATS)}")
