"""`bench query`: p50/p99 latency of the reads supervisors and officers make all day — Biểu 06,
the SLA report, the bottleneck report, the heat map, a control sheet, an agency's inbox —
through the HTTP API (API.md), from another process, on a simulated province whose views are
up to date and whose latest dossiers are still in process. One client, requests one after the
other: this measures what one request costs, not how many fit in a second.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, timedelta

import httpx

from gateways.bench.api import percentile, serving
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench, workbench
from gateways.settings import Settings

TARGET_P99_MS = 20.0
HEAT_METRICS = ("dwell", "overdue_wip")
GROUP_BY = ("agency", "level", "procedure")


def bench_query(
    settings: Settings, events: int, store_url: str | None = None, requests: int = 200
) -> BenchResult:
    bench = workbench(settings, events, store_url=store_url, open_today=True)
    try:
        container = bench.container
        caught_up = time.perf_counter()
        container.feed.catch_up()
        catch_up_seconds = time.perf_counter() - caught_up
        rng = random.Random(7)
        today = container.service.now().date()
        first, last = (today - timedelta(days=120)).isoformat(), today.isoformat()
        hierarchy = container.catalogue.hierarchy
        province = next(a.code for a in hierarchy if a.parent_code is None)
        agencies = [a.code for a in hierarchy if a.valid_on(today) and a.parent_code is not None]
        dossier_ids = [r.dossier_id for r in container.store.notifications(0, 5000) if r.seq == 1]
        if not dossier_ids:
            raise RuntimeError("the workload wrote no dossier")
        kinds: dict[str, Callable[[], str]] = {
            "bieu06": lambda: (
                f"/api/v1/reports/bieu06?agency_code={province}&from={first}&to={last}&include_children=true"
            ),
            "sla": lambda: (
                f"/api/v1/reports/sla?group_by={rng.choice(list(GROUP_BY))}&from={first}&to={last}"
            ),
            "bottlenecks": lambda: f"/api/v1/reports/bottlenecks?from={first}&to={last}",
            "heatmap": lambda: (
                f"/api/v1/reports/heatmap?metric={rng.choice(HEAT_METRICS)}&from={first}&to={last}"
            ),
            "control_sheet": lambda: f"/api/v1/dossiers/{rng.choice(dossier_ids)}/control-sheet",
            "inbox": lambda: f"/api/v1/agencies/{rng.choice(agencies)}/inbox",
        }
        # A kind drawn from variants (SLA groups, heat map metrics) has each variant asked once
        # before the timed requests, as the first request of a kind is: each would otherwise be
        # computed once among them. What a first request costs is reported apart.
        variants: dict[str, dict[str, str]] = {
            "sla": {g: f"/api/v1/reports/sla?group_by={g}&from={first}&to={last}" for g in GROUP_BY},
            "heatmap": {
                m: f"/api/v1/reports/heatmap?metric={m}&from={first}&to={last}" for m in HEAT_METRICS
            },
        }
        timings: dict[str, list[float]] = {}
        first_ms: dict[str, float] = {}
        with serving(bench, views_out_of_process=False) as api:
            headers = {"Authorization": f"Bearer {api.token('inspector')}"}
            with httpx.Client(base_url=api.base, headers=headers, timeout=30.0) as client:
                for kind, path in kinds.items():
                    drawn = path()  # the first request of a kind warms its caches
                    named = variants.get(kind, {})
                    warm = {next((f"{kind} {v}" for v, p in named.items() if p == drawn), kind): drawn}
                    warm.update({f"{kind} {v}": p for v, p in named.items() if p != drawn})
                    for label, warm_path in warm.items():
                        started = time.perf_counter()
                        client.get(warm_path)
                        first_ms[label] = round((time.perf_counter() - started) * 1000, 2)
                    times = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        response = client.get(path())
                        times.append(time.perf_counter() - started)
                        if response.status_code != 200:
                            raise RuntimeError(f"{kind}: {response.status_code} {response.text[:300]}")
                    timings[kind] = sorted(times)
        uncached = _uncached(bench, province, today, requests)
        p99 = {k: round(percentile(v, 99) * 1000, 2) for k, v in timings.items()}
        p50 = {k: round(percentile(v, 50) * 1000, 2) for k, v in timings.items()}
        worst = max(p99, key=lambda k: p99[k])
        return BenchResult(
            name="query",
            value=p99[worst],
            unit="ms (worst p99)",
            baseline=None,
            target_ratio=None,
            target_max=TARGET_P99_MS,
            params={
                "events": bench.events,
                "dossiers": bench.tally.dossiers,
                "store": bench.store_kind,
                "requests_per_kind": requests,
                "clients": 1,
                "range": f"{first} → {last}",
            },
            extra={
                "worst": worst,
                "p50_ms": p50,
                "p99_ms": p99,
                "views_catch_up_seconds": round(catch_up_seconds, 2),
                # The first request of each report kind and variant (what warmed its caches).
                "first_requests_ms": first_ms,
                # Over HTTP a repeated report is answered from the cache (by view position); the
                # same reports computed every time, in this process without HTTP:
                "uncached_in_process_p50_ms": {
                    k: round(percentile(v, 50) * 1000, 2) for k, v in uncached.items()
                },
                "uncached_in_process_p99_ms": {
                    k: round(percentile(v, 99) * 1000, 2) for k, v in uncached.items()
                },
            },
        )
    finally:
        bench.close()


def _uncached(bench: Workbench, province: str, today: date, requests: int) -> dict[str, list[float]]:
    """The report kinds computed from the views each time (the cache bypassed), in process."""
    container = bench.container
    for reports in (container.sla, container.bottlenecks):
        reports.cache.size = 0  # nothing is kept: every answer and every bucket sum is computed
    first, last = today - timedelta(days=120), today
    now = container.service.now()
    rng = random.Random(11)
    kinds: dict[str, Callable[[], object]] = {
        "bieu06": lambda: container.sla._bieu06(province, first, last, include_children=True, now=now),
        "sla": lambda: container.sla._sla("procedure", first, last, now=now),
        "bottlenecks": lambda: container.bottlenecks._bottlenecks(first, last, None, today),
        "heatmap": lambda: container.bottlenecks._heatmap(rng.choice(HEAT_METRICS), first, last, None, today),
    }
    timings: dict[str, list[float]] = {}
    for kind, ask in kinds.items():
        ask()
        times = []
        for _ in range(max(20, requests // 4)):
            started = time.perf_counter()
            ask()
            times.append(time.perf_counter() - started)
        timings[kind] = sorted(times)
    return timings
