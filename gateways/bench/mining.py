"""`bench mining`: from one exported XES file, end to end (parse + compute), the handoff
statistics between agencies with the agency (`org:group`) as the activity: for every pair of
directly-following events of a trace, its count and the mean and median calendar seconds
between them. The baseline, in the same run, on the same file: PM4Py reading it and
computing its performance DFG on `org:group`. The numbers are compared before the times:
a faster wrong answer is no answer. PM4Py is the optional extra `[mining]`.
"""

from __future__ import annotations

import html
import itertools
import re
import statistics
import time
import warnings
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from gateways.bench import BenchUnavailable
from gateways.bench.report import BenchResult
from gateways.bench.workload import workbench
from gateways.interchange.export import ExportFormat, export
from gateways.interchange.selection import Selection
from gateways.settings import Settings

Edge = tuple[str, str]
CHUNK = 8 * 1024 * 1024
# One pass over the bytes finds, in document order, trace and event starts and the two
# attributes the statistics need; the rest of the document is skipped by the regex engine.
_TOKENS = re.compile(
    rb"<(trace)[\s>]|<(event)[\s>]"
    rb"|<string\s+key=\"org:group\"\s+value=(?:\"([^\"]*)\"|'([^']*)')"
    rb"|<date\s+key=\"time:timestamp\"\s+value=(?:\"([^\"]*)\"|'([^']*)')"
)


@dataclass(frozen=True)
class EdgeStats:
    count: int
    mean: float
    median: float


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


def _close(trace: list[tuple[str, float]], durations: dict[Edge, array[float]]) -> None:
    # Events of a trace in time order; ties keep the document order (a stable sort, as PM4Py's).
    trace.sort(key=lambda e: e[1])
    for (a, ta), (b, tb) in itertools.pairwise(trace):
        bucket = durations.get((a, b))
        if bucket is None:
            bucket = durations[(a, b)] = array("d")
        bucket.append(tb - ta)


def edge_stats(path: Path) -> tuple[dict[Edge, EdgeStats], int]:
    """Per directly-follows pair of agencies: count, mean and median seconds; and the events read."""
    durations: dict[Edge, array[float]] = {}
    trace: list[tuple[str, float]] | None = None
    group: str | None = None
    stamp: float | None = None
    events = 0
    parse = datetime.fromisoformat

    def flush_event() -> None:
        nonlocal group, stamp, events
        if trace is not None and group is not None and stamp is not None:
            trace.append((group, stamp))
            events += 1
        group = stamp = None

    with path.open("rb") as stream:
        for chunk in _chunks(stream):
            for match in _TOKENS.finditer(chunk):
                is_trace, is_event, g1, g2, t1, t2 = match.groups()
                if is_trace:
                    flush_event()
                    if trace:
                        _close(trace, durations)
                    trace = []
                elif is_event:
                    flush_event()
                elif g1 is not None or g2 is not None:
                    group = _text(g1 if g1 is not None else g2)
                else:
                    stamp = parse((t1 if t1 is not None else t2).decode("ascii")).timestamp()
    flush_event()
    if trace:
        _close(trace, durations)
    stats = {
        edge: EdgeStats(len(values), sum(values) / len(values), statistics.median(values))
        for edge, values in durations.items()
    }
    return stats, events


def pm4py_edge_stats(path: Path) -> tuple[dict[Edge, EdgeStats], float, int]:
    """PM4Py's numbers for the same edges, and the seconds its read + performance DFG took."""
    try:
        import pm4py
    except ImportError as exc:
        raise BenchUnavailable("skipped: install .[mining] (PM4Py) to run the mining benchmark") from exc
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its advice to install a faster optional reader
        log = pm4py.read_xes(str(path), show_progress_bar=False)
    performance, _, _ = pm4py.discover_performance_dfg(
        log, activity_key="org:group", timestamp_key="time:timestamp", case_id_key="case:concept:name"
    )
    seconds = time.perf_counter() - started
    # Counts come from PM4Py's frequency DFG, outside the timed part (the baseline is its
    # performance DFG alone).
    frequency, _, _ = pm4py.discover_dfg(
        log, activity_key="org:group", timestamp_key="time:timestamp", case_id_key="case:concept:name"
    )
    stats = {
        edge: EdgeStats(int(frequency[edge]), float(perf["mean"]), float(perf["median"]))
        for edge, perf in performance.items()
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
        for name in ("mean", "median"):
            x, y = getattr(a, name), getattr(b, name)
            if abs(x - y) > tolerance * max(1.0, abs(x), abs(y)):
                out.append(f"{edge}: {name} {x} vs {y}")
    return sorted(out)


def bench_mining(settings: Settings, events: int, store_url: str | None = None) -> BenchResult:
    try:
        import pm4py  # noqa: F401
    except ImportError as exc:
        raise BenchUnavailable("skipped: install .[mining] (PM4Py) to run the mining benchmark") from exc
    bench = workbench(settings, events, store_url=store_url)
    try:
        path = bench.work / "log.xes"
        with path.open("w", encoding="utf-8", newline="") as out:
            summary = export(
                ExportFormat.XES, out, bench.container.store, bench.container.catalogue, Selection()
            )
        started = time.perf_counter()
        ours, read = edge_stats(path)
        our_seconds = time.perf_counter() - started
        theirs, their_seconds, _ = pm4py_edge_stats(path)
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
                "events": read,
                "traces": summary.dossiers,
                "xes_bytes": path.stat().st_size,
                "activity": "org:group",
                "measures": ["count", "mean", "median"],
                "pm4py": _pm4py_version(),
            },
            extra={
                "edges": len(ours),
                "numbers_agree": True,
                "our_seconds": round(our_seconds, 3),
                "pm4py_seconds": round(their_seconds, 3),
                "export_seconds": round(summary.seconds, 3),
            },
        )
    finally:
        bench.close()


def _pm4py_version() -> dict[str, Any]:
    import pm4py
    from pm4py.util import constants

    return {"version": getattr(pm4py, "__version__", "?"), "xes_reader": constants.DEFAULT_XES_PARSER}
