"""The printed forms of the one-stop desk as print-ready HTML (A4, Vietnamese, national heading).

Which form follows which model of the one-stop regulations, and what is left out, is recorded
in docs/decisions.md ("Printed forms"). Every value is escaped; nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape
from importlib import resources

from gateways.documents.facts import Facts, Notice
from gateways.documents.qr import qr_svg

KINDS = ("receipt", "supplement", "refusal", "apology", "control-sheet")

# Only form numbers confirmed from the text are printed (docs/decisions.md); None prints none.
CIRCULAR = "Thông tư số 01/2018/TT-VPCP"
FORM_NUMBERS: dict[str, str | None] = {
    "receipt": None,
    "supplement": "Mẫu số 02",
    "refusal": None,
    "apology": None,
    "control-sheet": None,
    "register": None,
}
TITLES = {
    "receipt": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "supplement": "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
    "refusal": "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
    "apology": "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
    "control-sheet": "Phiếu kiểm soát quá trình giải quyết hồ sơ",
    "register": "Sổ theo dõi hồ sơ",
}
TIMELINESS = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
STATUSES = {
    "submitted": "Chờ tiếp nhận",
    "received": "Đã tiếp nhận",
    "refused": "Từ chối tiếp nhận",
    "in_process": "Đang giải quyết",
    "awaiting_supplement": "Chờ bổ sung",
    "awaiting_fee": "Chờ nộp phí",
    "result_ready": "Có kết quả",
    "returned": "Đã trả kết quả",
    "withdrawn": "Rút hồ sơ",
    "stopped": "Dừng giải quyết",
}
CHANNELS = {"online": "trực tuyến", "direct": "trực tiếp", "postal": "qua dịch vụ bưu chính"}


@dataclass(frozen=True)
class Lookup:
    """The citizen lookup printed on the receipt: where, and the secret when it is known."""

    url: str
    secret: str | None = None


def _css() -> str:
    return resources.files("gateways.documents").joinpath("forms.css").read_text(encoding="utf-8")


def e(value: object) -> str:
    return escape("" if value is None else str(value))


def when(value: datetime | None, tz: tzinfo) -> str:
    """`09 giờ 30 phút, ngày 02/03/2026` (local time), or dots to fill by hand."""
    if value is None:
        return "…………"
    local = value.astimezone(tz)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def day(value: datetime | None, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%d/%m/%Y") if value else "…………"


def dated(value: datetime, tz: tzinfo) -> str:
    """The date line: a day below 10 and a month below 3 take a leading zero (Decree 30/2020/NĐ-CP)."""
    local = value.astimezone(tz)
    month = f"{local.month:02d}" if local.month < 3 else str(local.month)
    return f"ngày {local.day:02d} tháng {month} năm {local.year}"


def _heading(agency_name: str, parent_name: str, number: str, on: datetime, tz: tzinfo) -> str:
    parent = f'<div class="upper">{e(parent_name)}</div>' if parent_name else ""
    return f"""
<table class="heading"><tr>
  <td class="left">{parent}<div class="upper bold">{e(agency_name)}</div><div class="rule short"></div>
    <div>{e(number)}</div></td>
  <td class="right"><div class="bold">CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</div>
    <div class="bold">Độc lập - Tự do - Hạnh phúc</div><div class="rule"></div>
    <div class="italic">{e(dated(on, tz).capitalize())}</div></td>
</tr></table>"""


def _form_line(kind: str) -> str:
    number = FORM_NUMBERS.get(kind)
    if not number:
        return ""
    return f'<div class="form-no">{e(number)} ({e(CIRCULAR)})</div>'


def page(kind: str, title: str, body: str, *, landscape: bool = False) -> str:
    size = "A4 landscape" if landscape else "A4"
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>@page {{ size: {size}; margin: 15mm 15mm 15mm 20mm; }}
{_css()}</style></head>
<body class="form form-{e(kind)}">
{_form_line(kind)}
{body}
</body></html>"""


def _signatures(*columns: tuple[str, str, str]) -> str:
    cells = "".join(
        f'<td><div class="bold upper">{e(role)}</div><div class="italic">{e(hint)}</div>'
        f'<div class="sign-space"></div><div class="bold">{e(name)}</div></td>'
        for role, hint, name in columns
    )
    return f'<table class="signatures"><tr>{cells}</tr></table>'


def _applicant(f: Facts) -> tuple[str, str, str]:
    a = f.applicant or {}
    name = a.get("name") or "(dữ liệu cá nhân đã được xóa theo yêu cầu)"
    return str(name), str(a.get("address") or "…………"), str(a.get("phone") or "…………")


def _title(kind: str, code: str | None = None) -> str:
    line = f'<div class="code">Mã hồ sơ: <b>{e(code)}</b></div>' if code else ""
    return f"<h1>{e(TITLES[kind].upper())}</h1>{line}"


def receipt(f: Facts, tz: tzinfo, lookup: Lookup, deadline_working_hours: float) -> str:
    name, address, phone = _applicant(f)
    assert f.received_at is not None
    days = deadline_working_hours / 8
    span = f"{days:g} ngày làm việc" if days >= 1 else f"{deadline_working_hours:g} giờ làm việc"
    secret = (
        f'<p>Mã bí mật tra cứu: <b class="secret">{e(lookup.secret)}</b> '
        "(chỉ in một lần trên giấy này; giữ kín, không cho người khác biết).</p>"
        if lookup.secret
        else "<p>Mã bí mật tra cứu được cấp một lần khi tiếp nhận hồ sơ "
        "(tin nhắn hoặc giấy in lúc tiếp nhận); giấy in lại không ghi mã bí mật. "
        "Nếu mất mã, đề nghị liên hệ bộ phận tiếp nhận.</p>"
    )
    body = f"""
{_heading(f.receiving_agency_name, f.parent_agency_name, "", f.received_at, tz)}
{_title("receipt", f.receipt_code)}
<p>{e(f.receiving_agency_name)} tiếp nhận hồ sơ của: <b>{e(name)}</b></p>
<p>Địa chỉ: {e(address)}</p>
<p>Số điện thoại: {e(phone)}</p>
<p>Nội dung yêu cầu giải quyết: {e(f.procedure_name)} (mã thủ tục {e(f.procedure_code)}),
  nộp {e(CHANNELS.get(f.channel, f.channel))}.</p>
<p>1. Thành phần hồ sơ nộp gồm:</p>
<table class="grid"><thead><tr><th class="n">TT</th><th>Tên giấy tờ</th><th class="n">Bản chính</th>
  <th class="n">Bản sao</th><th class="n">Bản chụp</th></tr></thead>
<tbody>{
        "".join(f'<tr><td class="n">{i}</td><td></td><td></td><td></td><td></td></tr>' for i in (1, 2, 3))
    }</tbody>
</table>
<p>2. Số lượng hồ sơ: 01 (bộ)</p>
<p>3. Thời gian giải quyết hồ sơ theo quy định là: {e(span)}</p>
<p>4. Thời gian nhận hồ sơ: <b>{e(when(f.received_at, tz))}</b></p>
<p>5. Thời gian trả kết quả giải quyết hồ sơ: <b class="due">{e(when(f.due_at, tz))}</b></p>
<p>6. Đăng ký nhận kết quả tại: {e(f.receiving_agency_name)}</p>
<table class="lookup"><tr><td class="qr">{qr_svg(lookup.url)}</td><td>
  <p class="bold">Tra cứu tình trạng hồ sơ</p>
  <p>Quét mã QR hoặc truy cập: <span class="url">{e(lookup.url)}</span></p>
  <p>Mã hồ sơ: <b>{e(f.receipt_code)}</b></p>{secret}</td></tr></table>
{
        _signatures(
            ("Người nộp hồ sơ", "(Ký và ghi rõ họ tên)", name),
            ("Người tiếp nhận hồ sơ", "(Ký và ghi rõ họ tên)", f.received_by),
        )
    }"""
    return page("receipt", TITLES["receipt"], body)


def _notice_intro(f: Facts, tz: tzinfo) -> str:
    name, address, phone = _applicant(f)
    return f"""
<p>Hồ sơ của: <b>{e(name)}</b></p>
<p>Nội dung yêu cầu giải quyết: {e(f.procedure_name)} (mã thủ tục {e(f.procedure_code)})</p>
<p>Địa chỉ: {e(address)}</p>
<p>Số điện thoại: {e(phone)}</p>
<p>Ngày tiếp nhận: {e(when(f.received_at, tz))};
  ngày hẹn trả kết quả: <b class="due">{e(when(f.due_at, tz))}</b></p>"""


def supplement(f: Facts, tz: tzinfo, notice: Notice, agency_name: str, parent_name: str) -> str:
    body = f"""
{_heading(agency_name, parent_name, "", notice.at, tz)}
{_title("supplement", f.receipt_code)}
{_notice_intro(f, tz)}
<p>Ngày {e(day(notice.at, tz))}, {e(agency_name)} yêu cầu Ông/Bà bổ sung, hoàn thiện hồ sơ gồm
  những nội dung sau:</p>
<div class="box">{e(notice.reason)}</div>
<p>Thời gian giải quyết hồ sơ tạm dừng từ khi có phiếu này đến khi Ông/Bà nộp đủ hồ sơ bổ sung.</p>
<p>Trong quá trình hoàn thiện hồ sơ nếu có vướng mắc, Ông/Bà liên hệ {e(agency_name)}
  (người hướng dẫn ghi dưới đây) để được hướng dẫn./.</p>
{_signatures(("Người hướng dẫn", "(Ký và ghi rõ họ tên)", notice.officer.user))}"""
    return page("supplement", TITLES["supplement"], body)


def refusal(f: Facts, tz: tzinfo, notice: Notice) -> str:
    name, _address, _phone = _applicant(f)
    body = f"""
{_heading(f.receiving_agency_name, f.parent_agency_name, "", notice.at, tz)}
{_title("refusal", f.receipt_code)}
<p>{e(f.receiving_agency_name)} tiếp nhận hồ sơ của: <b>{e(name)}</b></p>
<p>Nội dung yêu cầu giải quyết: {e(f.procedure_name)} (mã thủ tục {e(f.procedure_code)})</p>
<p>Qua xem xét, {e(f.receiving_agency_name)} thông báo không tiếp nhận, giải quyết hồ sơ này
  với lý do cụ thể như sau:</p>
<div class="box">{e(notice.reason)}</div>
<p>Xin thông báo cho Ông/Bà được biết và thực hiện./.</p>
{_signatures(("Người tiếp nhận hồ sơ", "(Ký và ghi rõ họ tên)", notice.officer.user))}"""
    return page("refusal", TITLES["refusal"], body)


def apology(f: Facts, tz: tzinfo, notice: Notice, agency_name: str, parent_name: str) -> str:
    name, _address, _phone = _applicant(f)
    body = f"""
{_heading(agency_name, parent_name, "", notice.at, tz)}
{_title("apology", f.receipt_code)}
<p class="center">Kính gửi: <b>{e(name)}</b></p>
<p>Ngày {e(day(f.received_at, tz))}, {e(f.receiving_agency_name)} tiếp nhận giải quyết hồ sơ của
  Ông/Bà, mã hồ sơ <b>{e(f.receipt_code)}</b>, nội dung yêu cầu giải quyết: {e(f.procedure_name)}.</p>
<p>Thời gian hẹn trả kết quả giải quyết hồ sơ: <b class="due">{e(when(f.due_at, tz))}</b>.</p>
<p>Tuy nhiên đến nay, {e(agency_name)} chưa trả kết quả giải quyết hồ sơ của Ông/Bà.</p>
<p>Lý do:</p>
<div class="box">{e(notice.reason)}</div>
<p>Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {e(agency_name)} xin lỗi Ông/Bà và sẽ trả kết quả
  giải quyết hồ sơ cho Ông/Bà vào: <b class="new-due">{e(when(notice.new_due_at, tz))}</b>.</p>
<p>Kính mong nhận được sự thông cảm của Ông/Bà./.</p>
{
        _signatures(
            ("Thủ trưởng cơ quan", "(Ký, ghi rõ họ tên và đóng dấu)", ""),
            ("Người lập phiếu", "(Ký và ghi rõ họ tên)", notice.officer.user),
        )
    }"""
    return page("apology", TITLES["apology"], body)


def control_sheet(f: Facts, tz: tzinfo, now: datetime) -> str:
    name, _address, phone = _applicant(f)
    rows = []
    for i, s in enumerate(f.steps, start=1):
        returned = (
            f'<div class="note">Trả lại {e(when(s.returned_at, tz))}: {e(s.return_reason)}</div>'
            if s.returned_at
            else ""
        )
        taken = when(s.accepted_at, tz) if s.accepted_at else "(chưa nhận)"
        rows.append(
            f"""<tr><td class="n">{i}</td>
<td><div>Giao: <b>{e(s.from_agency_name)}</b></div><div>Nhận: <b>{e(s.to_agency_name)}</b></div></td>
<td><div>Giao: {e(when(s.handed_at, tz))}</div><div>Nhận: {e(taken)}</div>{returned}</td>
<td class="sig"><div class="sign-small"></div>{e(s.handed_by)}</td>
<td class="sig"><div class="sign-small"></div>{e(s.accepted_by)}</td>
<td>{e(TIMELINESS.get(s.step_timeliness or "", ""))}</td><td>{e(s.note)}</td></tr>"""
        )
    if not rows:
        rows.append('<tr><td colspan="7" class="center italic">Hồ sơ chưa được chuyển giao.</td></tr>')
    promised = (
        "<p>Hẹn lại ngày trả kết quả (phiếu xin lỗi): "
        f'<b class="new-due">{e(when(f.promised_at, tz))}</b></p>'
        if f.promised_at
        else ""
    )
    outcome = (
        f"<p>Kết quả giải quyết hồ sơ: {e(TIMELINESS.get(f.timeliness or '', ''))}, "
        f"có kết quả {e(when(f.resolved_at, tz))}</p>"
        if f.resolved_at
        else ""
    )
    returned = (
        f"<p>Trả kết quả cho tổ chức, cá nhân: {e(when(f.returned_at, tz))}</p>" if f.returned_at else ""
    )
    body = f"""
{_heading(f.receiving_agency_name, f.parent_agency_name, "", now, tz)}
{_title("control-sheet", f.receipt_code)}
<p>Kèm theo hồ sơ của: <b>{e(name)}</b> — số điện thoại: {e(phone)}</p>
<p>Nội dung yêu cầu giải quyết: {e(f.procedure_name)} (mã thủ tục {e(f.procedure_code)})</p>
<p>Nơi tiếp nhận: {e(f.receiving_agency_name)}; người tiếp nhận: {e(f.received_by)}</p>
<p>Thời gian nhận hồ sơ: {e(when(f.received_at, tz))}</p>
<p>Thời gian hẹn trả kết quả: <b class="due">{e(when(f.due_at, tz))}</b></p>
{promised}
<table class="grid sheet"><thead><tr><th class="n">TT</th><th>Tên cơ quan</th>
<th>Thời gian giao, nhận hồ sơ</th><th>Người giao<br>(ký, ghi rõ họ tên)</th>
<th>Người nhận<br>(ký, ghi rõ họ tên)</th><th>Kết quả giải quyết<br>(trước, đúng, quá hạn)</th>
<th>Ghi chú</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
{outcome}{returned}"""
    return page("control-sheet", TITLES["control-sheet"], body)


@dataclass(frozen=True)
class RegisterRow:
    receipt_code: str
    procedure_name: str
    applicant_name: str
    applicant_contact: str
    holder_agency_name: str
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    status: str
    timeliness: str | None


def register(
    agency_name: str,
    parent_name: str,
    start: datetime,
    end: datetime,
    rows: Sequence[RegisterRow],
    tz: tzinfo,
    now: datetime,
) -> str:
    def cells(i: int, r: RegisterRow) -> Iterable[str]:
        yield str(i)
        yield r.receipt_code
        yield r.procedure_name
        yield r.applicant_name
        yield r.applicant_contact
        yield r.holder_agency_name
        yield when(r.received_at, tz)
        yield when(r.promised_at or r.due_at, tz)
        yield when(r.resolved_at, tz) if r.resolved_at else ""
        yield when(r.closed_at, tz) if r.closed_at else ""
        status = STATUSES.get(r.status, r.status)
        yield f"{status}, {TIMELINESS[r.timeliness].lower()}" if r.timeliness in TIMELINESS else status

    body_rows = (
        "".join(
            "<tr>" + "".join(f'<td class="c{j}">{e(c)}</td>' for j, c in enumerate(cells(i, r))) + "</tr>"
            for i, r in enumerate(rows, 1)
        )
        or '<tr><td colspan="11" class="center italic">Không có hồ sơ trong kỳ.</td></tr>'
    )
    last = end.astimezone(tz)
    body = f"""
{_heading(agency_name, parent_name, "", now, tz)}
<h1>{e(TITLES["register"].upper())}</h1>
<div class="code">Từ {e(day(start, tz))} đến trước {e(last.strftime("%H:%M %d/%m/%Y"))}
  — {len(rows)} hồ sơ</div>
<table class="grid register"><thead><tr><th class="n">STT</th><th>Mã hồ sơ</th><th>Tên thủ tục hành chính</th>
<th>Tên tổ chức, cá nhân</th><th>Địa chỉ, số điện thoại</th><th>Cơ quan đang giải quyết</th>
<th>Ngày, giờ nhận hồ sơ</th><th>Ngày, giờ hẹn trả kết quả</th><th>Có kết quả</th>
<th>Trả kết quả / kết thúc</th><th>Ghi chú</th></tr></thead>
<tbody>{body_rows}</tbody></table>"""
    return page("register", TITLES["register"], body, landscape=True)
