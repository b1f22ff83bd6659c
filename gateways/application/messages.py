"""Problem titles and details in Vietnamese or English: one catalogue, applied where problem
bodies are built (`errors.problem_body`), never at the raise sites.

The code raises its errors in English, as before. A title is looked up by its English text; a
detail by the English template it was made from: `{name}` stands for a value, which the
Vietnamese template puts back (translated too when it is a status or an action the domain
names). A detail with no template stays in English, so adding an error never breaks an answer;
the unit tests hold every title, and every detail the domain raises, to have a translation.
The problem `type` never changes with the language: clients branch on it, people read the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

VI, EN = "vi", "en"
LANGUAGES = (VI, EN)
DEFAULT = VI  # a Vietnamese public service: Vietnamese unless the caller prefers English

TITLES: Mapping[str, str] = {
    "Agency needed": "Cần mã cơ quan",
    "Audit records are damaged": "Dữ liệu kiểm toán bị hỏng",
    "Chart library not installed": "Chưa cài thư viện biểu đồ",
    "Demo login is off": "Đăng nhập thử nghiệm đang tắt",
    "Domain rule violated": "Vi phạm quy tắc nghiệp vụ",
    "Dossier state does not allow this": "Trạng thái hồ sơ không cho phép thao tác này",
    "Empty file": "Tệp rỗng",
    "Event too large": "Sự kiện quá lớn",
    "File damaged": "Tệp bị hỏng",
    "File erased": "Tệp đã bị xóa",
    "File missing from storage": "Tệp không còn trong kho lưu trữ",
    "File too large": "Tệp quá lớn",
    "Forbidden": "Không có quyền",
    "Give hours or end": "Cần số giờ hoặc thời điểm kết thúc",
    "HTTP error": "Lỗi HTTP",
    "Imported history holds no files": "Lịch sử được nhập không nhận tệp",
    "Idempotency key reused": "Khóa idempotency đã được dùng cho yêu cầu khác",
    "Incomplete kept checkpoint": "Điểm kiểm tra lưu giữ thiếu thông tin",
    "Instant without offset": "Thời điểm thiếu múi giờ",
    "Internal error": "Lỗi nội bộ",
    "Invalid as_of": "Giá trị as_of không hợp lệ",
    "Invalid command": "Lệnh không hợp lệ",
    "Invalid dossier id": "Mã hồ sơ không hợp lệ",
    "Invalid period": "Kỳ báo cáo không hợp lệ",
    "Invalid report parameters": "Tham số báo cáo không hợp lệ",
    "Invalid report range": "Khoảng thời gian báo cáo không hợp lệ",
    "Invalid request": "Yêu cầu không hợp lệ",
    "Invalid value": "Giá trị không hợp lệ",
    "Malformed If-Match": "Tiêu đề If-Match sai định dạng",
    "Malformed request body": "Nội dung yêu cầu sai định dạng",
    "Method not allowed": "Phương thức không được hỗ trợ",
    "Missing agency_code": "Thiếu agency_code",
    "No file": "Không có tệp",
    "No such document": "Không có biểu mẫu này",
    "Not allowed for this actor": "Người thực hiện không được phép",
    "Not authenticated": "Chưa xác thực",
    "Not found": "Không tìm thấy",
    "Not yet in a checkpoint": "Chưa có trong điểm kiểm tra",
    "Not yet received": "Chưa được tiếp nhận",
    "Overloaded": "Hệ thống đang quá tải",
    "Parent cycle": "Vòng lặp cơ quan cấp trên",
    "Period too long": "Khoảng thời gian quá dài",
    "Personal data erased": "Dữ liệu cá nhân đã bị xóa",
    "Request body too large": "Nội dung yêu cầu quá lớn",
    "Send multipart/form-data": "Hãy gửi multipart/form-data",
    "Store busy": "Kho dữ liệu đang bận",
    "Stored history is damaged": "Lịch sử lưu trữ bị hỏng",
    "Too many requests": "Quá nhiều yêu cầu",
    "Unknown agency": "Không có cơ quan này",
    "Unknown agency on route": "Quy trình có cơ quan không tồn tại",
    "Unknown checkpoint": "Không có điểm kiểm tra này",
    "Unknown document": "Không có biểu mẫu này",
    "Unknown dossier": "Không có hồ sơ này",
    "Unknown event": "Không có sự kiện này",
    "Unknown file": "Không có tệp này",
    "Unknown parent agency": "Không có cơ quan cấp trên này",
    "Unknown procedure": "Không có thủ tục này",
    "Unknown role": "Vai trò không hợp lệ",
    "Unknown successor agency": "Không có cơ quan kế thừa này",
    "Unsupported file type": "Kiểu tệp không được chấp nhận",
    "Value out of range": "Giá trị ngoài phạm vi",
    "Version conflict": "Xung đột phiên bản",
    "Wrong lookup secret": "Mã tra cứu không đúng",
}

# Values the domain puts into its sentences: what the caller tried, a status, an outcome.
_WORDS: Mapping[str, str] = {
    "accept": "tiếp nhận hồ sơ chuyển đến",
    "accept this online submission": "tiếp nhận hồ sơ nộp trực tuyến này",
    "activity": "hoạt động",
    "answer": "câu trả lời",
    "answer the consultation": "trả lời xin ý kiến",
    "decide": "ra quyết định",
    "hand off": "chuyển hồ sơ",
    "hand off this dossier": "chuyển hồ sơ này",
    "issue an apology": "gửi thư xin lỗi",
    "mark the result ready": "báo có kết quả",
    "question": "nội dung xin ý kiến",
    "reason": "lý do",
    "receive dossiers at this desk": "tiếp nhận hồ sơ tại bộ phận này",
    "record the payment": "ghi nhận nộp phí",
    "record the supplement": "ghi nhận bổ sung hồ sơ",
    "record the withdrawal": "ghi nhận rút hồ sơ",
    "refuse this dossier": "từ chối hồ sơ này",
    "request a consultation": "xin ý kiến",
    "request a fee": "yêu cầu nộp phí",
    "request a supplement": "yêu cầu bổ sung hồ sơ",
    "return": "trả lại hồ sơ",
    "return the result": "trả kết quả",
    "stop processing": "dừng xử lý",
    # statuses
    "submitted": "đã nộp trực tuyến",
    "received": "đã tiếp nhận",
    "refused": "đã từ chối",
    "in_process": "đang xử lý",
    "awaiting_supplement": "chờ bổ sung",
    "awaiting_fee": "chờ nộp phí",
    "result_ready": "đã có kết quả",
    "returned": "đã trả kết quả",
    "withdrawn": "đã rút",
    "stopped": "đã dừng xử lý",
    # outcomes
    "approved": "chấp thuận",
    "rejected": "không chấp thuận",
    "no agency": "không cơ quan nào",
    # rate limits (gateways/http/ratelimit.py)
    "commands per token": "số lệnh của mỗi token",
    "commands per address": "số lệnh từ mỗi địa chỉ",
    "lookup per address": "số lần tra cứu từ mỗi địa chỉ",
}
_TRANSLATED_VALUES = ("what", "status", "outcome", "acting", "which")

DETAILS: Mapping[str, str] = {
    # the domain (domain/decide.py, procedures, agencies)
    "role '{role}' may not {what}": "vai trò '{role}' không được {what}",
    "only agency {agency} may {what}; you act for {acting}": (
        "chỉ cơ quan {agency} được {what}; bạn đang thực hiện cho {acting}"
    ),
    "dossier {receipt_code} is closed ({status}); no further action": (
        "hồ sơ {receipt_code} đã kết thúc ({status}); không thể thao tác thêm"
    ),
    "dossier is in transit to {agency}; that agency must accept or return it first": (
        "hồ sơ đang được chuyển đến {agency}; cơ quan đó phải tiếp nhận hoặc trả lại trước"
    ),
    "cannot {what} while the dossier is {status}": "không thể {what} khi hồ sơ {status}",
    "{what} must not be empty": "{what} không được để trống",
    "dossier {id} already exists": "hồ sơ {id} đã tồn tại",
    "only the integration role (the national portal) records online submissions": (
        "chỉ vai trò tích hợp (Cổng dịch vụ công quốc gia) được ghi nhận hồ sơ nộp trực tuyến"
    ),
    "only an online submission awaiting intake can be accepted": (
        "chỉ hồ sơ nộp trực tuyến đang chờ tiếp nhận mới được tiếp nhận"
    ),
    "the procedure does not match the submission": "thủ tục không khớp với hồ sơ đã nộp",
    "a dossier can be refused only at the desk that received it, before it was handed on (it is {status})": (
        "chỉ bộ phận đã tiếp nhận được từ chối hồ sơ, trước khi chuyển đi (hồ sơ {status})"
    ),
    "a missing component must be named (no empty names)": "phải nêu tên thành phần còn thiếu (không để trống)",
    "to_agency_code must not be empty": "to_agency_code không được để trống",
    "a dossier cannot be handed off to the agency that holds it": (
        "không thể chuyển hồ sơ cho chính cơ quan đang giữ hồ sơ"
    ),
    "there is no pending handoff to {what}": "không có hồ sơ đang chuyển đến để {what}",
    "consult another agency than the one holding the dossier": "hãy xin ý kiến cơ quan khác cơ quan đang giữ hồ sơ",
    "a consultation of {agency} is already open": "đang có một yêu cầu xin ý kiến {agency} chưa được trả lời",
    "no consultation is open on this dossier": "hồ sơ không có yêu cầu xin ý kiến nào đang mở",
    "agency {agency} was not consulted; open: {open}": "cơ quan {agency} không được xin ý kiến; đang mở: {open}",
    "a supplement may be requested once per dossier, and it already was": (
        "mỗi hồ sơ chỉ được yêu cầu bổ sung một lần, và đã yêu cầu rồi"
    ),
    "a supplement must be requested within {hours} working hours of receipt; {spent} have passed": (
        "phải yêu cầu bổ sung trong {hours} giờ làm việc kể từ khi tiếp nhận; đã qua {spent}"
    ),
    "no supplement was requested": "chưa có yêu cầu bổ sung",
    "amount_vnd must be a positive number of đồng": "amount_vnd phải là số đồng lớn hơn 0",
    "no fee is awaited": "hồ sơ không chờ nộp phí",
    "no apology while the dossier is {status}": "không gửi thư xin lỗi khi hồ sơ {status}",
    "an apology and new appointment must be issued before the due time ({due})": (
        "thư xin lỗi và hẹn lại phải được gửi trước hạn ({due})"
    ),
    "the new appointment must be later than {at}": "ngày hẹn mới phải sau {at}",
    "the new appointment {at} is not in office hours of a working day (next opening: {next})": (
        "ngày hẹn mới {at} không trong giờ hành chính của ngày làm việc (giờ làm việc kế tiếp: {next})"
    ),
    "the dossier was already decided ({outcome})": "hồ sơ đã có quyết định ({outcome})",
    "the dossier has no decision yet": "hồ sơ chưa có quyết định",
    "the result is not ready": "chưa có kết quả",
    "the result is ready; it can only be returned": "đã có kết quả; chỉ còn có thể trả kết quả",
    "legacy activities belong only to imported history": "hoạt động cũ chỉ thuộc lịch sử được nhập",
    "only the integration role imports legacy history": "chỉ vai trò tích hợp được nhập lịch sử cũ",
    "occurred_at {at} is before the dossier's last event ({last}); event times never go backwards": (
        "occurred_at {at} sớm hơn sự kiện cuối của hồ sơ ({last}); thời gian sự kiện không được lùi"
    ),
    "no dossier with that id": "không có hồ sơ với mã này",
    "unknown command {name}": "lệnh không xác định {name}",
    "route step at {agency}: budget must be positive working hours": (
        "bước quy trình tại {agency}: thời gian phải là số giờ làm việc lớn hơn 0"
    ),
    "procedure code must not be empty": "mã thủ tục không được để trống",
    "procedure {code}: deadline must be positive": "thủ tục {code}: thời hạn phải lớn hơn 0",
    "procedure {code}: the route needs at least one step": "thủ tục {code}: quy trình cần ít nhất một bước",
    "procedure {code}: step budgets sum to {total} working hours but the deadline is {deadline}": (
        "thủ tục {code}: tổng thời gian các bước là {total} giờ làm việc nhưng thời hạn là {deadline}"
    ),
    "agency code must not be empty": "mã cơ quan không được để trống",
    "the body is not UTF-8: send JSON encoded in UTF-8": "nội dung không phải UTF-8: hãy gửi JSON mã hóa UTF-8",
    "the body holds a number too long to read (more than 4,300 digits)": (
        "nội dung có một số quá dài để đọc (hơn 4.300 chữ số)"
    ),
    "the body is not a multipart/form-data form with the boundary its Content-Type names": (
        "nội dung không phải biểu mẫu multipart/form-data với boundary mà Content-Type nêu"
    ),
    "the form ends before its closing boundary: the upload is incomplete; send it again": (
        "biểu mẫu kết thúc trước boundary đóng: tệp tải lên chưa đủ; hãy gửi lại"
    ),
    "send one file per request: the form has a second `file` part": (
        "mỗi yêu cầu chỉ gửi một tệp: biểu mẫu có phần `file` thứ hai"
    ),
    "agency code must be at most {limit} characters, without surrounding spaces or control characters "
    "(got {count} characters, control characters: {odd})": (
        "mã cơ quan tối đa {limit} ký tự, không có khoảng trắng ở đầu hoặc cuối, không có ký tự điều khiển "
        "(nhận được {count} ký tự, ký tự điều khiển: {odd})"
    ),
    "procedure code must be at most {limit} characters, without surrounding spaces or control characters "
    "(got {count} characters, control characters: {odd})": (
        "mã thủ tục tối đa {limit} ký tự, không có khoảng trắng ở đầu hoặc cuối, không có ký tự điều khiển "
        "(nhận được {count} ký tự, ký tự điều khiển: {odd})"
    ),
    "agency {code}: name must not be empty": "cơ quan {code}: tên không được để trống",
    "agency {code} cannot be its own parent": "cơ quan {code} không thể là cấp trên của chính nó",
    "agency {code}: valid_to is before valid_from": "cơ quan {code}: valid_to trước valid_from",
    # succession and dated procedures (domain/agencies.py, succession.py, procedures.py)
    "successor code must not be empty": "mã cơ quan kế thừa không được để trống",
    "successor {code}: share must be in (0, 1]": "cơ quan kế thừa {code}: tỷ lệ phải trong khoảng (0, 1]",
    "agency {code}: only an agency that ends (valid_to) has successors": (
        "cơ quan {code}: chỉ cơ quan chấm dứt hoạt động (có valid_to) mới có cơ quan kế thừa"
    ),
    "agency {code} cannot succeed itself": "cơ quan {code} không thể kế thừa chính nó",
    "agency {code}: a successor is named twice": "cơ quan {code}: một cơ quan kế thừa được nêu hai lần",
    "agency {code}: a successor starts on or before valid_to": (
        "cơ quan {code}: có cơ quan kế thừa bắt đầu vào hoặc trước valid_to"
    ),
    "agency {code}: successors' shares sum to more than 1": (
        "cơ quan {code}: tổng tỷ lệ của các cơ quan kế thừa lớn hơn 1"
    ),
    "a succession names the ended agency and its successor": (
        "việc kế thừa phải nêu cơ quan chấm dứt hoạt động và cơ quan kế thừa"
    ),
    "succession events are recorded by the system only": "chỉ hệ thống được ghi nhận sự kiện kế thừa",
    "successors name agencies not in the catalogue: {codes}": (
        "cơ quan kế thừa không có trong danh mục: {codes}"
    ),
    "a component needs a name": "thành phần hồ sơ phải có tên",
    "component '{name}': copies must be at least 1": "thành phần '{name}': số bản phải ít nhất là 1",
    "component '{name}': effective_to is before effective_from": (
        "thành phần '{name}': effective_to trước effective_from"
    ),
    "procedure {code}: the fee must not be negative": "thủ tục {code}: lệ phí không được âm",
    "procedure {code}: component '{name}' has overlapping versions": (
        "thủ tục {code}: thành phần '{name}' có các phiên bản chồng lấn thời gian hiệu lực"
    ),
    "procedure '{code}' was not in force on {day}": "thủ tục '{code}' chưa có hoặc hết hiệu lực vào ngày {day}",
    # dossier files (domain/documents.py, the attachments)
    "sha256 must be 64 lowercase hexadecimal digits": "sha256 phải gồm 64 chữ số thập lục phân viết thường",
    "an empty file cannot be attached": "không thể đính kèm tệp rỗng",
    "the file's media type is unknown": "không xác định được kiểu tệp",
    "not a component of this procedure: {names} (its components: {components})": (
        "không phải thành phần hồ sơ của thủ tục này: {names} (các thành phần: {components})"
    ),
    "purpose must be 'component' or 'result', not '{purpose}'": (
        "purpose phải là 'component' hoặc 'result', không phải '{purpose}'"
    ),
    "the result file can be attached only once the dossier is decided": (
        "chỉ được đính kèm tệp kết quả sau khi hồ sơ đã có quyết định"
    ),
    "the result is ready: components can no longer be attached": (
        "đã có kết quả: không thể đính kèm thêm thành phần hồ sơ"
    ),
    "name the component the file is (thành phần hồ sơ)": "hãy nêu tệp là thành phần hồ sơ nào",
    "'{name}' is not a component of this procedure (its components: {components})": (
        "'{name}' không phải thành phần hồ sơ của thủ tục này (các thành phần: {components})"
    ),
    "no result file for this receipt code and secret (yet)": (
        "(chưa) có tệp kết quả cho mã biên nhận và mã tra cứu này"
    ),
    "the applicant's data of this dossier was erased; no file can be attached to it": (
        "dữ liệu của người nộp hồ sơ này đã bị xóa; không thể đính kèm tệp vào hồ sơ"
    ),
    "this dossier was imported from a legacy log; it has no applicant and takes no files": (
        "hồ sơ này được nhập từ nhật ký cũ; không có người nộp và không nhận tệp đính kèm"
    ),
    "dossier {receipt_code} has no file {sha256}": "hồ sơ {receipt_code} không có tệp {sha256}",
    "the file is recorded on the dossier but absent from the file store; an administrator must restore it from backup": (
        "tệp được ghi nhận trong hồ sơ nhưng không còn trong kho tệp; quản trị viên phải khôi phục từ bản sao lưu"
    ),
    "the stored file no longer matches the SHA-256 recorded when it was attached; it is not served. An administrator must restore it from backup": (
        "tệp đang lưu không còn khớp với mã SHA-256 ghi nhận khi đính kèm nên không được cung cấp; "
        "quản trị viên phải khôi phục từ bản sao lưu"
    ),
    "this file was erased with the applicant's personal data": "tệp này đã bị xóa cùng dữ liệu cá nhân của người nộp",
    "upload the file as multipart/form-data with one part named `file`": (
        "hãy tải tệp lên dạng multipart/form-data với một phần tên là `file`"
    ),
    "a file is named by its SHA-256 (64 hex digits)": "tệp được nêu bằng mã SHA-256 (64 chữ số thập lục phân)",
    "the form has no part named `file`": "biểu mẫu không có phần nào tên là `file`",
    "the file is empty": "tệp rỗng",
    "the file is not a PDF, PNG, JPEG, TIFF, Word (DOCX) or Excel (XLSX) file (judged by its content, not its name)": (
        "tệp không phải là tệp PDF, PNG, JPEG, TIFF, Word (DOCX) hay Excel (XLSX) (xét theo nội dung, không theo tên tệp)"
    ),
    "a file may be at most {limit} bytes ({mib} MiB)": "mỗi tệp tối đa {limit} byte ({mib} MiB)",
    "id_number is empty": "id_number đang để trống",
    # interchange (domain/legacy.py)
    "a legacy case belongs only to imported history": "mã hồ sơ hệ thống cũ chỉ thuộc lịch sử được nhập",
    "the dossier already names its legacy case": "hồ sơ đã có mã hồ sơ hệ thống cũ",
    "the legacy event at {at} is before {last}: a trace is recorded in time order": (
        "sự kiện cũ lúc {at} ở trước {last}: một hồ sơ cũ được ghi theo thứ tự thời gian"
    ),
    "every legacy event happened at a unit (agency_code)": "mỗi sự kiện cũ phải ghi đơn vị thực hiện (agency_code)",
    "a legacy trace is recorded at its last event's time or later": (
        "hồ sơ cũ được ghi vào lúc sự kiện cuối cùng của nó hoặc muộn hơn"
    ),
    "case_id is required": "cần case_id",
    # satisfaction and indicators (domain/satisfaction.py)
    "only the receiving desk {agency} records the citizen's satisfaction; you act for {acting}": (
        "chỉ bộ phận tiếp nhận {agency} được ghi nhận mức độ hài lòng của người dân; bạn đang thực hiện cho {acting}"
    ),
    "role '{role}' may not record the citizen's satisfaction": (
        "vai trò '{role}' không được ghi nhận mức độ hài lòng của người dân"
    ),
    "satisfaction is recorded once the result was returned; dossier {receipt_code} is {status}": (
        "chỉ ghi nhận mức độ hài lòng sau khi đã trả kết quả; hồ sơ {receipt_code} {status}"
    ),
    "the citizen's satisfaction with dossier {receipt_code} was already recorded ({rating}); it is recorded once": (
        "mức độ hài lòng của người dân với hồ sơ {receipt_code} đã được ghi nhận ({rating}); chỉ ghi nhận một lần"
    ),
    "group_by must be one of {choices}, not '{value}'": "group_by phải là một trong {choices}, không phải '{value}'",
    "indicators are counted per local day: give dates (2026-03-14) or a period": (
        "chỉ số được tính theo ngày (giờ địa phương): hãy nêu ngày (2026-03-14) hoặc kỳ báo cáo"
    ),
    "the range ends before it starts": "khoảng thời gian kết thúc trước khi bắt đầu",
    "the range starts on {start}, after now ({now}): nothing of it can be reported yet": (
        "khoảng thời gian bắt đầu từ {start}, sau thời điểm hiện tại ({now}): chưa có số liệu để báo cáo"
    ),
    # reporting periods (months, quarters, halves, years)
    "period must be one of: {help}; not '{text}'": "period phải có một trong các dạng: {help}; không phải '{text}'",
    "give either period or from and to, not both": "nêu period hoặc from và to, không nêu cả hai",
    "from and to go together (or give a period such as 2026-03 or 2026-Q1)": (
        "from và to phải đi cùng nhau (hoặc nêu kỳ báo cáo như 2026-03 hay 2026-Q1)"
    ),
    "occurred_at {at} lies in the future (the server's clock says {now}, allowing {skew} s of clock skew)": (
        "occurred_at {at} ở tương lai (đồng hồ máy chủ là {now}, cho phép lệch {skew} giây)"
    ),
    # the use cases
    "'{id}' is not a dossier id (a UUID)": "'{id}' không phải mã hồ sơ (UUID)",
    "unknown procedure '{code}'": "không có thủ tục '{code}'",
    "unknown agency '{code}'": "không có cơ quan '{code}'",
    "'{code}' is a unit of imported legacy history, not an agency of this system: no live dossier goes there": (
        "'{code}' là đơn vị trong lịch sử nhập từ hệ thống cũ, không phải cơ quan trên hệ thống này: "
        "không chuyển hồ sơ đang xử lý đến đó"
    ),
    "agency '{code}' did not exist on {day}": "cơ quan '{code}' chưa tồn tại vào ngày {day}",
    "no dossier {id}": "không có hồ sơ {id}",
    "role '{role}' cannot act on dossiers": "vai trò '{role}' không được thao tác trên hồ sơ",
    "only the integration role may state occurred_at": "chỉ vai trò tích hợp được nêu occurred_at",
    "agency {agency} has no part in this dossier": "cơ quan {agency} không liên quan đến hồ sơ này",
    "agency {agency} has no part in dossier {dossier}": "cơ quan {agency} không liên quan đến hồ sơ {dossier}",
    "procedure '{code}' is no longer catalogued": "thủ tục '{code}' không còn trong danh mục",
    "role '{role}' may not erase personal data (needs admin)": (
        "vai trò '{role}' không được xóa dữ liệu cá nhân (cần quản trị)"
    ),
    "name exactly one of id_number or dossier_id": "nêu đúng một trong id_number hoặc dossier_id",
    "this idempotency key was used for another request (other command, dossier or body)": (
        "khóa idempotency này đã được dùng cho một yêu cầu khác (lệnh, hồ sơ hoặc nội dung khác)"
    ),
    "the event store is busy or unreachable; nothing was recorded, retry shortly": (
        "kho sự kiện đang bận hoặc không kết nối được; chưa ghi nhận gì, hãy thử lại sau ít phút"
    ),
    "the writer is behind; nothing was recorded, retry shortly": (
        "bộ ghi đang chậm; chưa ghi nhận gì, hãy thử lại sau ít phút"
    ),
    "the request failed unexpectedly; it was logged": "yêu cầu gặp lỗi ngoài dự kiến; lỗi đã được ghi lại",
    "text must not contain NUL (0x00) characters": "văn bản không được chứa ký tự NUL (0x00)",
    "a value in the request cannot be stored (out of the range the store handles)": (
        "một giá trị trong yêu cầu không lưu được (ngoài phạm vi kho dữ liệu xử lý)"
    ),
    "a value is out of the range this service handles: {why}": "một giá trị nằm ngoài phạm vi hệ thống xử lý: {why}",
    "dossier is at version {version}, not {expected} (If-Match)": (
        "hồ sơ đang ở phiên bản {version}, không phải {expected} (If-Match)"
    ),
    # signing in and access
    "send 'Authorization: Bearer <token>' (see `lienthong token`)": (
        "hãy gửi 'Authorization: Bearer <token>' (xem `lienthong token`)"
    ),
    "the token has expired": "token đã hết hạn",
    "invalid token: {why}": "token không hợp lệ: {why}",
    "role '{role}' may not do this (needs {roles})": "vai trò '{role}' không được làm việc này (cần {roles})",
    "role '{role}' may not call {method} {path}": "vai trò '{role}' không được gọi {method} {path}",
    "agency {code} is not {own} nor below it": "cơ quan {code} không phải {own} hay cơ quan trực thuộc",
    "an officer acts for its own agency {own}, not {code}": (
        "cán bộ chỉ thao tác cho cơ quan của mình {own}, không phải {code}"
    ),
    "you act for {own}, not {code}": "bạn thao tác cho {own}, không phải {code}",
    "a {role} must name a dossier of its agencies (dossier_id)": (
        "vai trò '{role}' phải nêu một hồ sơ của cơ quan mình (dossier_id)"
    ),
    "over the {which} limit; retry in {seconds} s": "vượt giới hạn {which}; thử lại sau {seconds} giây",
    # reads, reports, catalogue
    "no agency '{code}'": "không có cơ quan '{code}'",
    "no procedure '{code}'": "không có thủ tục '{code}'",
    "no dossier with this receipt code and secret": "không có hồ sơ với mã biên nhận và mã tra cứu này",
    "dossier {id} had no history at {at}": "hồ sơ {id} chưa có lịch sử tại thời điểm {at}",
    "as_of must carry an offset, e.g. 2026-03-02T09:00:00+07:00": (
        "as_of phải có múi giờ, ví dụ 2026-03-02T09:00:00+07:00"
    ),
    "start and end must carry an offset (e.g. +07:00)": "start và end phải có múi giờ (ví dụ +07:00)",
    "pass exactly one of `hours` or `end` with `start`": "gửi kèm `start` đúng một trong `hours` hoặc `end`",
    "agency_code '{code}' is not in the catalogue": "agency_code '{code}' không có trong danh mục",
    "Biểu 06 is per agency: give agency_code": "Biểu 06 lập theo cơ quan: hãy nêu agency_code",
    "an officer reads the reports of its own agency {own}, not {code}": (
        "cán bộ chỉ xem báo cáo của cơ quan mình {own}, không phải {code}"
    ),
    "an officer reads its own agency only; the subtree is a supervisor's": (
        "cán bộ chỉ xem cơ quan của mình; các cơ quan trực thuộc dành cho lãnh đạo"
    ),
    "role '{role}' may not read reports (needs {roles})": "vai trò '{role}' không được xem báo cáo (cần {roles})",
    "parent_code '{code}' is not in the catalogue": "parent_code '{code}' không có trong danh mục",
    "parent_code '{code}' would make a loop: {loop}": "parent_code '{code}' sẽ tạo vòng lặp: {loop}",
    "route names unknown agencies: {codes}": "quy trình nêu cơ quan không tồn tại: {codes}",
    "'{name}' is required: a date (2026-03-02) or an instant with offset": (
        "cần '{name}': một ngày (2026-03-02) hoặc thời điểm có múi giờ"
    ),
    "'{name}' must carry an offset, e.g. {example}": "'{name}' phải có múi giờ, ví dụ {example}",
    "'{name}' = '{value}' is neither a date (YYYY-MM-DD) nor an ISO 8601 instant": (
        "'{name}' = '{value}' không phải ngày (YYYY-MM-DD) hay thời điểm ISO 8601"
    ),
    "'to' ({last}) is before 'from' ({first})": "'to' ({last}) trước 'from' ({first})",
    "'{name}': no agency '{code}' in the catalogue": "'{name}': không có cơ quan '{code}' trong danh mục",
    "{codes} is outside the agencies supervised by {own}": "{codes} nằm ngoài các cơ quan do {own} quản lý",
    "'agency_code' is required: the agency whose WIP to chart": "cần 'agency_code': cơ quan cần vẽ biểu đồ tồn đọng",
    "a report covers at most {days} days (about ten years)": (
        "một báo cáo bao quát tối đa {days} ngày (khoảng mười năm)"
    ),
    "a daily series is limited to {days} days; ask with bucket=week": (
        "chuỗi theo ngày giới hạn {days} ngày; hãy dùng bucket=week"
    ),
    "name either 'agency_code', or both 'from_agency_code' and 'to_agency_code'": (
        "nêu 'agency_code', hoặc cả 'from_agency_code' và 'to_agency_code'"
    ),
    "an edge needs both 'from_agency_code' and 'to_agency_code'": (
        "một luồng chuyển cần cả 'from_agency_code' và 'to_agency_code'"
    ),
    "give either period=YYYY-MM or from and to, not both": "nêu period=YYYY-MM hoặc from và to, không nêu cả hai",
    "from and to go together (or give period=YYYY-MM)": "from và to phải đi cùng nhau (hoặc nêu period=YYYY-MM)",
    "{name} must be a date (2026-03-14) or an instant with its offset (2026-03-14T17:00:00+07:00), not '{text}'": (
        "{name} phải là ngày (2026-03-14) hoặc thời điểm có múi giờ (2026-03-14T17:00:00+07:00), không phải '{text}'"
    ),
    "period must be YYYY-MM (e.g. 2026-03: 15 Feb to 14 Mar), not '{period}'": (
        "period phải có dạng YYYY-MM (ví dụ 2026-03: từ 15/02 đến 14/03), không phải '{period}'"
    ),
    "no checkpoint {n}; checkpoints are 1..{latest}": "không có điểm kiểm tra {n}; các điểm kiểm tra là 1..{latest}",
    "no checkpoint {n}; no checkpoint has been signed yet": "không có điểm kiểm tra {n}; chưa ký điểm kiểm tra nào",
    "give both kept_checkpoint (its n) and kept_root (its signed root), or neither": (
        "hãy nêu cả kept_checkpoint (số n) và kept_root (gốc đã ký), hoặc không nêu cả hai"
    ),
    'If-Match must be a quoted version like "3", got {value}': (
        'If-Match phải là số phiên bản trong ngoặc kép như "3", nhận được {value}'
    ),
    "this server issues no demo tokens; sign in with a token from `lienthong token`": (
        "máy chủ này không cấp token thử nghiệm; hãy đăng nhập bằng token từ `lienthong token`"
    ),
    "the body is not valid JSON": "nội dung không phải JSON hợp lệ",
    "bodies are limited to {n} KiB": "nội dung yêu cầu giới hạn {n} KiB",
    "the command would record an event of {size} bytes, more than the {limit} an event may take "
    "(the events topic takes records of at most {n} bytes): nothing was recorded": (
        "lệnh này sẽ ghi một sự kiện {size} byte, vượt quá {limit} byte cho phép của một sự kiện "
        "(chủ đề sự kiện chỉ nhận bản ghi tối đa {n} byte): không có gì được ghi"
    ),
    "Not Found": "không tìm thấy",
    "Method Not Allowed": "phương thức không được hỗ trợ tại địa chỉ này",
    "kind must be one of {kinds}, not {kind}": "kind phải là một trong {kinds}, không phải {kind}",
    "no agency {code}": "không có cơ quan {code}",
    "`to` must be after `from`": "`to` phải sau `from`",
    "{n} dossiers; print at most {limit}": "{n} hồ sơ; chỉ in tối đa {limit} hồ sơ",
    "agency {own} may not read the register of {code}": (
        "cơ quan {own} không được xem sổ theo dõi hồ sơ của {code}"
    ),
    "role must be one of {roles}, not '{role}'": "role phải là một trong {roles}, không phải '{role}'",
    "a {role} acts for an agency: give agency_code": "vai trò {role} thao tác cho một cơ quan: hãy nêu agency_code",
    "no agency '{code}' in the catalogue": "không có cơ quan '{code}' trong danh mục",
    "scope must be one of {scopes}": "scope phải là một trong {scopes}",
    "group_by must be one of {groups}": "group_by phải là một trong {groups}",
    "within_hours must not be negative": "within_hours không được âm",
    # field errors (pydantic's messages after the field's name)
    "{field}: Field required": "{field}: bắt buộc",
    "{field}: Extra inputs are not permitted": "{field}: không được phép có trường này",
    "{field}: Input should be a valid string": "{field}: phải là chuỗi",
    "{field}: Input should be a valid integer": "{field}: phải là số nguyên",
    "{field}: Input should be a valid number": "{field}: phải là số",
    "{field}: Input should be a valid boolean": "{field}: phải là true hoặc false",
    "{field}: Input should be a valid list": "{field}: phải là danh sách",
    "{field}: Input should be a valid dictionary": "{field}: phải là đối tượng",
    "{field}: Input should be a valid dictionary or object to extract fields from": "{field}: phải là đối tượng",
    "{field}: Input should be '{choices}": "{field}: phải là '{choices}",
    "{field}: Input should be a valid datetime or date, {why}": (
        "{field}: phải là thời điểm hoặc ngày hợp lệ, {why}"
    ),
    "{field}: Input should have timezone info": "{field}: phải có múi giờ",
    "{field}: String should have at least {n} character": "{field}: chuỗi phải có ít nhất {n} ký tự",
    "{field}: String should have at least {n} characters": "{field}: chuỗi phải có ít nhất {n} ký tự",
    "{field}: String should have at most {n} characters": "{field}: chuỗi có nhiều nhất {n} ký tự",
    "{field}: Input should be greater than {n}": "{field}: phải lớn hơn {n}",
    "{field}: Input should be greater than or equal to {n}": "{field}: phải lớn hơn hoặc bằng {n}",
    "{field}: Input should be less than or equal to {n}": "{field}: phải nhỏ hơn hoặc bằng {n}",
    "{field}: List should have at least {n} item after validation, not {m}": (
        "{field}: danh sách phải có ít nhất {n} phần tử, không phải {m}"
    ),
    "{field}: Value error, {why}": "{field}: giá trị không hợp lệ, {why}",
    "{field}: Input should be a valid datetime, {why}": "{field}: phải là thời điểm hợp lệ, {why}",
    "{field}: a + in a URL reads as a space: write the offset as %2B07:00": (
        "{field}: dấu + trong URL được đọc là khoảng trắng: hãy viết múi giờ là %2B07:00"
    ),
    "{field}: Input should be a valid date or datetime, {why}": "{field}: phải là ngày hoặc thời điểm hợp lệ, {why}",
    "{field}: Input should be a valid date, {why}": "{field}: phải là ngày hợp lệ, {why}",
}


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    # A value never spans "; " (that separates the field errors of one detail).
    value = "(?:(?!; ).)+?"
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{value})" for i, p in enumerate(parts))
    return re.compile(pattern, re.DOTALL)


# Longest templates first: the most specific one wins ("... greater than or equal to {n}"
# before "... greater than {n}").
_PATTERNS = [(_compile(en), vi) for en, vi in sorted(DETAILS.items(), key=lambda kv: -len(kv[0]))]


def negotiate(accept_language: str | None) -> str:
    """The language of the answer from an `Accept-Language` header (RFC 9110 weights)."""
    best, best_q = DEFAULT, 0.0
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Ties go to the earlier one; a wildcard accepts the default.
        language = DEFAULT if primary == "*" else primary
        if language in LANGUAGES and q > best_q and q > 0:
            best, best_q = language, q - position * 1e-6
    return best


def _detail(detail: str) -> str | None:
    for pattern, vi in _PATTERNS:
        match = pattern.fullmatch(detail)
        if match is None:
            continue
        values = match.groupdict()
        for name in _TRANSLATED_VALUES:
            if name in values:
                values[name] = _WORDS.get(values[name], values[name])
        if "choices" in values:
            values["choices"] = values["choices"].replace("' or '", "' hoặc '")
        return vi.format(**values)
    return None


def translate_detail(detail: str) -> str:
    """The Vietnamese of an English detail; a list of field errors part by part."""
    whole = _detail(detail)
    if whole is not None:
        return whole
    if "; " in detail:
        return "; ".join(_detail(part) or part for part in detail.split("; "))
    return detail


def localize(title: str, detail: str, language: str) -> tuple[str, str]:
    if language != VI:
        return title, detail
    return TITLES.get(title, title), translate_detail(detail)
