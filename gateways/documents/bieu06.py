"""Biểu 06 laid out as the official form, as an xlsx sheet and as HTML for the PDF.

The header, the title, the unit of measure and the 13 columns follow Biểu số 06/VPCP/KSTT of
Circular 01/2020/TT-VPCP as far as it could be confirmed (docs/decisions.md): No.; field; the
dossiers received (total; new online; new in person or by post; from the previous period); the
dossiers resolved (total; early; on time; late); the dossiers in process (total; not yet due;
overdue). One row per field (lĩnh vực) and a total row, which equals the JSON report.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import time, timedelta, tzinfo
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gateways.documents.forms import dated, e, page
from gateways.documents.pdf import to_pdf
from gateways.views.sla.official import (
    CIRCULAR,
    FORM_NUMBER,
    TITLE,
    UNIT_OF_MEASURE,
    OfficialBieu06,
    imported_note,
)
from projections.sla import Bieu06

Value = Callable[[Bieu06], int]
# (group heading, sub-group heading or None, column heading, value), in the form's order.
_RECEIVED, _NEW = "Số hồ sơ nhận giải quyết", "Trong đó: số mới tiếp nhận"
_RESOLVED, _OPEN = "Số hồ sơ đã giải quyết", "Số hồ sơ đang giải quyết"
COLUMNS: list[tuple[str, str | None, str, Value]] = [
    (_RECEIVED, None, "Tổng số", lambda f: f.received_total),
    (_RECEIVED, _NEW, "Trực tuyến", lambda f: f.online),
    (_RECEIVED, _NEW, "Trực tiếp, dịch vụ bưu chính", lambda f: f.direct + f.postal),
    (_RECEIVED, None, "Từ kỳ trước chuyển qua", lambda f: f.carried_over),
    (_RESOLVED, None, "Tổng số", lambda f: f.resolved_total),
    (_RESOLVED, None, "Trước hạn", lambda f: f.early),
    (_RESOLVED, None, "Đúng hạn", lambda f: f.on_time),
    (_RESOLVED, None, "Quá hạn", lambda f: f.late),
    (_OPEN, None, "Tổng số", lambda f: f.in_process_total),
    (_OPEN, None, "Trong hạn", lambda f: f.within_due),
    (_OPEN, None, "Quá hạn", lambda f: f.overdue),
]
FIELD_HEADING = "Lĩnh vực giải quyết"
TOTAL = "Tổng cộng"
WIDTH = 2 + len(COLUMNS)


def values(form: Bieu06) -> list[int]:
    return [value(form) for *_, value in COLUMNS]


def _period_lines(official: OfficialBieu06, tz: tzinfo) -> tuple[str, str]:
    window = official.report.window
    last = window.end - timedelta(microseconds=1)
    span = f"Từ ngày {window.start.astimezone(tz):%d/%m/%Y} đến ngày {last.astimezone(tz):%d/%m/%Y}"
    label = official.period.label if official.period else "theo khoảng thời gian"
    return f"Kỳ báo cáo: {label}", f"({span})"


def _judged(official: OfficialBieu06, tz: tzinfo) -> str:
    judged = official.report.judged_at.astimezone(tz)
    day_ended = judged.time() == time() and judged == official.report.window.end
    until = (
        f"hết ngày {(judged - timedelta(days=1)):%d/%m/%Y}"
        if day_ended
        else f"{judged:%H:%M} ngày {judged:%d/%m/%Y}"
    )
    scope = "hồ sơ tiếp nhận tại cơ quan" if official.report.scope == "received" else "lượt xử lý của cơ quan"
    return f"Số liệu tính đến {until}; phạm vi: {scope}; {imported_note(official.report.include_imported)}."


def _closed_note(official: OfficialBieu06) -> str | None:
    """The form has no column for dossiers closed without a result (withdrawn, stopped,
    refused): received (3) = resolved (7) + in process (11) + those. Said under the table."""
    closed = official.total.closed_without_result
    if not closed:
        return None
    return (
        f"Cột (3) gồm cả {closed} hồ sơ đã rút, dừng hoặc bị từ chối (không có kết quả), "
        "không thuộc cột (7) và (11)."
    )


def write_sheet(sheet: Worksheet, official: OfficialBieu06, tz: tzinfo) -> None:
    """The form on `sheet`: header lines 1–6, column headings 8–10, numbers 11, rows from 12."""
    bold, centre = Font(bold=True), Alignment(horizontal="center", vertical="center", wrap_text=True)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)

    def put(
        row: int, first: int, last: int, text: str, *, strong: bool = False, align: str = "center"
    ) -> None:
        if last > first:
            sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
        cell = sheet.cell(row=row, column=first, value=text)
        cell.font = Font(bold=strong)
        cell.alignment = Alignment(horizontal=align, vertical="top", wrap_text=True)

    period, span = _period_lines(official, tz)
    put(1, 1, 3, FORM_NUMBER, strong=True, align="left")
    put(2, 1, 3, f"Ban hành kèm theo {CIRCULAR}", align="left")
    put(1, 4, 10, TITLE, strong=True)
    put(2, 4, 10, period, strong=True)
    put(3, 4, 10, span)
    put(1, 11, WIDTH, f"- Đơn vị báo cáo: {official.reporting_unit}", align="left")
    put(2, 11, WIDTH, f"- Đơn vị nhận báo cáo: {official.receiving_unit}", align="left")
    put(5, 1, WIDTH, f"Đơn vị tính: {UNIT_OF_MEASURE}", align="right")
    sheet.row_dimensions[1].height = 48
    top, middle, sub = 8, 9, 10
    for column, heading in ((1, "STT"), (2, FIELD_HEADING)):
        sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
        sheet.cell(row=top, column=column, value=heading)
    column = 3
    while column - 3 < len(COLUMNS):
        group = COLUMNS[column - 3][0]
        span_cols = [c for c in COLUMNS if c[0] == group]
        sheet.merge_cells(
            start_row=top, start_column=column, end_row=top, end_column=column + len(span_cols) - 1
        )
        sheet.cell(row=top, column=column, value=group)
        offset = 0
        while offset < len(span_cols):
            _, subgroup, heading, _ = span_cols[offset]
            here = column + offset
            if subgroup is None:
                sheet.merge_cells(start_row=middle, start_column=here, end_row=sub, end_column=here)
                sheet.cell(row=middle, column=here, value=heading)
                offset += 1
                continue
            width = sum(1 for c in span_cols if c[1] == subgroup)
            sheet.merge_cells(
                start_row=middle, start_column=here, end_row=middle, end_column=here + width - 1
            )
            sheet.cell(row=middle, column=here, value=subgroup)
            for k in range(width):
                sheet.cell(row=sub, column=here + k, value=span_cols[offset + k][2])
            offset += width
        column += len(span_cols)
    for index in range(1, WIDTH + 1):
        sheet.cell(row=sub + 1, column=index, value=f"({index})")
    row = sub + 2
    lines: list[list[Any]] = [[n, r.field, *values(r.form)] for n, r in enumerate(official.rows, start=1)]
    lines.append(["", TOTAL, *values(official.total)])
    for line in lines:
        for index, value in enumerate(line, start=1):
            sheet.cell(row=row, column=index, value=value)
        row += 1
    for cells in sheet.iter_rows(min_row=top, max_row=row - 1, max_col=WIDTH):
        for cell in cells:
            cell.border = box
            cell.alignment = centre if cell.column != 2 or cell.row <= sub + 1 else Alignment(wrap_text=True)
            if cell.row <= sub + 1 or cell.row == row - 1:
                cell.font = bold
    put(row + 1, 1, WIDTH, _judged(official, tz), align="left")
    closed = _closed_note(official)
    if closed:
        put(row + 2, 1, WIDTH, closed, align="left")
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 36
    for index in range(3, WIDTH + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 12


def xlsx(official: OfficialBieu06, tz: tzinfo, detail: Callable[[Worksheet], None] | None = None) -> bytes:
    """The workbook: the form first; `detail` may fill a second sheet (channels apart, etc.)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Biểu 06"
    write_sheet(sheet, official, tz)
    if detail is not None:
        detail(book.create_sheet("Chi tiết"))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def html(official: OfficialBieu06, tz: tzinfo) -> str:
    period, span = _period_lines(official, tz)
    groups: list[tuple[str, int]] = []
    for group, *_ in COLUMNS:
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + 1)
        else:
            groups.append((group, 1))
    head_top = "".join(f'<th colspan="{n}">{e(g)}</th>' for g, n in groups)
    head_middle, head_sub, seen = "", "", set()
    for _, subgroup, heading, _ in COLUMNS:
        if subgroup is None:
            head_middle += f'<th rowspan="2">{e(heading)}</th>'
        else:
            if subgroup not in seen:
                seen.add(subgroup)
                width = sum(1 for c in COLUMNS if c[1] == subgroup)
                head_middle += f'<th colspan="{width}">{e(subgroup)}</th>'
            head_sub += f"<th>{e(heading)}</th>"
    numbers = "".join(f"<td class='n'>({i})</td>" for i in range(1, WIDTH + 1))
    body = "".join(
        f"<tr><td class='n'>{n}</td><td>{e(r.field)}</td>"
        + "".join(f"<td class='num'>{v}</td>" for v in values(r.form))
        + "</tr>"
        for n, r in enumerate(official.rows, start=1)
    )
    total = (
        f"<tr class='total'><td></td><td>{TOTAL}</td>"
        + "".join(f"<td class='num'>{v}</td>" for v in values(official.total))
        + "</tr>"
    )
    today = dated(official.report.judged_at, tz)
    note = _closed_note(official)
    closed = f'\n<p class="italic">{e(note)}</p>' if note else ""
    content = f"""
<table class="b06-head"><tr>
  <td class="number"><div class="bold">{e(FORM_NUMBER)}</div>
    <div class="italic">Ban hành kèm theo {e(CIRCULAR)}</div></td>
  <td class="center"><div class="bold">{e(TITLE)}</div>
    <div class="bold">{e(period)}</div><div>{e(span)}</div></td>
  <td class="units"><div>- Đơn vị báo cáo: {e(official.reporting_unit)}</div>
    <div>- Đơn vị nhận báo cáo: {e(official.receiving_unit)}</div></td>
</tr></table>
<p class="unit italic">Đơn vị tính: {e(UNIT_OF_MEASURE)}</p>
<table class="grid b06">
<thead>
<tr><th rowspan="3" class="n">STT</th><th rowspan="3">{FIELD_HEADING}</th>{head_top}</tr>
<tr>{head_middle}</tr>
<tr>{head_sub}</tr>
<tr>{numbers}</tr>
</thead>
<tbody>{body}{total}</tbody>
</table>
<p class="italic">{e(_judged(official, tz))}</p>{closed}
<table class="b06-head"><tr><td class="blank"></td>
<td class="center"><div class="italic">{e(today.capitalize())}</div>
  <div class="bold">Người làm báo cáo</div></td></tr></table>
"""
    return page("bieu06", "Biểu 06", content, landscape=True)


def pdf(official: OfficialBieu06, tz: tzinfo) -> bytes:
    return to_pdf(html(official, tz))
