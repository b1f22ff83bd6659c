"""`lienthong audit verify`, `lienthong audit checkpoint` and `lienthong audit latest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from gateways.audit.checkpointer import AuditRecordsDamaged, Checkpointer
from gateways.audit.ledger import Checkpoint, checkpoints_in
from gateways.audit.verify import Kept
from gateways.audit.witness import NoWitness, WitnessResult, verify_against_kafka
from gateways.backup import missing_store
from gateways.bootstrap import Container, bootstrap
from gateways.cli_out import check_out, refuse, write_out
from gateways.settings import Settings

out = Console()
err = Console(stderr=True)


def _checkpoints(container: Container) -> Checkpointer:
    checkpoints: Checkpointer = container.checkpoints
    return checkpoints


def audit_verify(
    dossier_id: Annotated[
        str | None, typer.Option("--dossier-id", help="check one dossier (default: the whole log)")
    ] = None,
    against_kafka: Annotated[
        bool,
        typer.Option(
            "--against-kafka",
            help="also compare the store with what the relay published (Kafka as a witness of "
            "events not yet inside a signed checkpoint)",
        ),
    ] = False,
    kept: Annotated[
        list[Path] | None,
        typer.Option(
            "--kept",
            help="a checkpoint kept outside the system (JSON from `lienthong audit latest` or "
            "GET /api/v1/audit/checkpoints/{n}); it must still be stored as kept. Repeatable",
        ),
    ] = None,
) -> None:
    """Recompute every hash chain and every signed checkpoint; exit 1 naming the first fault
    (exit 2: no event store where configured, no such dossier, or a kept file that is not a
    checkpoint signed by this server)."""
    settings = _existing_store()
    kept_files = [(path, _read_kept(path)) for path in kept or ()]
    container = bootstrap(settings)
    witness: WitnessResult | None = None
    try:
        checkpoints = _checkpoints(container)
        kept_roots = _genuine(checkpoints, kept_files)
        with err.status("verifying hash chains and signed checkpoints…"):
            result = checkpoints.verify(dossier_id, kept_roots)
        if against_kafka:
            witness = _against_kafka(container)
    except ValueError as exc:
        err.print(f"[red]'{dossier_id}' is not a dossier id: {exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    if dossier_id and not result.checked_events and result.first_bad is None:
        # Neither an event nor a signed leaf of it: not a dossier of this store.
        raise refuse(err, f"no dossier {dossier_id}")
    if witness is not None:
        _print_witness(witness)
    table = Table(title=f"audit verification of {f'dossier {dossier_id}' if dossier_id else 'the whole log'}")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("events checked", f"{result.checked_events:,}")
    table.add_row("checkpoints checked", f"{result.checkpoints_checked:,}")
    table.add_row("last checkpoint", str(result.last_checkpoint or "none yet"))
    table.add_row("events inside a signed checkpoint", f"{result.covered_events:,}")
    table.add_row("events after it (hash chain only)", f"{result.uncovered_events:,}")
    if kept_files:
        table.add_row("kept checkpoints found as kept", f"{result.kept_checked:,} of {len(kept_roots):,}")
    out.print(table)
    bad = result.first_bad
    if bad is None and witness is not None and witness.first_bad is not None:
        bad = witness.first_bad
    if bad is None:
        out.print("[green]OK: nothing altered, deleted or reordered[/green]")
        return
    where = (
        f"dossier {bad['dossier_id']} event {bad['seq']}"
        if bad.get("dossier_id")
        else f"checkpoint {bad.get('checkpoint')}"
    )
    out.print(f"[red]FAILED at {where}: {bad['reason']}[/red]")
    raise typer.Exit(1)


def _existing_store() -> Settings:
    """The configured settings, once their event store is known to exist: bootstrapping would
    otherwise make an empty store (that verifies, and holds no checkpoint) in a wrong data dir."""
    settings = Settings.load()
    absent = missing_store(settings)
    if absent:
        raise refuse(err, absent)
    return settings


def _read_kept(path: Path) -> list[Checkpoint]:
    try:
        return checkpoints_in(orjson.loads(path.read_bytes()))
    except OSError as exc:
        raise refuse(err, f"cannot read the kept checkpoint {path}: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise refuse(err, f"{path} is not JSON ({exc}); keep the output of `lienthong audit latest`") from exc
    except ValueError as exc:
        raise refuse(err, f"{path} is not a kept checkpoint: {exc}") from exc


def _genuine(checkpoints: Checkpointer, files: list[tuple[Path, list[Checkpoint]]]) -> list[Kept]:
    """The kept checkpoints' numbers and roots, once each is known to be signed by this server."""
    out = []
    for path, kept in files:
        for cp in kept:
            if not checkpoints.signed_here(cp):
                raise refuse(
                    err,
                    f"{path}: checkpoint {cp.n}'s signature does not verify with this server's key "
                    f"{checkpoints.key_id} nor a retired one (key {cp.key_id}): the file was altered, "
                    "or it comes from another system",
                )
            out.append(Kept(cp.n, cp.root))
    return out


def _against_kafka(container: Container) -> WitnessResult:
    import asyncio

    from gateways.kafka.topics import Topics

    broker = container.feed.broker
    if broker is None:
        err.print("[red]--against-kafka needs LIENTHONG_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)[/red]")
        raise typer.Exit(2)
    topic = Topics.with_prefix(container.settings.kafka_topic_prefix).events
    try:
        with err.status(f"comparing the store with {topic} on {broker}…"):
            return asyncio.run(verify_against_kafka(container.store, broker, topic))
    except (NoWitness, OSError, KafkaError) as exc:
        err.print(f"[red]cannot read the published events: {exc}[/red]")
        raise typer.Exit(2) from exc


def _print_witness(witness: WitnessResult) -> None:
    table = Table(title="against Kafka (the relay's published events)")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("dossiers published", f"{witness.published_dossiers:,}")
    table.add_row("events published", f"{witness.published_events:,}")
    table.add_row("stored events compared", f"{witness.checked_events:,}")
    table.add_row("differences", f"{len(witness.faults):,}")
    out.print(table)
    for fault in witness.faults[1:]:
        out.print(f"[red]also: dossier {fault['dossier_id']} event {fault['seq']}: {fault['reason']}[/red]")


def audit_latest(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write it to this file (default: print it)")
    ] = None,
) -> None:
    """The newest signed checkpoint as JSON, to keep outside the system (with the public key):
    `lienthong audit verify --kept FILE` later refuses a store that no longer holds it as kept."""
    settings = _existing_store()
    check_out(out_file, err)  # before any work
    container = bootstrap(settings)
    try:
        latest = _checkpoints(container).latest()
    finally:
        container.close()
    if latest is None:
        raise refuse(err, "no checkpoint is signed yet: run `lienthong audit checkpoint`")
    body = orjson.dumps(latest.as_json(), option=orjson.OPT_INDENT_2) + b"\n"
    if out_file is None:
        typer.echo(body.decode("ascii"), nl=False)
        return
    write_out(out_file, body, err)
    err.print(f"checkpoint {latest.n} ({latest.size:,} events, root {latest.root}) written to {out_file}")


def audit_checkpoint() -> None:
    """Sign checkpoints now over every event recorded so far (a large backlog takes several)."""
    container = bootstrap()
    made: list[Checkpoint] = []
    try:
        checkpoints = _checkpoints(container)
        while cp := checkpoints.checkpoint(container.clock()):
            made.append(cp)
        latest = checkpoints.latest()
    except AuditRecordsDamaged as exc:
        err.print(f"[red]cannot sign: {exc}; run `lienthong audit verify`[/red]")
        raise typer.Exit(1) from exc
    finally:
        container.close()
    if not made:
        state = (
            f"checkpoint {latest.n} covers all {latest.size:,} events" if latest else "there are no events"
        )
        out.print(f"nothing new to sign: {state}")
        return
    for cp in made:
        out.print(
            f"checkpoint {cp.n} signed: {cp.size:,} events (up to notification {cp.last_notification_id}), "
            f"root {cp.root}, key {cp.key_id}"
        )
