"""The `lienthong` command line."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.errors import InvalidValue
from gateways.audit.cli import audit_checkpoint, audit_latest, audit_verify
from gateways.auth import ROLES, issue_token
from gateways.bench.cli import bench
from gateways.bootstrap import Container, bootstrap
from gateways.catalogue_cli import catalogue
from gateways.documents.cli import print_form
from gateways.files_cli import files
from gateways.history_cli import history
from gateways.interchange import cli as interchange_cli
from gateways.keys_cli import keys
from gateways.privacy_cli import privacy
from gateways.report_cli import report
from gateways.simulation.cli import simulate

app = typer.Typer(help="lienthong: inter-level dossier routing (hồ sơ liên thông)", no_args_is_help=True)
err = Console(stderr=True)


def _ttl(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise typer.BadParameter("use a number and a unit: 90s, 30m, 1h, 7d")
    value, unit = int(match.group(1)), match.group(2)
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@app.command()
def token(
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")],
    agency: Annotated[str | None, typer.Option(help="agency code (officer, supervisor)")] = None,
    sub: Annotated[
        str | None, typer.Option(help="the user's name; for an integration token, its system's (required)")
    ] = None,
    ttl: Annotated[str, typer.Option(help="lifetime, e.g. 1h, 30m, 7d")] = "1h",
) -> None:
    """Print a signed API token (and nothing else)."""
    if role == "integration" and not (sub or "").strip():
        # Idempotency keys are scoped to the token's subject: two systems both named by the
        # default could replay each other's answers (decision 214).
        err.print(
            "[red]an integration token names the system it is for: --sub NAME (e.g. --sub portal-dvc);"
            " its idempotency keys are scoped to that name[/red]"
        )
        raise typer.Exit(2)
    container = bootstrap()
    try:
        _check_agency(container, agency)
        text = issue_token(
            container.keyring.jwt_secret,
            role=role,
            sub=sub or f"{role}@{agency or 'lienthong'}",
            agency_code=agency,
            now=container.clock(),
            ttl=_ttl(ttl),
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    typer.echo(text)


def _check_agency(container: Container, agency: str | None) -> None:
    """A token for an agency the catalogue does not hold (a typo) would be refused on every
    call: exit 2 instead. An empty catalogue (nothing loaded yet) is not judged."""
    from gateways.cli_out import refuse

    hierarchy = container.catalogue.hierarchy
    if agency is None or container.catalogue.is_empty() or agency in hierarchy:
        return
    near = [code for code in hierarchy.codes() if code.casefold() == agency.casefold()]
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise refuse(err, f"no agency '{agency}' in the catalogue{hint}; the token would be refused")


@app.command()
def seed(
    dossiers: Annotated[int, typer.Option(help="how many demo dossiers")] = 400,
    random_seed: Annotated[int, typer.Option("--seed", help="same seed, same demo")] = 2012,
    province: Annotated[
        str, typer.Option(help="province code after 2025-07-01 (79: Ho Chi Minh City, 01: Hà Nội, …)")
    ] = "79",
    country: Annotated[
        bool, typer.Option(help="load every province and commune, before and after 2025")
    ] = True,
) -> None:
    """Load the whole country's units, the demo catalogue of a province and walk demo dossiers."""
    from gateways.cli_out import refuse
    from gateways.eventstore.store import ConcurrencyConflict
    from gateways.seed.demo import seed_demo

    container = bootstrap()
    try:
        with err.status(f"seeding {dossiers} demo dossiers (province {province})…"):
            counts = seed_demo(
                container.service,
                container.service.now(),
                dossiers,
                random_seed,
                province=province,
                country=country,
            )
        # In process: return only when the views are current; Kafka: the projectors apply it.
        container.feed.refresh()
    except InvalidValue as exc:  # also AlreadySeeded: this seed's dossiers are in the store
        raise refuse(err, exc.detail) from exc
    except ConcurrencyConflict as exc:  # some of them only (the first was refused above)
        raise refuse(
            err,
            f"this store already holds some demo dossiers of seed {random_seed} ({exc}); the batch "
            "that met them was not written: use another --seed or a fresh data directory",
        ) from exc
    finally:
        container.close()
    err.print("seeded: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command()
def country(
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Every province and commune before and after 2025-07-01, with successors, as catalogue JSON."""
    import orjson

    from gateways.cli_out import check_out, write_out
    from gateways.country.divisions import load_country

    check_out(out, err)
    data = orjson.dumps(load_country().catalogue_json(), option=orjson.OPT_INDENT_2) + b"\n"
    if out is None:
        typer.echo(data.decode(), nl=False)
    else:
        write_out(out, data, err)
        err.print(f"written: {out}")


@app.command()
def run(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="do not seed the demo on first start")] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, help="API processes on the same port (SO_REUSEPORT), each with its own writer"),
    ] = 1,
    reuse_port: Annotated[bool, typer.Option("--reuse-port", hidden=True)] = False,
    stream: Annotated[
        bool,
        typer.Option(help="with Kafka: also run the relay, projectors and inbound commands in this process"),
    ] = True,
) -> None:
    """Serve the API (and docs at /docs). Seeds the demo the first time.

    With LIENTHONG_KAFKA_BOOTSTRAP set, the relay, the view projectors and the inbound
    command consumer run in the same process, and Ctrl-C stops them all.

    With --workers N, N - 1 more copies of this command listen on the same port (the kernel
    shares the connections among them). Each has its own group-commit writer; optimistic
    concurrency on the event store keeps them correct (a conflicting If-Match gets 409), the
    projectors share the topic's partitions, and one relay publishes while the others stand by.
    """
    import uvicorn

    from gateways.audit import CheckpointTimer
    from gateways.http.app import create_app
    from gateways.http.heap import settle
    from gateways.kafka import processes as helpers
    from gateways.logs import log_config

    container = bootstrap()
    if not no_seed and container.catalogue.is_empty():
        from gateways.seed.demo import seed_demo

        with err.status("first start: seeding the demo (HCMC catalogue and dossiers)…"):
            counts = seed_demo(
                container.service, container.service.now(), container.settings.seed_dossiers, country=True
            )
        err.print("seeded: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    settings = container.settings
    # Signed checkpoints at intervals, also when traffic stops.
    timer = CheckpointTimer(
        container.checkpoints,
        container.clock,
        poll_seconds=max(
            0.5, min(5.0, settings.checkpoint_every_seconds, settings.checkpoint_max_delay_seconds / 2)
        ),
    )
    timer.start()
    # Live pages hold event streams open; Ctrl-C should not wait for them.
    # JSON log lines; uvicorn's access log (which prints query strings) gives way to lienthong.access.
    config = uvicorn.Config(
        create_app(container),
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    settle()  # start-up's objects out of the collector's way (gateways/http/heap.py)
    sockets = [helpers.shared_socket(host, port)] if workers > 1 or reuse_port else None
    # uvicorn stops on SIGTERM and then raises it again; with the default handler that ends
    # this process on the spot and the `finally` below (the extra workers, the checkpoint
    # timer, the stores) never runs: a service manager's stop left the workers serving.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    # Seeded (above) before the others start, so they never seed it again.
    children = helpers.spawn(workers - 1, helpers.api_child_args(host, port, stream))
    try:
        # In process: the views are caught up and follow each commit; with Kafka, the
        # stream side runs beside the API unless --no-stream (then it runs elsewhere).
        feeding = container.feed.workers(container, stream=stream)
        err.print(f"lienthong on http://{host}:{port} {feeding.summary}")
        if feeding.idle:
            server.run(sockets=sockets)
            return

        async def both() -> None:
            stop = asyncio.Event()
            stream = asyncio.create_task(feeding.run(stop))
            try:
                await server.serve(sockets=sockets)
            finally:
                stop.set()
                await stream

        asyncio.run(both())
    finally:
        helpers.stop(children)
        timer.stop()
        container.close()


def _exit_on_signal(signum: int, _frame: object) -> None:
    """Leave by SystemExit (so `finally` blocks run), with the status of death by that signal."""
    raise SystemExit(128 + signum)


def _until_interrupted(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `work(stop)` until SIGINT/SIGTERM sets `stop`."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await work(stop)

    asyncio.run(main())


def _kafka_container() -> Container:
    container = bootstrap()
    if container.feed.broker is None:
        container.close()
        err.print(
            "[red]set LIENTHONG_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092), or "
            "LIENTHONG_ENV_FILE=var/run-kafka.env for the stores `make run-kafka` started[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return container


@app.command()
def stream(
    view: Annotated[list[str] | None, typer.Option(help="only these views (repeat); default all")] = None,
    relay: Annotated[bool, typer.Option(help="run the outbound relay")] = True,
    projectors: Annotated[bool, typer.Option(help="run the view projectors")] = True,
    inbound: Annotated[bool, typer.Option(help="run the inbound command consumer")] = True,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve this process's Prometheus metrics on METRICS_HOST:PORT")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="address of the metrics server (0.0.0.0 in a container)")
    ] = "127.0.0.1",
    processes: Annotated[
        int, typer.Option(min=1, help="projector processes sharing the partitions (the relay runs once)")
    ] = 1,
) -> None:
    """Run the stream workers (relay, view projectors, inbound commands) until Ctrl-C."""
    from gateways.kafka import processes as helpers
    from gateways.logs import configure

    container = _kafka_container()
    known = [r.name for r in container.runners]
    unknown = [name for name in view or [] if name not in known]
    if unknown:  # a typo would otherwise run no projector at all, and say nothing
        container.close()
        err.print(f"[red]no view '{unknown[0]}' (views: {', '.join(known)})[/red]", soft_wrap=True)
        raise typer.Exit(2)
    configure(container.settings.log_level)  # JSON lines, as the API's
    names = view if projectors else ["-none-"]
    workers = container.feed.workers(container, views=names, inbound=inbound, relay=relay)
    side = workers.side
    assert side is not None  # a Kafka feed's workers
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=container.metrics.registry)
    err.print(
        f"stream workers on {container.feed.broker}: relay={'on' if side.relay else 'off'}, "
        f"views={[n for p in side.projectors for n in p.names]}, inbound={'on' if inbound else 'off'}"
        + (f", {processes} processes" if processes > 1 else "")
    )
    children = helpers.spawn(processes - 1, helpers.child_args(view, projectors, inbound))
    try:
        _until_interrupted(workers.run)
    finally:
        helpers.stop(children)
        container.close()


@app.command()
def soak(
    kafka: Annotated[str, typer.Option(help="bootstrap list of the three-broker cluster (make cluster-up)")],
    store_url: Annotated[
        str, typer.Option(help="a PostgreSQL URL whose role may create databases (a fresh one is made)")
    ],
    dossiers: Annotated[int, typer.Option(help="dossiers of the province profile to walk")] = 1500,
    minutes: Annotated[float, typer.Option(help="the profile's period compressed into this long")] = 4.0,
    clients: Annotated[int, typer.Option(help="dossiers walked at the same time")] = 24,
    seed: Annotated[int, typer.Option(help="same seed: same world, arrivals and fault moments")] = 2025,
    out: Annotated[Path, typer.Option(help="where soak.json goes")] = Path("var/bench"),
) -> None:
    """Province-year soak on the cluster, with a broker, a projector and an API process killed."""
    from gateways.soak import Soak, SoakFailed

    run = Soak(
        kafka,
        store_url,
        out,
        Path("var/soak") / time.strftime("%Y%m%dT%H%M%S"),
        dossiers,
        minutes,
        clients,
        seed,
    )
    try:
        result = run.execute(err.print)
    except SoakFailed as exc:
        err.print(f"[red]soak FAILED: {exc}[/red]")
        raise typer.Exit(1) from exc
    result.print(err)
    err.print(f"written: {result.save(out)}")


@app.command()
def asyncapi(
    out: Annotated[Path | None, typer.Option(help="write here (default: standard output)")] = None,
) -> None:
    """Write the AsyncAPI document of every Kafka topic (generated from the FastStream app)."""
    from gateways.kafka.app import asyncapi_document, build_stream

    container = bootstrap()
    try:
        text = asyncapi_document(build_stream(container, with_relay=False))
    finally:
        container.close()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {out}")
    else:
        typer.echo(text)


app.command("bench")(bench)
app.command("simulate")(simulate)
app.command("report")(report)
app.command("export")(interchange_cli.export)
app.command("import-xes")(interchange_cli.import_xes)
app.command("print")(print_form)
app.command("history")(history)

audit = typer.Typer(help="Tamper evidence: hash chains and signed checkpoints.", no_args_is_help=True)
app.add_typer(audit, name="audit")
audit.command("verify")(audit_verify)
audit.command("checkpoint")(audit_checkpoint)
audit.command("latest")(audit_latest)
app.add_typer(privacy, name="privacy")
app.add_typer(catalogue, name="catalogue")
app.add_typer(files, name="files")
app.add_typer(keys, name="keys")

projections = typer.Typer(help="The views: lag per view and partition, rebuilds.", no_args_is_help=True)
app.add_typer(projections, name="projections")


@projections.command("status")
def projections_status() -> None:
    """Lag of every view: in-process feed, and each Kafka partition when Kafka is configured."""
    from rich.table import Table

    container = bootstrap()
    try:
        feed = container.feed
        lag = feed.lag()
        table = Table(title=f"views (event store head: notification {lag.head})")
        for column in ("view", "feed", "partition", "position", "end", "lag"):
            table.add_column(column, justify="right" if column in ("position", "end", "lag") else "left")
        ends: dict[tuple[str, int], int] = {}
        try:
            ends = feed.end_offsets()
        except Exception as exc:
            err.print(f"[yellow]Kafka {feed.broker} unreachable: {exc}[/yellow]")
        # The feed's own log: each Kafka partition when there are any, else the store's.
        partitions = [row for row in feed.partitions(ends) if row.end is not None]
        rows = [*([lag.relay] if lag.relay else []), *(partitions or lag.views)]
        for row in rows:
            table.add_row(
                row.view, row.feed, row.partition, str(row.position or 0), str(row.end), str(row.lag)
            )
        Console().print(table)
    finally:
        container.close()


@projections.command("rebuild")
def projections_rebuild(
    view: Annotated[list[str] | None, typer.Option(help="only these views (repeat); default all")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="processes folding shards of dossiers in parallel, then merged")
    ] = 1,
) -> None:
    """Rebuild views from the event store, each in one transaction (readers see old or new, never half)."""
    container = bootstrap()
    try:
        names = [r.name for r in container.runners]
        for name in view or []:
            if name not in names:
                err.print(f"[red]no view '{name}' (views: {', '.join(names)})[/red]")
                raise typer.Exit(2)
        started = time.perf_counter()
        with err.status("rebuilding…"):
            if workers > 1:
                from gateways.views.parallel import rebuild_in_parallel

                results = rebuild_in_parallel(
                    container.settings, container.store, container.feed.log, view or None, workers
                )
            else:
                results = container.feed.rebuild(view or None)
        for result in results:
            err.print(f"{result.view}: {result.events} events")
        err.print(f"rebuilt in {time.perf_counter() - started:.1f}s")
    finally:
        container.close()


@app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Option("--out", help="a new directory for the backup")],
) -> None:
    """Back up the event store (SQLite backup API, or pg_dump) and the keys into OUT, then check
    the backup (keys, files); exit 2 if there is no event store or the backup is not usable."""
    from gateways.backup import BackupError, backup, missing_keys, missing_store
    from gateways.cli_out import refuse
    from gateways.settings import Settings

    settings = Settings.load()
    # Before bootstrapping: it would make an empty store and new keys where none are.
    absent = missing_store(settings) or missing_keys(settings)
    if absent:
        raise refuse(err, absent)
    container = bootstrap(settings)
    try:
        latest = container.checkpoints.latest()
        events = container.store.max_notification_id()
        manifest = backup(container.settings, out, events=events, checkpoints=latest.n if latest else 0)
    except BackupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    err.print(
        f"backed up {manifest['events']} events ({manifest['store']}), {len(manifest['keys'])} keys "
        f"and {manifest['files']} files to {out}"
    )


@app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="a directory written by `lienthong backup`")],
    force: Annotated[
        bool, typer.Option(help="replace a store that already holds events, or that cannot be read")
    ] = False,
) -> None:
    """Check a backup and restore it into the configured stores (server stopped), make again the
    erasures recorded since, rebuild the views, verify the audit. A faulty backup changes nothing."""
    from gateways.backup import BackupError, restore
    from gateways.settings import Settings

    try:
        restored = restore(Settings.load(), source, force=force)
    except BackupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for view, events in restored.views.items():
        err.print(f"view {view}: rebuilt from {events} events")
    for erasure in restored.reapplied:
        err.print(
            f"[yellow]erased again: dossier {erasure['dossier_id']} (erased {erasure['erased_at']} "
            f"by {erasure['requested_by']}, after this backup was taken)[/yellow]"
        )
    for warning in restored.warnings:
        err.print(f"[yellow]warning: {warning}[/yellow]")
    err.print(f"restored {restored.events} events of {restored.manifest['events']} backed up")
    if not restored.ok:
        err.print(f"[red]audit verification failed: {restored.audit.get('first_bad')}[/red]")
        raise typer.Exit(1)
    err.print("[green]audit verify: OK[/green]")


def main() -> None:
    from gateways.keys import DamagedKey

    try:
        app()
    except DamagedKey as exc:  # an operator's matter, not a program error: no traceback
        err.print(f"[red]{exc}[/red]")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
