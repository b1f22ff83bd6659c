"""`lienthong simulate`: a calibrated workload into the event store, a file or a topic."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from gateways.bootstrap import Container, bootstrap
from gateways.simulation.engine import Tally
from gateways.simulation.profiles import PROFILES, Profile, profile
from gateways.simulation.run import run_simulation, simulation_for
from gateways.simulation.sinks import FileSink, Sink, StoreSink, TopicSink

err = Console(stderr=True)


def _sink(container: Container, out: Path | None, topic: str | None) -> Sink:
    settings = container.settings
    if out is not None:
        return FileSink(out, container.keyring.pii_master_key)
    if topic is not None:
        broker = container.feed.broker
        if broker is None:
            err.print("[red]--topic needs LIENTHONG_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)[/red]")
            raise typer.Exit(2)
        return TopicSink(broker, topic, settings.kafka_event_partitions, container.keyring.pii_master_key)
    return StoreSink(container.writer, container.vault, container.service.now)


def summary_table(chosen: Profile, tally: Tally, seconds: float) -> Table:
    table = Table(title=f"simulate {chosen.name} {chosen.start} → {chosen.end} (Biểu 06 of the desks)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    target = 1 - chosen.late_fraction
    rows = [
        ("received in period", f"{tally.received:,} (target {chosen.dossiers:,})"),
        ("resolved early / on time / late", f"{tally.early:,} / {tally.on_time:,} / {tally.late:,}"),
        ("closed without result", f"{tally.closed_without_result:,}"),
        ("refused at intake", f"{tally.refused:,}"),
        ("on-time rate", f"{tally.on_time_rate:.4%}" if tally.on_time_rate is not None else "—"),
        ("target on-time rate", f"{target:.4%}"),
        ("dossiers / events written", f"{tally.dossiers:,} / {tally.events:,}"),
        ("events/s", f"{tally.events / seconds:,.0f}" if seconds > 0 else "—"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def simulate(
    profile_name: Annotated[str, typer.Option("--profile", help=f"one of: {', '.join(PROFILES)}")] = "ward",
    year: Annotated[
        int | None, typer.Option(help="the year to simulate (ward: 2009–2013 are calibrated)")
    ] = None,
    dossiers: Annotated[
        int | None, typer.Option(help="received dossiers (default: the profile's volume)")
    ] = None,
    seed: Annotated[int, typer.Option(help="same seed, same world, same events")] = 2012,
    out: Annotated[
        Path | None, typer.Option(help="write envelopes to this file (JSON lines) instead")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="produce envelopes to this Kafka topic instead")] = None,
    communes: Annotated[int | None, typer.Option(help="communes in the generated province")] = None,
    slow_fraction: Annotated[float | None, typer.Option(help="fraction of agencies that work slowly")] = None,
) -> None:
    """Generate a calibrated workload: a hierarchy, procedures and a period of dossiers."""
    try:
        chosen = profile(profile_name, year).sized(dossiers)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if communes is not None:
        chosen = replace(chosen, communes=communes, districts=min(chosen.districts, communes))
    if slow_fraction is not None:
        chosen = replace(chosen, slow_fraction=slow_fraction)
    container = bootstrap()
    try:
        sink = _sink(container, out, topic)
        simulation = simulation_for(
            chosen, seed, container.catalogue, sink, container.calendar, container.service.now()
        )
        started = time.perf_counter()
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[events]:,} events · late {task.fields[late]} · {task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err) as bar:
            task = bar.add_task(f"simulate {chosen.name}", total=chosen.dossiers, events=0, late=0, rate="")

            def show(tally: Tally) -> None:
                rate = f"{tally.on_time_rate:.3%} on time" if tally.on_time_rate is not None else ""
                bar.update(task, completed=tally.dossiers, events=tally.events, late=tally.late, rate=rate)

            tally = run_simulation(simulation, sink, show)
        seconds = time.perf_counter() - started
        if out is None and topic is None:
            with err.status("bringing the views up to date…"):
                note = container.feed.refresh()
            err.print(note)
        Console().print(summary_table(chosen, tally, seconds))
        if out is not None:
            err.print(f"wrote {out}")
    finally:
        container.close()
