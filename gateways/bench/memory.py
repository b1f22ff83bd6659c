"""`bench memory`: peak resident memory while rebuilding every view, at three sizes (×1, ×4,
×16). Each rebuild runs in a fresh process so its peak is its own; a flat line (slope ≈ 0)
says memory does not grow with the history."""

from __future__ import annotations

import orjson

from gateways.bench.child import running, write_settings
from gateways.bench.report import BenchResult
from gateways.bench.workload import workbench
from gateways.settings import Settings

SIZES = (1, 4, 16)
MIB = 1024 * 1024


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def bench_memory(settings: Settings, events: int, store_url: str | None = None) -> BenchResult:
    base = max(50, events // SIZES[-1])
    runs = []
    for factor in SIZES:
        bench = workbench(settings, base * factor, store_url=store_url)
        try:
            settings_file = write_settings(bench.settings, bench.work / "settings.json")
            with running("rebuild-rss", settings_file) as child:
                out, _ = child.communicate(timeout=3600)
            if child.returncode != 0:
                raise RuntimeError(f"the rebuild process failed with exit code {child.returncode}")
            report = orjson.loads(out.splitlines()[-1])
            runs.append({"factor": factor, "store": bench.store_kind, **report})
        finally:
            bench.close()
    xs = [float(r["events"]) for r in runs]
    peaks = [float(r["peak_rss"]) for r in runs]
    growth = (peaks[-1] - peaks[0]) / peaks[0] * 100
    return BenchResult(
        name="memory",
        value=round(growth, 2),
        unit="% peak RSS growth ×1→×16",
        baseline=None,
        target_ratio=None,
        # "Flat": sixteen times the history may cost at most a tenth more memory at its peak.
        target_max=10.0,
        params={"sizes": list(SIZES), "events": [r["events"] for r in runs], "store": runs[0]["store"]},
        extra={
            "peak_rss_mib": [round(p / MIB, 1) for p in peaks],
            "rss_before_rebuild_mib": [round(r["rss_before"] / MIB, 1) for r in runs],
            "slope_bytes_per_event": round(_slope(xs, peaks), 2),
            "rebuild_seconds": [round(r["seconds"], 2) for r in runs],
        },
    )
