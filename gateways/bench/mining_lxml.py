"""`bench mining`'s second reader: any well-formed log, with lxml, read as PM4Py's default
reader (`iterparse`) reads it, for the logs whose bytes `gateways.bench.mining` does not read
itself (a comment, a prefix, attributes in attributes, entities…)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateways.interchange.xes import open_log

UNSEEN: Any = object()


class UnreadableLog(ValueError):
    """The file is no log PM4Py reads: not XML in UTF-8, or events and traces out of place."""


@dataclass
class Read:
    """A log read for the DFG: per case its events (instant, order read, value of the key)."""

    cases: dict[str, list[tuple[float, int, str | None]]]
    events: int
    with_key: int
    reader: str  # "bytes" (the fast reader) or "lxml"


def moment_of(text: str) -> datetime | None:
    """The instant PM4Py reads in a date's text (one without offset as UTC), or None."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# PM4Py's reader (its default, `iterparse` on lxml) knows an element by how its tag ends,
# tried in this order, and reads an attribute where the element it stands in is an event or
# a trace then open. `lxml_read` does the same.
_KINDS = ("string", "date", "event", "trace", "float", "int", "boolean", "list", "id")
_KINDS_OF_LOG = ("extension", "global", "classifier", "log")


def _kind(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None
    for kind in _KINDS + _KINDS_OF_LOG:
        if tag.endswith(kind):
            return kind
    return None


def _value(kind: str, elem: Any) -> Any:
    """The attribute's value as PM4Py reads it; `UNSEEN` where it sets none. The instant
    of an event is read as the fast reader reads it, whatever the element."""
    raw = elem.get("value")
    if kind == "date" or elem.get("key") == "time:timestamp":
        moment = None if raw is None else moment_of(raw)
        if moment is None and kind == "date":
            return UNSEEN
        return moment.timestamp() if moment and elem.get("key") == "time:timestamp" else moment
    if kind in ("string", "id", "list"):
        return None if kind == "list" else raw
    if kind == "boolean":
        return str(raw).lower() == "true"
    try:
        return float(raw) if kind == "float" else int(raw)
    except (TypeError, ValueError):
        return UNSEEN


def lxml_read(path: Path, key: str) -> Read:
    from lxml import etree

    rows: list[tuple[str, float | None, Any]] = []  # per event of a trace: case, instant, value
    unnamed = 0
    log_open = False
    trace: Any = None
    event: Any = None
    attributes: dict[str, Any] = {}
    name: Any = None
    trace_events: list[tuple[float | None, Any]] = []
    kinds: dict[Any, str | None] = {}
    wanted = (key, "time:timestamp", "concept:name")
    try:
        with open_log(path) as stream:
            for action, elem in etree.iterparse(
                stream, events=("start", "end"), encoding="utf-8", resolve_entities="internal"
            ):
                tag = elem.tag
                kind = kinds[tag] if tag in kinds else kinds.setdefault(tag, _kind(tag))
                if action == "start":
                    if kind == "event":
                        if event is not None:
                            raise UnreadableLog("an event inside another event")
                        event, attributes = elem, {}
                    elif kind == "trace":
                        if not log_open or trace is not None:
                            raise UnreadableLog("a trace outside the log or inside another trace")
                        trace, name, trace_events = elem, None, []
                    elif kind == "log":
                        if log_open:
                            raise UnreadableLog("two logs in one file")
                        log_open = True
                    elif kind in _KINDS_OF_LOG:
                        if not log_open:
                            raise UnreadableLog(f"a <{kind}> outside the log")
                    elif kind is not None and (attribute := elem.get("key")) in wanted:
                        parent = elem.getparent()
                        if parent is None or (parent is not event and parent is not trace):
                            continue
                        if (value := _value(kind, elem)) is UNSEEN:
                            continue
                        if parent is event:
                            attributes[attribute] = value
                        elif attribute == "concept:name":
                            name = value
                    continue
                if kind == "event" and trace is not None:
                    trace_events.append((attributes.get("time:timestamp"), attributes.get(key)))
                    event = None  # (PM4Py keeps an event read outside a trace open)
                elif kind == "trace":
                    if name is None:
                        unnamed += 1
                    case = f"\x00{unnamed}" if name is None else str(name)
                    rows += ((case, stamp, value) for stamp, value in trace_events)
                    trace = None
                elem.clear(keep_tail=True)
                parent = elem.getparent()
                while parent is not None and elem.getprevious() is not None:
                    del parent[0]  # what was read before it
    except etree.XMLSyntaxError as exc:
        raise UnreadableLog(f"{path.name}: not an XML file PM4Py reads ({exc})") from exc
    except UnreadableLog as exc:
        raise UnreadableLog(f"{path.name}: {exc}") from exc
    values = _as_text([value for _case, _stamp, value in rows])
    cases: dict[str, list[tuple[float, int, str | None]]] = {}
    events = with_key = 0
    for (case, stamp, _), value in zip(rows, values, strict=True):
        bucket = cases.setdefault(case, [])
        if stamp is not None:
            events += 1
            with_key += value is not None
            bucket.append((stamp, events, value))
    return Read(cases, events, with_key, "lxml")


def _as_text(values: list[Any]) -> list[str | None]:
    """The key's values as PM4Py's table gives them (`astype("string")`): where some are
    numbers, truth values or instants, pandas makes one type of the column first (whole
    numbers with a gap among them are written `5.0`)."""
    if all(value is None or isinstance(value, str) for value in values):
        return values
    import pandas

    return [None if value is pandas.NA else value for value in pandas.Series(values).astype("string")]
