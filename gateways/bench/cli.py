"""`lienthong bench NAME`: one benchmark of BENCHMARKS.md, printed and saved as var/bench/NAME.json."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from gateways.bench import BENCHES, NEEDS_KAFKA, BenchUnavailable, run_bench
from gateways.bench.workload import bench_dir
from gateways.settings import Settings

err = Console(stderr=True)


def bench(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(BENCHES)}")],
    events: Annotated[int, typer.Option(help="size of the simulated history")] = 200_000,
    kafka: Annotated[
        str | None, typer.Option(help="broker (default: LIENTHONG_KAFKA_BOOTSTRAP or 127.0.0.1:9092)")
    ] = None,
    store_url: Annotated[
        str | None,
        typer.Option(help="event store server for the run: a fresh database is made on it (default: SQLite)"),
    ] = None,
) -> None:
    """Run one benchmark: a table with its same-run baseline and ratio, saved as var/bench/NAME.json."""
    if name not in BENCHES:
        err.print(f"[red]unknown benchmark '{name}' (one of: {', '.join(BENCHES)})[/red]")
        raise typer.Exit(2)
    settings = Settings.load()
    server = kafka or settings.kafka_bootstrap or ("127.0.0.1:9092" if name in NEEDS_KAFKA else None)
    try:
        with err.status(f"bench {name}: {events:,} events…"):
            result = run_bench(name, settings, events, kafka=server, store_url=store_url)
    except BenchUnavailable as exc:
        err.print(f"[yellow]bench {name} {exc}[/yellow]")
        return
    result.print(Console())
    err.print(f"wrote {result.save(bench_dir(settings))}")
