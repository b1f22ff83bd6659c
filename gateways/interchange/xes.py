"""XES (IEEE 1849) vocabulary and a streaming reader that keeps every attribute typed.

The reader walks the file with lxml's `iterparse` and hands over one trace at a time,
clearing what it has read, so memory holds one trace whatever the log's size.
Namespaced (`xmlns="http://www.xes-standard.org/"`) and plain files both read.
Attributes come as typed values (`domain.legacy`): string, date, int, float, boolean,
id, list and container, with their nested attributes, in the order written.

Where it was built (a C compiler at install), `gateways/interchange/_xesread.c` reads the
log instead, a chunk of bytes at a time and still one trace at a time, giving the same traces,
attributes and problems: it reads the forms real logs are written in, and hands back to lxml a
trace it does not read (a prefixed element name), or the whole log for what it does not read
outside traces (a DOCTYPE, an encoding other than UTF-8, XML 1.1, a prefixed element between
traces); a gzip-compressed log is read the same way as it is decompressed.

`check_xes` reads a file once without keeping anything, so an import can refuse a file
that is not XES (not XML, another root element, truncated, no trace) before it writes.

A gzip-compressed log (`.xes.gz`, as public logs are published) reads as the log it holds,
known by its first bytes rather than its name.
"""

from __future__ import annotations

import gzip
import importlib
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, cast

from lxml import etree

from domain.errors import InvalidValue
from domain.legacy import text_of

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
# Kept with an imported event of a trace whose times go back: its place in the trace as the
# log wrote it, so the export writes the trace in that order (docs/decisions.md). Never exported.
POSITION = LIENTHONG_PREFIX + "position"

ATTRIBUTE_TAGS = frozenset({"string", "date", "int", "float", "boolean", "id", "list", "container"})

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1  # an XES int is an xs:long
# The years an instant is read as a time in: legacy systems write 0001-01-01 or 9999-12-31
# for "no date", which no working calendar reaches (docs/decisions.md, entry 147).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
# How deep attributes nest before the rest is left out (real logs nest two or three levels;
# a stored event's JSON must stay within its encoder's depth).
MAX_DEPTH = 32

# Why a value was not kept as its declared type (keys of the problems counter).
BAD_INT = "int attribute that is not a 64-bit integer (xs:long): kept as a string"
BAD_FLOAT = "float attribute that is not a number: kept as a string"
BAD_BOOLEAN = "boolean attribute that is not true/false: kept as a string"
BAD_DATE = "date attribute that is not an xs:dateTime: kept as a string"
DATE_REWRITTEN = (
    "date attribute in another ISO 8601 form (a space for the T, no seconds, a week date…): "
    "kept as the same instant written as an xs:dateTime"
)
# The lexical form of an xs:dateTime (XML Schema 1.0), what the XES schema wants of a date.
_XS_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
NOT_A_NAME = (
    "attribute key that is not an XML name (a space in it, say): kept as written, so an XES "
    "export holding it does not validate against the standard's schema"
)
NO_KEY = "attribute without a key: not imported"
NO_VALUE = "attribute without a value: read as empty"
UNKNOWN_ELEMENT = "element XES does not define inside a trace or event: not imported"
EVENT_OUTSIDE_TRACE = "event directly under the log, in no trace: not imported"
TOO_DEEP = f"attribute nested more than {MAX_DEPTH} levels deep: not imported"


def _compiled_reader() -> Any:
    """The typed read compiled (gateways/interchange/_xesread.c) where `pip install` built it
    (it needs a C compiler), else None: lxml reads every log."""
    try:
        return importlib.import_module("gateways.interchange._xesread")
    except ImportError:  # pragma: no cover - installed without a C compiler
        return None


_xesread = _compiled_reader()


def typed_reader() -> str:
    """Which reader `XesLog.traces` uses: "compiled" (with lxml for what it leaves) or "lxml"."""
    return "lxml" if _xesread is None else "compiled"


READ_BYTES = 1 << 20  # what the compiled reader is given at a time (more for a longer trace)
# What the compiled reader's `next` answers (gateways/interchange/_xesread.c).
_TRACE, _ODD_TRACE, _END, _MORE = range(4)


class NotXes(InvalidValue):
    """The file cannot be imported as an XES log (the message says why)."""


_GZIP_MAGIC = b"\x1f\x8b"
# What a damaged gzip stream raises as it is read (through lxml, which passes it on).
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def is_gzip(path: Path) -> bool:
    """Whether the file is gzip-compressed (by its first two bytes, whatever its name)."""
    with path.open("rb") as stream:
        return stream.read(2) == _GZIP_MAGIC


@contextmanager
def xml_source(path: Path) -> Iterator[str | BinaryIO]:
    """What lxml is given to read the log: the file's name (libxml2 reads it itself, fastest),
    or for a gzip-compressed log a stream of what it holds."""
    if not is_gzip(path):
        yield str(path)
        return
    with gzip.open(path, "rb") as stream:
        yield cast(BinaryIO, stream)


def open_log(path: Path) -> BinaryIO:
    """The log's bytes as written, read through gzip where the file is compressed."""
    return cast(BinaryIO, gzip.open(path, "rb")) if is_gzip(path) else path.open("rb")


def log_stem(path: Path) -> str:
    """The file's name without `.gz`, then without its extension: `fines.xes.gz` -> `fines`."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(name).stem or name


# An xs:Name (XML 1.0 fifth edition), what the standard's schema wants of an attribute's key.
_NAME_START = (
    ":A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_XML_NAME = re.compile(f"[{_NAME_START}][{_NAME_START}\\-.0-9\xb7\u0300-\u036f\u203f\u2040]*")


_NAMES: set[str] = set()  # keys found to be XML names (a log has few: each is matched once)


def _check_name(key: str, problems: Counter[str]) -> None:
    """Counts `key` when it is no xs:Name; remembers it when it is one."""
    if _XML_NAME.fullmatch(key) is None:
        problems[NOT_A_NAME] += 1
    elif len(_NAMES) < 65536:
        _NAMES.add(key)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _ByLocalName(dict[Any, Any]):
    """Element tag -> what its local name means here, learnt on first sight: one dict lookup
    per element whatever namespace a writer used (the standard's, Disco's without the last
    slash, OpenXES's `http://code.deckfour.org/xes`, none). Comments and processing
    instructions have no text tag: nothing."""

    def __init__(self, meaning: Callable[[str], Any]) -> None:
        super().__init__()
        self.meaning = meaning

    def __missing__(self, tag: Any) -> Any:
        found = self.meaning(_local(tag)) if isinstance(tag, str) else None
        if len(self) < 4096:  # a log has a handful of tags
            self[tag] = found
        return found


# Element tag -> attribute type (None: no attribute); whether a tag is an event's.
_TYPE_OF = _ByLocalName(lambda local: local if local in ATTRIBUTE_TAGS else None)
_IS_EVENT = _ByLocalName(lambda local: local == "event")
_TRACE_TAGS = "{*}trace"  # in any namespace, or none


def parse_instant(text: str, zone: tzinfo | None = None, *, later: bool = False) -> datetime | None:
    """An xs:dateTime as an aware datetime; None when it is malformed, falls outside the years
    EARLIEST_YEAR–LATEST_YEAR or has no offset (unless `zone` says where such times were
    written: then it is that zone's wall-clock time, with the offset it had then; in the hour
    the zone repeats when its clocks go back, the first of the two unless `later`)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        if zone is None:
            return None
        # Held at the offset it had (not the zone): datetimes sharing one zone object compare
        # as wall clocks, and an instant of the repeated hour would sort before an earlier one.
        offset = value.replace(tzinfo=zone, fold=int(later)).utcoffset()
        if offset is None:
            return None
        value = value.replace(tzinfo=timezone(offset))
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return None
    return value


def _scalar(tag: str, raw: str, problems: Counter[str]) -> dict[str, Any]:
    """A typed value from an attribute element's tag and text (kept as a string if invalid)."""
    if tag == "int":
        try:
            whole = int(raw.strip())
        except ValueError:
            problems[BAD_INT] += 1
        else:
            if LONG_MIN <= whole <= LONG_MAX:  # the schema's xs:long, what JSON numbers hold here
                return {"type": "int", "value": whole}
            problems[BAD_INT] += 1
    elif tag == "float":
        try:
            number = float(raw.strip())
        except ValueError:
            problems[BAD_FLOAT] += 1
        else:
            # INF and NaN have no JSON number: they keep their text, still typed float.
            return {"type": "float", "value": number if math.isfinite(number) else raw.strip()}
    elif tag == "boolean":
        flag = raw.strip().lower()
        if flag in ("true", "1", "false", "0"):
            return {"type": "boolean", "value": flag in ("true", "1")}
        problems[BAD_BOOLEAN] += 1
    elif tag == "date":
        text = raw.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            problems[BAD_DATE] += 1
        else:
            if _XS_DATETIME.fullmatch(text) is None:
                # Python reads more of ISO 8601 than the schema allows: what PM4Py reads as
                # this instant is kept as it, in the form an export can validate.
                problems[DATE_REWRITTEN] += 1
                return {"type": "date", "value": moment.isoformat()}
            return {"type": "date", "value": raw}
    else:  # string, id
        return {"type": tag, "value": raw}
    return {"type": "string", "value": raw}


def typed_value(elem: Any, problems: Counter[str], depth: int = 1) -> dict[str, Any]:
    """The typed value of one attribute element, its nested attributes included (down to
    MAX_DEPTH levels; what is deeper is left out and counted)."""
    tag = _TYPE_OF[elem.tag] or _local(elem.tag)
    if tag == "string" and not len(elem):  # the common case, kept short
        raw = elem.get("value")
        if raw is not None:
            return {"type": "string", "value": raw}
    children: dict[str, Any] = {}
    inner = depth + 1
    if tag in ("list", "container"):
        items: list[dict[str, Any]] = []
        for child in elem:
            kind = _local(child.tag)
            if kind == "values":
                items.extend(
                    _keyed(c, problems, inner)
                    for c in child
                    if _local(c.tag) in ATTRIBUTE_TAGS and _fits(inner, problems)
                )
            elif kind in ATTRIBUTE_TAGS and _fits(inner, problems):
                if tag == "container":
                    items.append(_keyed(child, problems, inner))
                elif (key := child.get("key")) is not None:
                    children[key] = _named(key, child, problems, inner)
        value: dict[str, Any] = {"type": tag, "value": items}
    else:
        raw = elem.get("value")
        if raw is None:
            problems[NO_VALUE] += 1
            raw = ""
        value = _scalar(tag, raw, problems)
        if len(elem):
            for child in elem:
                if _TYPE_OF[child.tag] and (key := child.get("key")) is not None and _fits(inner, problems):
                    children[key] = _named(key, child, problems, inner)
    if children:
        value["children"] = children
    return value


def _fits(depth: int, problems: Counter[str]) -> bool:
    """Whether an attribute at `depth` is read (else it is counted as too deep)."""
    if depth <= MAX_DEPTH:
        return True
    problems[TOO_DEEP] += 1
    return False


def _keyed(elem: Any, problems: Counter[str], depth: int) -> dict[str, Any]:
    key = elem.get("key", "")
    return {"key": key, **_named(key, elem, problems, depth)}


def _named(key: str, elem: Any, problems: Counter[str], depth: int) -> dict[str, Any]:
    """A nested attribute's typed value, its key counted when it is no XML name."""
    if key not in _NAMES:
        _check_name(key, problems)
    return typed_value(elem, problems, depth)


def attributes_of(elem: Any, problems: Counter[str]) -> dict[str, dict[str, Any]]:
    """The element's own attributes (key -> typed value), in the order written."""
    out: dict[str, dict[str, Any]] = {}
    for child in elem:
        tag = child.tag
        if _TYPE_OF[tag]:
            key = child.get("key")
            if key is None:
                problems[NO_KEY] += 1
                continue
            out[key] = typed_value(child, problems)
        elif not _IS_EVENT[tag] and isinstance(tag, str):
            problems[UNKNOWN_ELEMENT] += 1
    if not _NAMES.issuperset(out):  # one test in C for the element's keys, seldom more
        for key in out:
            if key not in _NAMES:
                _check_name(key, problems)
    return out


def _read_trace(elem: Any, position: int, problems: Counter[str]) -> XesTrace:
    """A trace element read: its events' attributes, then its own (the problems counted so)."""
    events = [
        XesEvent(attributes_of(child, problems), index)
        for index, child in enumerate(c for c in elem if _IS_EVENT[c.tag])
    ]
    return XesTrace(attributes_of(elem, problems), events, position)


def typed_text(typed: dict[str, dict[str, Any]], key: str) -> str | None:
    """`text_of(typed.get(key))`, the common case first: a string, date or id is its text as
    written (a list's or container's value is a list; a number or boolean goes the long way).
    An import reads five or six keys of every event."""
    value = typed.get(key)
    if value is None:
        return None
    raw = value.get("value")
    return raw if type(raw) is str else text_of(value)


@dataclass(frozen=True)
class XesEvent:
    """One event's attributes (key -> typed value, in the order written)."""

    typed: dict[str, dict[str, Any]]
    position: int  # order in the trace as written

    def text(self, key: str) -> str | None:
        return typed_text(self.typed, key)

    @property
    def activity(self) -> str:
        return (self.text(NAME) or "").strip()

    def timestamp(self, zone: tzinfo | None = None, *, later: bool = False) -> datetime | None:
        """Its time:timestamp (`parse_instant`: a time without an offset only with `zone`)."""
        text = self.text(TIMESTAMP)
        return parse_instant(text, zone, later=later) if text else None


@dataclass(frozen=True)
class XesTrace:
    typed: dict[str, dict[str, Any]]
    events: list[XesEvent]
    position: int  # 1-based order in the log

    def text(self, key: str) -> str | None:
        return typed_text(self.typed, key)

    @property
    def name(self) -> str:
        return (self.text(NAME) or "").strip()


@dataclass
class XesLog:
    """A log read one trace at a time; `attributes` fills in as the header is read."""

    path: Path
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        """The log's concept:name, else the file's stem."""
        return (text_of(self.attributes.get(NAME)) or "").strip() or log_stem(self.path)

    def traces(self) -> Iterator[XesTrace]:
        if _xesread is None:
            with xml_source(self.path) as source:
                yield from self._traces(source)
        else:
            yield from self._compiled_traces()

    def _compiled_traces(self) -> Iterator[XesTrace]:
        """The compiled reader's traces; where it finds, outside a trace, a form it leaves to
        lxml, the log is read again by lxml from the start as if nothing had been read (the
        problems and attributes as they were), and only the traces not given yet are given."""
        assert _xesread is not None
        problems, attributes = Counter(self.problems), dict(self.attributes)
        given = 0
        try:
            with open_log(self.path) as stream:
                for trace in self._read_compiled(_xesread, stream):
                    yield trace
                    given += 1
            return
        except _xesread.Odd:
            pass
        self.problems.clear()
        self.problems.update(problems)
        self.attributes.clear()
        self.attributes.update(attributes)
        with xml_source(self.path) as source:
            for trace in self._traces(source):
                if trace.position > given:
                    yield trace

    def _read_compiled(self, compiled: Any, stream: BinaryIO) -> Iterator[XesTrace]:
        """The log read READ_BYTES at a time by `compiled.Reader`, which answers trace by trace
        (gateways/interchange/_xesread.c): a trace it read, or the bytes of one it leaves to
        lxml, read alone in a copy of the log's start tag (its namespaces)."""
        problems = self.problems
        reader = compiled.Reader(
            problems,
            self.attributes,
            ({}, Counter(), Counter(), Counter()),  # the header and scratch counters
            _scalar,
            _check_name,
            _NAMES,
            (NO_KEY, NO_VALUE, UNKNOWN_ELEMENT, TOO_DEEP),
            MAX_DEPTH,
        )
        held, final = b"", False
        while (head := reader.prolog(held)) is None:
            if final:
                raise compiled.Odd("the file ends before its root element")
            chunk = stream.read(READ_BYTES)
            held, final = held + chunk, not chunk
        offset, start, root, empty = head
        if empty:
            return
        opening, closing = held[start:offset], b"</" + root + b">"
        parser = etree.XMLParser(remove_comments=True, huge_tree=True)
        position = 0
        while True:
            answer = reader.next(held, offset)
            kind = answer[0]
            if kind == _MORE:
                if final:
                    raise compiled.Odd("the file ends inside its log")
                kept = held[answer[1] :]
                chunk = stream.read(max(READ_BYTES, len(kept)))  # a long trace: twice as much held
                held, offset, final = kept + chunk, 0, not chunk
                continue
            if kind == _END:
                if answer[2]:
                    problems[EVENT_OUTSIDE_TRACE] += answer[2]
                return
            position += 1
            if kind == _TRACE:
                _kind, offset, typed, events, stray = answer
                trace = XesTrace(typed, [XesEvent(e, index) for index, e in enumerate(events)], position)
            else:
                _kind, offset, begin, end, stray = answer
                alone = etree.fromstring(opening + held[begin:end] + closing, parser)
                trace = _read_trace(alone[0], position, problems)
            yield trace
            if stray:  # the events in no trace before this one, counted as lxml's reader does
                problems[EVENT_OUTSIDE_TRACE] += stray

    def _traces(self, source: str | BinaryIO) -> Iterator[XesTrace]:
        position = 0
        problems = self.problems
        header = True
        log = None
        # lxml hands over only the ends of traces (the filter runs in C); a trace is then
        # read whole from its element, and dropped with what came before it: constant memory.
        for _kind, elem in etree.iterparse(
            source, events=("end",), tag=_TRACE_TAGS, remove_comments=True, huge_tree=True
        ):
            parent = elem.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # a trace inside something else is not one of the log's
            if header:
                header = False
                for child in parent:  # the log's attributes, written before its traces
                    if child is elem:
                        break
                    if _TYPE_OF[child.tag] and (key := child.get("key")) is not None:
                        self.attributes[key] = typed_value(child, problems)
            position += 1
            yield _read_trace(elem, position, problems)
            elem.clear()
            while elem.getprevious() is not None:
                if _IS_EVENT[parent[0].tag]:
                    problems[EVENT_OUTSIDE_TRACE] += 1
                del parent[0]
            log = parent
        if log is not None:  # what follows the last trace (counted only if any: the report
            # lists every reason it holds, so a reason counted 0 times would read as a problem)
            stray = sum(1 for child in log if _IS_EVENT[child.tag])
            if stray:
                problems[EVENT_OUTSIDE_TRACE] += stray


def check_xes(path: Path) -> int:
    """The number of traces in the XES log at `path`; `NotXes` says why it is not one.

    Reads the whole file once, holding one trace at a time, so that a truncated or
    otherwise malformed file is refused before anything is written. Only the root and
    the ends of traces reach Python (lxml filters the rest in C).
    """
    traces = 0
    try:
        _check_root(path)
        with xml_source(path) as source:
            for _kind, elem in etree.iterparse(source, events=("end",), tag=_TRACE_TAGS, huge_tree=True):
                parent = elem.getparent()
                if parent is None:
                    continue  # pragma: no cover - the root is a <log>
                traces += parent.getparent() is None  # the log's own traces, not nested ones
                elem.clear()
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise NotXes(f"{path.name} is not well-formed XML: {exc}") from exc
    except _GZIP_ERRORS as exc:
        raise NotXes(f"{path.name} is a damaged or truncated gzip file: {exc}") from exc
    if traces == 0:
        raise no_trace(path)
    return traces


def check_well_formed(path: Path) -> None:
    """`NotXes` unless the file at `path` is well-formed XML whose root is a <log>: what an
    import checks before it writes anything, so that a truncated or otherwise malformed file is
    refused whole. libxml2 parses it as `check_xes` does, but hands nothing to Python (no tree
    is built, no trace counted): about a third of the time. A log holding no trace is the
    import's to refuse (`no_trace`), once it has read the traces."""
    try:
        _check_root(path)
        parser = etree.XMLParser(target=_Nothing(), huge_tree=True)
        with open_log(path) as stream:
            while chunk := stream.read(1 << 20):
                parser.feed(chunk)
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise NotXes(f"{path.name} is not well-formed XML: {exc}") from exc
    except _GZIP_ERRORS as exc:
        raise NotXes(f"{path.name} is a damaged or truncated gzip file: {exc}") from exc


class _Nothing:
    """A parser target that takes nothing: libxml2 then calls no Python while it parses."""

    def close(self) -> None:
        return None


def no_trace(path: Path) -> NotXes:
    """What an import says of a well-formed log that holds no trace."""
    return NotXes(f"{path.name} holds no trace: nothing to import")


def _check_root(path: Path) -> None:
    """Reads the file up to its root element: a <log>, or `NotXes`."""
    with xml_source(path) as source:
        for _kind, root in etree.iterparse(source, events=("start",), huge_tree=True):
            if _local(root.tag) != "log":
                tag = _local(root.tag)
                raise NotXes(
                    f"{path.name} is not an XES log: its root element is <{tag}>, an XES log's is <log>"
                )
            return
