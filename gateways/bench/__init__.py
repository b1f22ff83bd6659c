"""Benchmarks of BENCHMARKS.md: each measures against a baseline in the same run (or an
absolute ceiling) and returns a `BenchResult`; `run_bench` picks one by name."""

from __future__ import annotations

from collections.abc import Callable

from gateways.bench.report import BenchResult
from gateways.settings import Settings

BENCHES = ("project-kafka", "rebuild", "append", "relay", "query", "lag", "mining", "memory")
NEEDS_KAFKA = frozenset({"project-kafka", "relay", "lag"})


class BenchUnavailable(Exception):
    """A benchmark cannot run here (a missing optional dependency or server); says what to do."""


def run_bench(
    name: str,
    settings: Settings,
    events: int,
    *,
    kafka: str | None = None,
    store_url: str | None = None,
) -> BenchResult:
    """Run benchmark `name` on a fresh workload of about `events` events."""
    if name not in BENCHES:
        raise ValueError(f"unknown benchmark '{name}' (one of: {', '.join(BENCHES)})")
    if name in NEEDS_KAFKA:
        if not kafka:
            raise BenchUnavailable("skipped: needs a Kafka broker (--kafka or LIENTHONG_KAFKA_BOOTSTRAP)")
        return _kafka_benches()[name](settings, events, kafka, store_url)
    runs: dict[str, Callable[[Settings, int, str | None], BenchResult]]
    from gateways.bench.append import bench_append
    from gateways.bench.memory import bench_memory
    from gateways.bench.mining import bench_mining
    from gateways.bench.query import bench_query
    from gateways.bench.rebuild import bench_rebuild

    runs = {
        "rebuild": bench_rebuild,
        "append": bench_append,
        "query": bench_query,
        "mining": bench_mining,
        "memory": bench_memory,
    }
    return runs[name](settings, events, store_url)


def _kafka_benches() -> dict[str, Callable[[Settings, int, str, str | None], BenchResult]]:
    from gateways.bench.kafka import bench_project_kafka, bench_relay
    from gateways.bench.lag import bench_lag

    return {"relay": bench_relay, "project-kafka": bench_project_kafka, "lag": bench_lag}
