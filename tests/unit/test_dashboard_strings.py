"""The dashboard names every kind of event in both its languages: a kind without a name
showed its class name (`DocumentAttached`) in a Vietnamese timeline."""

from __future__ import annotations

import re
from pathlib import Path

from domain import events

I18N = Path(__file__).parents[2] / "gateways" / "web" / "static" / "js" / "i18n.js"


def _dictionaries() -> list[set[str]]:
    """The keys of each language's dictionary, in the order the file defines them."""
    text = I18N.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^(?:export )?const \w+ = \{$", text, re.MULTILINE)]
    assert len(starts) >= 2, "the file's dictionaries were not found"
    return [
        set(re.findall(r"^\s+'([\w.]+)':", text[a:b], re.MULTILINE))
        for a, b in zip(starts, [*starts[1:], len(text)], strict=True)
    ]


def test_every_event_kind_has_a_name_in_each_language() -> None:
    kinds = {
        name
        for name, cls in vars(events).items()
        if isinstance(cls, type) and issubclass(cls, events.DossierEvent) and cls is not events.DossierEvent
    }
    assert len(kinds) > 20
    for keys in _dictionaries()[:2]:
        assert not {f"event.{kind}" for kind in kinds} - keys
