"""Problems in Vietnamese or English: the language asked for, and a catalogue that keeps up with
the code (every title anywhere, every sentence the domain says no with)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateways.application import messages
from gateways.application.errors import problem_body

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_MAKERS = {"Problem", "Refused", "Failure", "problem_response", "DocumentError"}
DOMAIN_ERRORS = {"RuleViolated", "InvalidValue", "ActorNotAllowed", "UnknownDossier", "DomainError"}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "vi"),
        ("", "vi"),
        ("vi-VN,vi;q=0.9", "vi"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5", "en"),
        ("en;q=0.3, vi;q=0.8", "vi"),
        ("vi;q=0.5, en;q=0.5", "vi"),
        ("fr", "vi"),
        ("*", "vi"),
        ("en;q=0", "vi"),
        ("en;q=abc", "vi"),
    ],
)
def test_the_language_is_the_one_the_caller_prefers_vietnamese_by_default(
    header: str | None, language: str
) -> None:
    assert messages.negotiate(header) == language


def test_a_detail_is_translated_with_its_values_and_the_domain_words() -> None:
    detail = "cannot hand off while the dossier is awaiting_fee"
    assert messages.translate_detail(detail) == "không thể chuyển hồ sơ khi hồ sơ chờ nộp phí"
    assert messages.translate_detail("no dossier 1234") == "không có hồ sơ 1234"
    # Field errors, one by one; one with no template stays as it was.
    fields = "applicant.name: Field required; channel: Input should be 'online', 'direct' or 'postal'; x: odd"
    assert messages.translate_detail(fields) == (
        "applicant.name: bắt buộc; channel: phải là 'online', 'direct' hoặc 'postal'; x: odd"
    )
    # The most specific template wins.
    assert messages.translate_detail("limit: Input should be greater than or equal to 1") == (
        "limit: phải lớn hơn hoặc bằng 1"
    )


@pytest.mark.parametrize(
    ("detail", "vietnamese"),
    [
        # a stale If-Match (gateways/application/writer.py)
        ("dossier is at version 6, not 1 (If-Match)", "hồ sơ đang ở phiên bản 6, không phải 1 (If-Match)"),
        # a supervisor's audit or read without the dossier it is scoped by (gateways/http/deps.py)
        (
            "a supervisor must name a dossier of its agencies (dossier_id)",
            "vai trò 'supervisor' phải nêu một hồ sơ của cơ quan mình (dossier_id)",
        ),
        # a 429 (gateways/http/deps.py), each limit by name
        (
            "over the lookup per address limit; retry in 1 s",
            "vượt giới hạn số lần tra cứu từ mỗi địa chỉ; thử lại sau 1 giây",
        ),
        (
            "over the commands per token limit; retry in 2 s",
            "vượt giới hạn số lệnh của mỗi token; thử lại sau 2 giây",
        ),
        (
            "over the commands per address limit; retry in 1 s",
            "vượt giới hạn số lệnh từ mỗi địa chỉ; thử lại sau 1 giây",
        ),
    ],
)
def test_the_gateway_refusals_met_on_the_readme_walk_speak_vietnamese(detail: str, vietnamese: str) -> None:
    assert messages.translate_detail(detail) == vietnamese


def test_the_problem_type_is_the_same_in_both_languages() -> None:
    en = problem_body(409, "Version conflict", "no dossier 42", "version-conflict", "/x", "en")
    vi = problem_body(409, "Version conflict", "no dossier 42", "version-conflict", "/x", "vi")
    assert en["type"] == vi["type"] == "https://lienthong.gov.vn/problems/version-conflict"
    assert (en["title"], en["detail"]) == ("Version conflict", "no dossier 42")
    assert (vi["title"], vi["detail"]) == ("Xung đột phiên bản", "không có hồ sơ 42")
    # Without a slug the type comes from the English title, in any language.
    assert problem_body(404, "Unknown event", "", language="vi")["type"].endswith("/unknown-event")


def _text(node: ast.AST) -> str | None:
    """A literal or f-string as its English template ({name} for each value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{value}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_text(node.left) or "{value}") + (_text(node.right) or "{value}")
    return None


def _calls(folder: str, names: set[str]) -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in names or _problem_subclass_init(node, names):
                    found.append((str(path.relative_to(ROOT)), node.lineno, node))
    return found


def _problem_subclass_init(call: ast.Call, names: set[str]) -> bool:
    """`super().__init__(415, "Unsupported file type", ...)` in a subclass of a problem maker:
    a status first, then the title."""
    func = call.func
    return (
        names is PROBLEM_MAKERS
        and isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
        and len(call.args) >= 3
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, int)
    )


def _sample(template: str) -> str:
    return template.replace("{value}", "X1")


def test_every_problem_title_in_the_code_has_its_vietnamese() -> None:
    titles: set[str] = set()
    for _path, _line, call in _calls("gateways", PROBLEM_MAKERS):
        if len(call.args) >= 2 and (title := _text(call.args[1])) and "{value}" not in title:
            titles.add(title)
    for path in (ROOT / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "title" for t in node.targets
            ):
                titles.add(str(_text(node.value)))
    assert len(titles) > 30
    missing = sorted(t for t in titles if t not in messages.TITLES)
    assert not missing, f"add these titles to gateways/application/messages.py TITLES: {missing}"


def test_every_sentence_the_domain_refuses_with_has_its_vietnamese() -> None:
    untranslated = []
    checked = 0
    for path, line, call in _calls("domain", DOMAIN_ERRORS):
        template = _text(call.args[0]) if call.args else None
        if template is None:
            continue
        checked += 1
        sample = _sample(template)
        if messages.translate_detail(sample) == sample:
            untranslated.append(f"{path}:{line}: {template}")
    assert checked > 40
    assert not untranslated, "add templates to gateways/application/messages.py DETAILS:\n" + "\n".join(
        untranslated
    )
