"""XES (IEEE 1849) vocabulary and a streaming reader.

The reader walks the file with `iterparse` and hands over one trace at a time,
clearing what it has read, so memory holds one trace whatever the log's size.
Namespaced (`xmlns="http://www.xes-standard.org/"`) and plain files both read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

XES_NAMESPACE = "http://www.xes-standard.org/"

# The standard extensions an exported log declares (prefix -> (name, uri)).
EXTENSIONS = {
    "concept": ("Concept", "http://www.xes-standard.org/concept.xesext"),
    "time": ("Time", "http://www.xes-standard.org/time.xesext"),
    "org": ("Organizational", "http://www.xes-standard.org/org.xesext"),
    "lifecycle": ("Lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
}

NAME = "concept:name"
TIMESTAMP = "time:timestamp"
GROUP = "org:group"
RESOURCE = "org:resource"
TRANSITION = "lifecycle:transition"
STANDARD_EVENT_KEYS = frozenset({NAME, TIMESTAMP, GROUP, RESOURCE, TRANSITION})

# Attributes of lienthong's own exports (they describe the record in the exporting store).
LIENTHONG_PREFIX = "lienthong:"

_ATTRIBUTE_TAGS = frozenset({"string", "date", "int", "float", "boolean", "id", "list", "container"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_instant(text: str) -> datetime | None:
    """An xs:dateTime as an aware datetime; None when it has no offset or is malformed."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@dataclass(frozen=True)
class XesEvent:
    """One event's top-level attributes (key -> text as written)."""

    attributes: dict[str, str]
    position: int  # order in the trace as written

    @property
    def activity(self) -> str:
        return self.attributes.get(NAME, "").strip()

    @property
    def timestamp(self) -> datetime | None:
        text = self.attributes.get(TIMESTAMP)
        return parse_instant(text) if text else None


@dataclass(frozen=True)
class XesTrace:
    attributes: dict[str, str]
    events: list[XesEvent]
    position: int  # 1-based order in the log

    @property
    def name(self) -> str:
        return self.attributes.get(NAME, "").strip()


@dataclass
class XesLog:
    """A log read one trace at a time; `attributes` fills in as the header is read."""

    path: Path
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The log's concept:name, else the file's stem."""
        return self.attributes.get(NAME, "").strip() or self.path.stem

    def traces(self) -> Iterator[XesTrace]:
        depth = 0
        root: ET.Element | None = None
        position = 0
        for kind, elem in ET.iterparse(self.path, events=("start", "end")):
            if kind == "start":
                depth += 1
                if root is None:
                    root = elem
                continue
            depth -= 1
            if depth != 1:
                continue
            tag = _local(elem.tag)
            if tag in _ATTRIBUTE_TAGS:
                key = elem.get("key")
                if key is not None:
                    self.attributes[key] = elem.get("value", "")
            elif tag == "trace":
                position += 1
                yield _trace(elem, position)
                # Drop everything read so far (this trace and the header): constant memory.
                assert root is not None
                root.clear()


def _attributes_of(elem: ET.Element) -> dict[str, str]:
    return {
        key: child.get("value", "")
        for child in elem
        if _local(child.tag) in _ATTRIBUTE_TAGS and (key := child.get("key")) is not None
    }


def _trace(elem: ET.Element, position: int) -> XesTrace:
    events = [
        XesEvent(_attributes_of(child), index)
        for index, child in enumerate(child for child in elem if _local(child.tag) == "event")
    ]
    return XesTrace(_attributes_of(elem), events, position)
