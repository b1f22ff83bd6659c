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
an event without a valid timestamp is left out. A log in which no event has the key is
refused with a message that says so.
"""

from __future__ import annotations

import html
import itertools
import re
import time
import warnings
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from gateways.bench import BenchUnavailable
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
_UNSEEN: Any = object()


class KeyMissing(ValueError):
    """No event of the log has the attribute the DFG is computed on."""


@dataclass(frozen=True)
class _Attribute:
    """Where an attribute element with one key gives its value. Nearly every writer puts the
    key first; XML gives an element's attributes no order, so value-first is read too."""

    key_first: re.Pattern[bytes]
    value_first: re.Pattern[bytes]
    key: bytes  # value-first is tried only where the key's text is


def _attribute(key: str) -> _Attribute:
    """The patterns of an attribute element with this key (either order, either quote)."""
    k = re.escape(key.encode())
    named = rb"key=(?:\"" + k + rb"\"|'" + k + rb"')"
    value = rb"value=(?:\"([^\"]*)\"|'([^']*)')"
    return _Attribute(
        re.compile(named + rb"\s+" + value),
        re.compile(value + rb"\s+" + named),
        key.encode(),
    )


def _find(text: bytes, attribute: _Attribute) -> bytes | None:
    """The value of the first attribute element with the key in `text`."""
    match = attribute.key_first.search(text)
    if match is None:
        if attribute.key not in text:
            return None
        match = attribute.value_first.search(text)
        if match is None:
            return None
    value = match.group(1)
    return value if value is not None else match.group(2)


@dataclass(frozen=True)
class EdgeStats:
    count: int
    mean: float
    median: float
    min: float = 0.0
    max: float = 0.0


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
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


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return html.unescape(text) if "&" in text else text


def _seconds(raw: bytes) -> float | None:
    try:
        value = datetime.fromisoformat(_text(raw))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # PM4Py reads an instant without offset as UTC
    return value.timestamp()


def _close(events: list[tuple[float, int, str | None]], durations: dict[Edge, array[float]]) -> None:
    # Events of a case in time order; ties keep the document order (a stable sort, as PM4Py's).
    events.sort(key=lambda e: (e[0], e[1]))
    for (ta, _i, a), (tb, _j, b) in itertools.pairwise(events):
        if a is None or b is None:
            continue
        bucket = durations.get((a, b))
        if bucket is None:
            bucket = durations[(a, b)] = array("d")
        bucket.append(tb - ta)


def edge_stats(path: Path, key: str = DEFAULT_KEY) -> tuple[dict[Edge, EdgeStats], int]:
    """Per directly-follows pair of `key` values: count, mean, median, min and max seconds;
    and the events read. Raises `KeyMissing` when no event has `key`.

    The bytes are cut at trace and event starts (C speed); in each event only the two
    attributes the statistics need are looked up. The collector's first generation is made
    large meanwhile (`gateways.collector`): the read allocates a few small objects per event,
    none in a cycle, and in a process holding a large heap (PM4Py imported) each full
    collection they set off walked all of it."""
    with fewer_collections():
        return _edge_stats(path, key)


def _edge_stats(path: Path, key: str) -> tuple[dict[Edge, EdgeStats], int]:
    wanted, name, stamp_key = _attribute(key), _attribute("concept:name"), _attribute("time:timestamp")
    cases: dict[str, list[tuple[float, int, str | None]]] = {}
    unnamed = events = with_key = 0
    # Raw bytes -> what they read as: logs repeat their activities and many stamp whole days
    # alike, so each distinct text is decoded once (held up to HELD of each, then begun again).
    texts: dict[bytes, str] = {}
    stamps: dict[bytes, float | None] = {}
    with open_log(path) as stream:
        for chunk in _chunks(stream):
            for piece in chunk.split(b"<trace")[1:]:
                if piece[:1] not in (b">", b" ", b"\t", b"\n", b"\r"):
                    continue  # another element whose name starts so
                parts = piece.split(b"<event")
                raw_case = _find(parts[0], name)
                if raw_case is None:
                    unnamed += 1
                    case = f"\x00{unnamed}"
                else:
                    case = _text(raw_case)
                trace = cases.setdefault(case, [])
                for part in parts[1:]:
                    end = part.find(b"</event>")
                    body = part[:end] if end >= 0 else part
                    raw_stamp = _find(body, stamp_key)
                    if raw_stamp is None:
                        continue
                    stamp = stamps.get(raw_stamp, _UNSEEN)
                    if stamp is _UNSEEN:
                        if len(stamps) >= HELD:
                            stamps.clear()
                        stamp = stamps[raw_stamp] = _seconds(raw_stamp)
                    if stamp is None:
                        continue
                    raw_value = _find(body, wanted)
                    value = None
                    if raw_value is not None:
                        value = texts.get(raw_value)
                        if value is None:
                            if len(texts) >= HELD:
                                texts.clear()
                            value = texts[raw_value] = _text(raw_value)
                        with_key += 1
                    events += 1
                    trace.append((stamp, events, value))
    if events and not with_key:
        raise KeyMissing(f"{path.name}: no event has the attribute {key!r}, so there is no DFG on it")
    durations: dict[Edge, array[float]] = {}
    for trace_events in cases.values():
        _close(trace_events, durations)
    return {edge: _stats(values) for edge, values in durations.items()}, events


def _stats(values: array[float]) -> EdgeStats:
    """Count, mean, median, min and max of one edge's seconds (sorted once)."""
    ordered = sorted(values)
    n = len(ordered)
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
    started = time.perf_counter()
    ours, read = edge_stats(path, key)
    our_seconds = time.perf_counter() - started
    theirs, their_seconds, _ = pm4py_edge_stats(path, key)
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
