"""`bench mining`: from an XES file, end to end (parse + compute), the directly-follows
graph (DFG) and performance DFG on one attribute (`--key`: `org:group` by default, the
agency as the activity; or `concept:name`, `org:resource`, any event attribute): for every
pair of directly-following events of a case, its count and the mean, median, min and max
calendar seconds between them. The file: the project's own export of a simulated history,
or any XES log given with `--xes FILE`. The baseline, in the same run, on the same file:
PM4Py reading it and computing its performance DFG on the same key. The numbers are
compared before the times: a faster wrong answer is no answer. PM4Py is the optional
extra `[mining]`.

Read as PM4Py reads a log: a case is the traces of one `concept:name` (traces without one
are each their own case), its events in time order (ties in document order); an event
without the key still follows and precedes others, but no edge starts or ends at it;
an event without a valid timestamp is left out. A log where no event has the key, or one
PM4Py's reader refuses (no UTF-8 XML, an event outside a trace), is refused with a message.
"""

from __future__ import annotations

import functools
import itertools
import re
import time
import warnings
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from gateways.bench import BenchUnavailable
from gateways.bench.mining_lxml import Read, lxml_read, moment_of
from gateways.bench.report import BenchResult
from gateways.bench.workload import workbench
from gateways.collector import fewer_collections
from gateways.interchange.export import ExportFormat, export
from gateways.interchange.selection import Selection
from gateways.interchange.xes import open_log
from gateways.settings import Settings

Edge = tuple[str, str]
CHUNK = 8 * 1024 * 1024
DEFAULT_KEY = "org:group"
MISSING = "\x00no value"  # stands for an event without the key in PM4Py's dataframe
HELD = 100_000  # distinct texts and instants remembered while reading (each kind)
ROUNDS = 3  # runs of each reader in a bench, the best of each counted


# The fast reader takes a log in the shape writers give it: `<trace>` and `<event>` elements
# without prefix or attributes, each attribute one self-closing `<string key="…" value="…"/>`
# (string, date, int, float, boolean or id) with the key written first. Anything else seen
# in a chunk (a comment, a DOCTYPE, a processing instruction, a prefixed or nested element,
# a list, single quotes, spaces around `=`, a key's character reference, bytes that are no
# UTF-8, an attribute of the trace after its events…) and the whole file is read again with
# lxml, as PM4Py reads it.
_TAGS = (b"string", b"date", b"int", b"float", b"boolean", b"id")
_TEXT_TAGS = (b"string", b"id")  # the others PM4Py reads as numbers, dates or truth values
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*\?>")
_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_ROOT = re.compile(rb"<log[\s>]")
_OUTSIDE = re.compile(rb"<[\w.:-]*(?:event|trace)[\s/>]")  # an event or trace before the first trace
_SINGLE_QUOTED = re.compile(rb"=\s*'")
_KEY_REFERENCE = re.compile(rb"key\s*=\s*\"[^\"]*&#")
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z_][\w.-]*));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


class KeyMissing(ValueError):
    """No event of the log has the attribute the DFG is computed on."""


class _Odd(Exception):
    """The fast reader met markup it does not read as an XML parser does."""


@dataclass(frozen=True)
class _Key:
    """An attribute looked up by its key in quotes (the last one of an element wins) and
    matched there, behind the element's name: text or a value cannot hold a `<`."""

    quoted: bytes
    pattern: re.Pattern[bytes]


def _quoted(key: str) -> bytes:
    return b'"' + key.encode() + b'"'


def _prefixes(tags: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """What stands before an attribute's quoted key: `<string key=`, `<date key=`…"""
    return tuple(b"<" + tag + b" key=" for tag in tags)


def _lookbehind(quoted: bytes, prefixes: tuple[bytes, ...]) -> re.Pattern[bytes]:
    behind = b"|".join(b"(?<=" + re.escape(prefix) + b")" for prefix in prefixes)
    return re.compile(b"(?:" + behind + b")" + re.escape(quoted) + rb' value="([^"]*)"')


def _last(data: bytes, key: _Key) -> bytes | None:
    """The value of the last attribute with the key in `data`, None where there is none."""
    match = key.pattern.match(data, at) if (at := data.rfind(key.quoted)) >= 0 else None
    if at >= 0 and match is None:
        raise _Odd
    return None if match is None else match.group(1)


@dataclass(slots=True)
class EdgeStats:
    """One edge's count and seconds (not frozen: a frozen one takes twice as long to make,
    and a log with many activities has thousands of edges)."""

    count: int
    mean: float
    median: float
    min: float = 0.0
    max: float = 0.0


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The file in pieces that each end after a `</trace>` (the last piece: whatever is left)."""
    rest = b""
    while block := stream.read(CHUNK):
        data = rest + block
        cut = data.rfind(b"</trace>")
        if cut < 0:
            rest = data
            continue
        cut += len(b"</trace>")
        yield data[:cut]
        rest = data[cut:]
    if rest:
        yield rest


def _referenced(match: re.Match[str]) -> str:
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        if name not in _NAMED:
            raise _Odd  # an entity of a DTD
        return _NAMED[name]
    try:
        return chr(int(hexadecimal, 16) if hexadecimal is not None else int(decimal))
    except (ValueError, OverflowError):
        raise _Odd from None


def _text(raw: bytes) -> str:
    """An attribute value as XML reads it: line breaks and tabs written as such are spaces,
    then the references are replaced (`&#x80;` is U+0080)."""
    text = raw.decode("utf-8")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if "&" in text:
        if text.count("&") != len(_REFERENCE.findall(text)):
            raise _Odd
        text = _REFERENCE.sub(_referenced, text)
    return text


def _seconds(raw: bytes) -> float | None:
    try:
        value = datetime.fromisoformat(raw.decode("utf-8"))
    except ValueError:
        # Written with a reference or a line break, or no instant.
        moment = moment_of(_text(raw))
        return moment.timestamp() if moment is not None else None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _close(events: list[tuple[float, int, str | None]], durations: dict[Edge, array[float]]) -> None:
    # Events of a case in time order; ties keep the document order (a stable sort, as PM4Py's).
    events.sort()  # (instant, order read): the order read is never the same twice
    for (ta, _i, a), (tb, _j, b) in itertools.pairwise(events):
        if a is None or b is None:
            continue
        bucket = durations.get((a, b))
        if bucket is None:
            bucket = durations[(a, b)] = array("d")
        bucket.append(tb - ta)


def edge_stats(path: Path, key: str = DEFAULT_KEY) -> tuple[dict[Edge, EdgeStats], int]:
    """Per directly-follows pair of `key` values: count, mean, median, min and max seconds;
    and the events read. Raises `KeyMissing` when no event has `key`, `UnreadableLog` where
    PM4Py's reader refuses the file."""
    with fewer_collections():  # (why: `read_log`) the edges' arrays and statistics too
        read = read_log(path, key)
        if read.events and not read.with_key:
            raise KeyMissing(f"{path.name}: no event has the attribute {key!r}, so there is no DFG on it")
        durations: dict[Edge, array[float]] = {}
        for trace_events in read.cases.values():
            _close(trace_events, durations)
        return {edge: _stats(values) for edge, values in durations.items()}, read.events


def read_log(path: Path, key: str = DEFAULT_KEY) -> Read:
    """The log's events, read from its bytes where they have the usual shape (cut at trace
    and event starts at C speed, only the attributes needed looked up), else with lxml. The
    collector's first generation is made large meanwhile (`gateways.collector`): the read
    allocates a few small objects per event, none in a cycle, and in a process holding a
    large heap (PM4Py imported) each full collection they set off walked all of it."""
    with fewer_collections():
        try:
            return _bytes_read(path, key)
        except _Odd:
            return lxml_read(path, key)


def _gap(data: bytes, start: int) -> None:
    """Between two traces, nothing but text and the log's end."""
    at = data.find(b"<", start)
    if at >= 0 and (not data.startswith(b"</log>", at) or data.find(b"<", at + 6) >= 0):
        raise _Odd


def _body(chunk: bytes) -> int:
    """Where the first chunk's first trace starts, once what comes before is seen to be a
    plain header: the root `<log>`, its extensions, globals, classifiers and attributes."""
    start = chunk.find(b"<trace") % (len(chunk) + 1)  # (no trace: all of it)
    head = chunk[:start]
    declaration = _DECLARATION.match(head)
    head = _COMMENT.sub(b"", head[declaration.end() if declaration else 0 :])
    if b"<!" in head or b"<?" in head or _ROOT.search(head) is None or _OUTSIDE.search(head):
        raise _Odd
    return start


def _check(chunk: bytes, start: int) -> None:
    """Rare bytes found at C speed; the markup they may start is looked for only then."""
    for part in (chunk[:start], chunk[start:]) if start else (chunk,):  # a header may differ
        if not part.isascii():
            try:
                part.decode("utf-8")
            except UnicodeDecodeError:
                raise _Odd from None
    for byte, odd in ((b"!", b"<!"), (b"?", b"<?")):  # a comment, CDATA, a DTD, an instruction
        if chunk.find(byte, start) >= 0 and chunk.find(odd, start) >= 0:
            raise _Odd
    if chunk.find(b"'", start) >= 0 and _SINGLE_QUOTED.search(chunk, start):
        raise _Odd
    if chunk.find(b"&", start) >= 0 and chunk.find(b"&#", start) >= 0 and _KEY_REFERENCE.search(chunk, start):
        raise _Odd


Keys = tuple[bytes, tuple[bytes, ...], bytes, tuple[bytes, ...], bytes, tuple[bytes, ...]]
Counts = tuple[int, int, int]  # traces without a name so far, events read, events with the key
Cases = dict[str, list[tuple[float, int, str | None]]]
# chunk, start, keys, cases, texts, held, seconds, text, odd, counts -> counts
Scan = Callable[
    [
        bytes,
        int,
        Keys,
        Cases,
        dict[bytes, str],
        int,
        Callable[[bytes], float | None],
        Callable[[bytes], str],
        type[Exception],
        Counts,
    ],
    Counts,
]


def _scan_python(
    chunk: bytes,
    start: int,
    keys: Keys,
    cases: Cases,
    texts: dict[bytes, str],
    held: int,
    seconds: Callable[[bytes], float | None],
    text: Callable[[bytes], str],
    odd: type[Exception],
    counts: Counts,
) -> Counts:
    """The traces of a chunk from `start`, each event's instant and value of the key added to
    its case in `cases`; raises `odd` at anything the reader does not read as XML does. What
    `gateways/bench/_scan.c` does, compiled: the module is used where it was built."""
    stamp_key, name, wanted = (
        _Key(keys[0], _lookbehind(keys[0], keys[1])),
        _Key(keys[2], _lookbehind(keys[2], keys[3])),
        _Key(keys[4], _lookbehind(keys[4], keys[5])),
    )
    unnamed, events, with_key = counts
    sq, stamp_at = stamp_key.quoted, stamp_key.pattern.match
    wq, value_at = wanted.quoted, wanted.pattern.match
    pieces = chunk[start:].split(b"<trace") if start else chunk.split(b"<trace")
    _gap(pieces[0], 0)
    for piece in pieces[1:]:
        end = piece.rfind(b"</trace>")
        if end < 0 or not piece.startswith(b">"):
            raise odd
        _gap(piece, end + 8)
        parts = piece[:end].split(b"<event")
        head = parts[0]
        if b"</" in head:
            raise odd  # an element with elements in it: a nested attribute, a prefixed event
        raw_case = _last(head, name)
        if raw_case is None:
            unnamed += 1
            case = f"\x00{unnamed}"
        else:
            case = text(raw_case)
        trace = cases.setdefault(case, [])
        for part in parts[1:]:
            end = part.rfind(b"<")  # the event's `</event>`: nothing follows it in the trace
            if not part.startswith(b"</event>", end):
                raise odd
            at = part.rfind(sq, 0, end)  # the last one: PM4Py keeps the last of a key
            if at < 0:
                continue
            match = stamp_at(part, at)
            if match is None:
                raise odd
            stamp = seconds(match.group(1))
            if stamp is None:
                if part.find(sq, 0, at) >= 0:
                    raise odd  # PM4Py keeps the last instant it could read
                continue
            value = None
            found = part.rfind(wq, 0, end)
            if found >= 0:
                match = value_at(part, found)
                if match is None:
                    raise odd
                raw_value = match.group(1)
                value = texts.get(raw_value)
                if value is None:
                    if len(texts) >= held:
                        texts.clear()
                    value = texts[raw_value] = text(raw_value)
                with_key += 1
            # No element after both can hold them; a `<values>` is in a list or
            # container, whose opening tag ends `">`.
            if part.find(b'">', 0, found if found > at else at) >= 0:
                # Elements with attributes in them (`<list key="…">`, a `<string …>`
                # holding others): each of the two must stand outside all of them, as
                # many opened as closed before it. A list after them holds neither.
                for place in (at, found) if found >= 0 else (at,):
                    opened = part.count(b'">', 0, place) + part.count(b"<values", 0, place)
                    if opened != part.count(b"</", 0, place):
                        raise odd
            events += 1
            trace.append((stamp, events, value))
    return unnamed, events, with_key


def _scanner() -> Scan:
    """The compiled scan where `pip install` built it (it needs a C compiler), else the same
    loop in Python."""
    try:
        from gateways.bench import _scan
    except ImportError:
        return _scan_python
    return _scan.scan


SCAN = _scanner()


def _bytes_read(path: Path, key: str) -> Read:
    if not key or any(c in key for c in "&<>\"'") or any(c.isspace() for c in key):
        raise _Odd  # a key whose text XML may write otherwise
    keys: Keys = (
        _quoted("time:timestamp"),
        _prefixes(_TAGS),
        _quoted("concept:name"),
        _prefixes(_TEXT_TAGS),
        _quoted(key),
        _prefixes(_TEXT_TAGS),
    )
    cases: Cases = {}
    # Raw bytes -> what they read as: logs repeat their activities and many stamp whole days
    # alike, so each distinct text is decoded once (held up to HELD of each, then begun again).
    texts: dict[bytes, str] = {}
    seconds = functools.lru_cache(maxsize=HELD)(_seconds)
    counts: Counts = (0, 0, 0)
    first = True
    with open_log(path) as stream:
        for chunk in _chunks(stream):
            start = _body(chunk) if first else 0
            first = False
            _check(chunk, start)
            counts = SCAN(chunk, start, keys, cases, texts, HELD, seconds, _text, _Odd, counts)
    return Read(cases, counts[1], counts[2], "bytes")


def _stats(values: array[float]) -> EdgeStats:
    """Count, mean, median, min and max of one edge's seconds (sorted once)."""
    n = len(values)
    if n == 1:  # most edges of a log with many activities
        only = values[0]
        return EdgeStats(1, only, only, only, only)
    ordered = sorted(values)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return EdgeStats(n, sum(values) / n, median, ordered[0], ordered[-1])


def pm4py_edge_stats(path: Path, key: str = DEFAULT_KEY) -> tuple[dict[Edge, EdgeStats], float, int]:
    """PM4Py's numbers for the same edges, and the seconds its read + performance DFG took."""
    try:
        import pm4py
    except ImportError as exc:
        raise BenchUnavailable("skipped: install .[mining] (PM4Py) to run the mining benchmark") from exc
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its advice to install a faster optional reader
        log = pm4py.read_xes(str(path), show_progress_bar=False)
    if key not in log.columns:
        raise KeyMissing(f"{path.name}: no event has the attribute {key!r}, so there is no DFG on it")
    # PM4Py refuses an activity column with gaps: a placeholder stands in for the missing
    # values, and the edges at it are left out below (no edge starts or ends at such an event).
    log[key] = log[key].astype("string").fillna(MISSING)
    performance, _, _ = pm4py.discover_performance_dfg(
        log, activity_key=key, timestamp_key="time:timestamp", case_id_key="case:concept:name"
    )
    seconds = time.perf_counter() - started
    # Counts come from PM4Py's frequency DFG, outside the timed part (the baseline is its
    # performance DFG alone).
    frequency, _, _ = pm4py.discover_dfg(
        log, activity_key=key, timestamp_key="time:timestamp", case_id_key="case:concept:name"
    )
    stats = {
        edge: EdgeStats(
            int(frequency[edge]),
            float(perf["mean"]),
            float(perf["median"]),
            float(perf["min"]),
            float(perf["max"]),
        )
        for edge, perf in performance.items()
        if MISSING not in edge
    }
    return stats, seconds, len(log)


def differences(
    ours: dict[Edge, EdgeStats], theirs: dict[Edge, EdgeStats], tolerance: float = 1e-6
) -> list[str]:
    """Where the two disagree (relative tolerance on seconds, exact counts); empty when they agree."""
    out = [f"edge {e} only in ours" for e in ours.keys() - theirs.keys()]
    out += [f"edge {e} only in PM4Py's" for e in theirs.keys() - ours.keys()]
    for edge in ours.keys() & theirs.keys():
        a, b = ours[edge], theirs[edge]
        if a.count != b.count:
            out.append(f"{edge}: count {a.count} vs {b.count}")
        for name in ("mean", "median", "min", "max"):
            x, y = getattr(a, name), getattr(b, name)
            if abs(x - y) > tolerance * max(1.0, abs(x), abs(y)):
                out.append(f"{edge}: {name} {x} vs {y}")
    return sorted(out)


def bench_mining(
    settings: Settings,
    events: int,
    store_url: str | None = None,
    xes: Path | None = None,
    key: str = DEFAULT_KEY,
) -> BenchResult:
    try:
        import pm4py  # noqa: F401
    except ImportError as exc:
        raise BenchUnavailable("skipped: install .[mining] (PM4Py) to run the mining benchmark") from exc
    if xes is not None:
        if not xes.is_file():
            raise BenchUnavailable(f"skipped: no XES file at {xes}")
        return _compare(xes, key, {"file": xes.name, "source": "--xes"}, {})
    bench = workbench(settings, events, store_url=store_url)
    try:
        path = bench.work / "log.xes"
        with path.open("w", encoding="utf-8", newline="") as out:
            summary = export(
                ExportFormat.XES, out, bench.container.store, bench.container.catalogue, Selection()
            )
        return _compare(
            path,
            key,
            {"traces": summary.dossiers, "source": "simulated history, lienthong export xes"},
            {"export_seconds": round(summary.seconds, 3)},
        )
    finally:
        bench.close()


def _compare(path: Path, key: str, params: dict[str, Any], extra: dict[str, Any]) -> BenchResult:
    path.read_bytes()  # both readers start from the page cache
    # The best of ROUNDS alternated runs of each, as `bench import` counts (decision 145): a
    # single run measured whatever else the process had just done.
    our_seconds = their_seconds = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        ours, read = edge_stats(path, key)
        our_seconds = min(our_seconds, time.perf_counter() - started)
        theirs, seconds, _ = pm4py_edge_stats(path, key)
        their_seconds = min(their_seconds, seconds)
    disagreements = differences(ours, theirs)
    if disagreements:
        raise RuntimeError(
            f"the numbers differ from PM4Py's on {len(disagreements)} points, first: {disagreements[0]}"
        )
    return BenchResult(
        name="mining",
        value=read / our_seconds,
        unit="events/s",
        baseline=read / their_seconds,
        target_ratio=10.0,
        params={
            **params,
            "events": read,
            "xes_bytes": path.stat().st_size,
            "activity": key,
            "measures": ["count", "mean", "median", "min", "max"],
            "pm4py": _pm4py_version(),
        },
        extra={
            **extra,
            "rounds": ROUNDS,
            "scan": "compiled" if SCAN is not _scan_python else "python",
            "edges": len(ours),
            "numbers_agree": True,
            "our_seconds": round(our_seconds, 3),
            "pm4py_seconds": round(their_seconds, 3),
        },
    )


def _pm4py_version() -> dict[str, Any]:
    import pm4py
    from pm4py.util import constants

    return {"version": getattr(pm4py, "__version__", "?"), "xes_reader": constants.DEFAULT_XES_PARSER}
