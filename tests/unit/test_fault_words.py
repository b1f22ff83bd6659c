"""Every kind of fault a verification names reads in both languages of the dashboard.

The server says what is wrong in English (`reason`) and as a `kind` with the values it names;
the dashboard words each kind in Vietnamese and English (gateways/web/static/js/i18n.js), so an
inspector reads an altered, deleted or re-signed history in their own language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateways.audit.chains import FAULT_KINDS, Broken

I18N = Path(__file__).resolve().parents[2] / "gateways" / "web" / "static" / "js" / "i18n.js"


def _dictionaries() -> dict[str, dict[str, str]]:
    text = I18N.read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for name in ("vi", "en"):
        body = text[text.index(f"const {name} = {{") :]
        body = body[: body.index("\n};")]
        out[name] = dict(re.findall(r"^\s+'([^']+)':\s*'((?:[^'\\]|\\.)*)',?$", body, flags=re.M))
    return out


def test_every_fault_kind_is_worded_in_vietnamese_and_english() -> None:
    words = _dictionaries()
    for lang, dictionary in words.items():
        worded = {key.removeprefix("audit.fault.") for key in dictionary if key.startswith("audit.fault.")}
        assert worded == set(FAULT_KINDS), (lang, worded ^ set(FAULT_KINDS))
    for kind in FAULT_KINDS:
        vi, en = words["vi"][f"audit.fault.{kind}"], words["en"][f"audit.fault.{kind}"]
        assert vi != en
        # The same values filled in, in both languages.
        assert set(re.findall(r"\{(\w+)\}", vi)) == set(re.findall(r"\{(\w+)\}", en)), kind


def test_a_fault_carries_its_kind_and_the_values_its_reason_names() -> None:
    fault = Broken("d", 3, "missing", "event 3 is missing (found seq 5)", found_seq=5).fault
    assert fault == {
        "dossier_id": "d",
        "seq": 3,
        "kind": "missing",
        "reason": "event 3 is missing (found seq 5)",
        "found_seq": 5,
    }
    with pytest.raises(AssertionError):
        Broken("d", 3, "gone", "no such kind")
