"""Biểu 06 as the official form (Biểu số 06/VPCP/KSTT, Circular 01/2020/TT-VPCP): the agency's
counts in rows by field (lĩnh vực) with their total, the reporting and the receiving unit, and
the reporting period. What was confirmed of the form, and from where: docs/decisions.md."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from gateways.views.sla.reports import Bieu06Report, SlaReports
from projections.sla import Bieu06, ReportingPeriod

FORM_NUMBER = "Biểu số 06/VPCP/KSTT"
CIRCULAR = "Thông tư số 01/2020/TT-VPCP ngày 21/10/2020 của Văn phòng Chính phủ"
TITLE = (
    "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT "
    "THỦ TỤC HÀNH CHÍNH"
)
UNIT_OF_MEASURE = "Số hồ sơ thủ tục hành chính"
# Where a province (no parent in the catalogue) sends it: the reporting system of Circular 01/2020.
TOP_RECEIVER = "Văn phòng Chính phủ"
# The row of procedures the catalogue gives no field (imported history's, older catalogues), last.
NO_FIELD = "Lĩnh vực khác (thủ tục chưa ghi lĩnh vực)"


def imported_note(include_imported: bool) -> str:
    """What every rendering of a report says of imported legacy history (left out by default)."""
    if include_imported:
        return "gồm cả lịch sử hồ sơ nhập từ hệ thống cũ"
    return "không gồm lịch sử hồ sơ nhập từ hệ thống cũ"


@dataclass(frozen=True)
class FieldRow:
    field: str  # lĩnh vực
    form: Bieu06


@dataclass(frozen=True)
class OfficialBieu06:
    report: Bieu06Report  # the totals, as the JSON report has them
    rows: tuple[FieldRow, ...]
    reporting_unit: str  # đơn vị báo cáo
    receiving_unit: str  # đơn vị nhận báo cáo
    period: ReportingPeriod | None  # None: a range that is no reporting period

    @property
    def total(self) -> Bieu06:
        return self.report.form


# The letters the Vietnamese alphabet adds (a ă â … d đ … e ê … o ô ơ … u ư) rank after their
# base letter; tone marks (ngang, huyền, hỏi, ngã, sắc, nặng) only break ties, in that order.
_LETTER_MARKS = {"\u0306": "1", "\u0302": "2", "\u031b": "3"}  # breve, circumflex, horn
_TONES = {"\u0300": "1", "\u0309": "2", "\u0303": "3", "\u0301": "4", "\u0323": "5"}


def vietnamese_order(text: str) -> tuple[str, str, str]:
    """Sort key in the Vietnamese alphabet's order (a ă â b c d đ e ê … o ô ơ … u ư …): "Đất
    đai" comes after "Dược" and before "Giáo dục", "Ăn uống" after "An toàn" and before "Âm
    nhạc"; tones break ties only."""
    letters: list[str] = []
    tones: list[str] = []
    for ch in unicodedata.normalize("NFD", text.casefold()):
        if ch in _LETTER_MARKS and letters:
            letters[-1] = letters[-1][0] + _LETTER_MARKS[ch]
        elif ch in _TONES and tones:
            tones[-1] = _TONES[ch]
        elif not unicodedata.combining(ch):
            letters.append("d4" if ch == "đ" else ch + "0")
            tones.append("0")
    return "".join(letters), "".join(tones), text


def official_bieu06(
    reports: SlaReports,
    agency_code: str,
    first: date | datetime,
    last: date | datetime,
    *,
    period: ReportingPeriod | None = None,
    include_children: bool = False,
    scope: str = "received",
    include_imported: bool = False,
    now: datetime | None = None,
) -> OfficialBieu06:
    """Biểu 06 of `agency_code` with one row per field of the procedures it counted."""
    report = reports.bieu06(
        agency_code,
        first,
        last,
        include_children=include_children,
        scope=scope,
        include_imported=include_imported,
        now=now,
    )
    by_procedure = reports.sla(
        "procedure",
        first,
        last,
        agency_code=agency_code,
        include_children=include_children,
        scope=scope,
        include_imported=include_imported,
        now=now,
    )
    catalogue = reports.catalogue
    last_day = report.window.days(reports.tz)[1]
    fields: dict[str, Bieu06] = {}
    for row in by_procedure.rows:
        # The field of the version in force at the period's end, not of one dated later.
        procedure = catalogue.procedure(row.group, on=last_day) or catalogue.procedure(row.group)
        field = procedure.field if procedure is not None and procedure.field else NO_FIELD
        fields[field] = fields.get(field, Bieu06()) + row.form
    rows = tuple(
        FieldRow(field, form)
        for field, form in sorted(
            fields.items(), key=lambda item: (item[0] == NO_FIELD, vietnamese_order(item[0]))
        )
    )
    hierarchy = catalogue.hierarchy
    agency = hierarchy.on(agency_code, last_day) or hierarchy.latest(agency_code)
    unit = agency.name if agency else agency_code
    if include_children:
        unit += " và các cơ quan, đơn vị trực thuộc"
    parent = None
    if agency is not None and agency.parent_code:
        parent = hierarchy.on(agency.parent_code, last_day) or hierarchy.latest(agency.parent_code)
    receiver = parent.name if parent else TOP_RECEIVER
    return OfficialBieu06(report, rows, unit, receiver, period)
