"""`lienthong catalogue …`: catalogue operations run by an administrator."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import orjson
import typer
from rich.console import Console

from domain.errors import DomainError
from gateways.application.cutover import Move, cutover
from gateways.bootstrap import bootstrap

catalogue = typer.Typer(help="The catalogue: agencies, procedures, cutovers.", no_args_is_help=True)
err = Console(stderr=True)


def _line(move: Move) -> dict[str, object]:
    return {
        "dossier_id": move.dossier_id,
        "receipt_code": move.receipt_code,
        "at": move.at.isoformat(),
        "from": move.from_agency_code,
        "to": move.to_agency_code,
        "parts": list(move.parts),
        "basis": move.basis,
    }


@catalogue.command("cutover")
def cutover_command(
    at: Annotated[str, typer.Option("--at", help="the cutover day (YYYY-MM-DD); earlier cutovers run too")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would move, record nothing")] = False,
    reason: Annotated[str, typer.Option(help="recorded in each succession event")] = "",
) -> None:
    """Move open dossiers of agencies ended by the cutover to their successors (one JSON line
    per succession event; a second run moves nothing)."""
    try:
        until = date.fromisoformat(at[:10])
    except ValueError as exc:
        raise typer.BadParameter("--at is a day: YYYY-MM-DD") from exc
    container = bootstrap()
    try:
        container.feed.refresh()  # in process: the dossier index is current
        moves = cutover(container.service, container.index, until, dry_run, reason)
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    finally:
        container.close()
    for move in moves:
        typer.echo(orjson.dumps(_line(move)).decode())
    verb = "would move" if dry_run else "moved"
    dossiers = len({m.dossier_id for m in moves})
    err.print(f"{verb} {dossiers} dossier(s), {len(moves)} succession event(s) up to {until.isoformat()}")
