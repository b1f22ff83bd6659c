"""`lienthong bench NAME`: one benchmark of BENCHMARKS.md, printed and saved as var/bench/NAME.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateways.bench import BENCHES, NEEDS_KAFKA, BenchUnavailable, run_bench
from gateways.bench.mining import DEFAULT_KEY, KeyMissing
from gateways.bench.mining_lxml import UnreadableLog
from gateways.bench.report import BenchResult
from gateways.bench.workload import EVENTS_PER_DOSSIER, bench_dir
from gateways.settings import Settings

err = Console(stderr=True)

# The write-path benchmarks of issue 11, beside those `run_bench` knows.
WRITE_BENCHES = ("append-batch", "import")
ALL_BENCHES = (*BENCHES, *(b for b in WRITE_BENCHES if b not in BENCHES))
# Given a broker by default (the in-process half of append-batch runs without one).
KAFKA_BY_DEFAULT = NEEDS_KAFKA | {"append-batch"}


def events_of(dossiers: int) -> int:
    """The size in events of a workload of `dossiers` province dossiers (the workload's average)."""
    return round(dossiers * EVENTS_PER_DOSSIER)


def parse_clients(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise typer.BadParameter(f"numbers separated by commas, e.g. 8,32 (got {text!r})") from exc
    if not counts or counts[0] < 1 or counts[-1] > 256:
        raise typer.BadParameter(f"between 1 and 256 clients, e.g. 8,32 (got {text!r})")
    return counts


def run_named(
    name: str,
    settings: Settings,
    events: int,
    *,
    kafka: str | None = None,
    store_url: str | None = None,
    clients: list[int] | None = None,
    xes: Path | None = None,
    key: str | None = None,
    processes: int = 1,
) -> BenchResult:
    """Run benchmark `name` with the options only some benchmarks take."""
    if name == "lag" and kafka:
        from gateways.bench.lag import bench_lag

        return bench_lag(settings, events, kafka, store_url, processes=processes)
    if name == "append":
        from gateways.bench.append import CLIENTS, bench_append

        return bench_append(settings, events, store_url, clients or CLIENTS)
    if name == "append-batch":
        from gateways.bench.append_batch import bench_append_batch

        return bench_append_batch(settings, events, kafka, store_url)
    if name == "import":
        from gateways.bench.import_xes import bench_import

        return bench_import(settings, events, store_url, xes)
    if name == "mining":
        from gateways.bench.mining import DEFAULT_KEY, bench_mining

        return bench_mining(settings, events, store_url, xes, key or DEFAULT_KEY)
    return run_bench(name, settings, events, kafka=kafka, store_url=store_url)


def bench(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(ALL_BENCHES)}")],
    events: Annotated[int, typer.Option(help="size of the simulated history")] = 200_000,
    dossiers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"size in dossiers instead (× {EVENTS_PER_DOSSIER} events each): "
            "`query --dossiers 1000000` is the 1 M-dossier run",
        ),
    ] = None,
    kafka: Annotated[
        str | None, typer.Option(help="broker (default: LIENTHONG_KAFKA_BOOTSTRAP or 127.0.0.1:9092)")
    ] = None,
    store_url: Annotated[
        str | None,
        typer.Option(help="event store server for the run: a fresh database is made on it (default: SQLite)"),
    ] = None,
    clients: Annotated[str, typer.Option(help="append: concurrent HTTP clients, one run each")] = "8,32",
    xes: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="import: the real XES log (default: ../shared/data/receipt.xes of the repository); "
            "mining: any XES log (default: an export of a simulated history)",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="mining: the attribute the DFG is on: concept:name, org:group (default), org:resource…"
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="lag: projector processes sharing the partitions (the relay runs once)")
    ] = 1,
) -> None:
    """Run one benchmark: a table with its same-run baseline and ratio, saved as var/bench/NAME.json."""
    if name not in ALL_BENCHES:
        err.print(f"[red]unknown benchmark '{name}' (one of: {', '.join(ALL_BENCHES)})[/red]")
        raise typer.Exit(2)
    counts = parse_clients(clients)
    if dossiers is not None:
        events = events_of(dossiers)
    settings = Settings.load()
    server = kafka or settings.kafka_bootstrap or ("127.0.0.1:9092" if name in KAFKA_BY_DEFAULT else None)
    try:
        with err.status(f"bench {name}: {events:,} events…"):
            result = run_named(
                name,
                settings,
                events,
                kafka=server,
                store_url=store_url,
                clients=counts,
                xes=xes,
                key=key,
                processes=processes,
            )
    except BenchUnavailable as exc:
        err.print(f"[yellow]bench {name} {exc}[/yellow]")
        return
    except KeyMissing as exc:
        # Without --key the key is the default one, which the miner never named.
        hint = (
            f" ({DEFAULT_KEY} is the default key: give another with --key concept:name, "
            "--key org:resource or any attribute the log's events have)"
            if key is None
            else ""
        )
        err.print(f"[red]bench {name}: {exc}{hint}[/red]")
        raise typer.Exit(2) from exc
    except UnreadableLog as exc:
        err.print(f"[red]bench {name}: {exc}[/red]")
        raise typer.Exit(2) from exc
    result.print(Console())
    err.print(f"wrote {result.save(bench_dir(settings))}")
