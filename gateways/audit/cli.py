"""`lienthong audit verify` and `lienthong audit checkpoint`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateways.audit.checkpointer import AuditRecordsDamaged, Checkpointer
from gateways.audit.ledger import Checkpoint
from gateways.bootstrap import Container, bootstrap

out = Console()
err = Console(stderr=True)


def _checkpoints(container: Container) -> Checkpointer:
    checkpoints: Checkpointer = container.checkpoints
    return checkpoints


def audit_verify(
    dossier_id: Annotated[
        str | None, typer.Option("--dossier-id", help="check one dossier (default: the whole log)")
    ] = None,
) -> None:
    """Recompute every hash chain and every signed checkpoint; exit 1 naming the first fault."""
    container = bootstrap()
    try:
        with err.status("verifying hash chains and signed checkpoints…"):
            result = _checkpoints(container).verify(dossier_id)
    except ValueError as exc:
        err.print(f"[red]'{dossier_id}' is not a dossier id: {exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    table = Table(title=f"audit verification of {f'dossier {dossier_id}' if dossier_id else 'the whole log'}")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("events checked", f"{result.checked_events:,}")
    table.add_row("checkpoints checked", f"{result.checkpoints_checked:,}")
    table.add_row("last checkpoint", str(result.last_checkpoint or "none yet"))
    table.add_row("events inside a signed checkpoint", f"{result.covered_events:,}")
    table.add_row("events after it (hash chain only)", f"{result.uncovered_events:,}")
    out.print(table)
    bad = result.first_bad
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
