"""`lienthong privacy forget`: erase a person's data (crypto-shredding) from the command line."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console

from domain.errors import DomainError
from gateways.application.privacy import forget as forget_person
from gateways.application.privacy import reindex
from gateways.bootstrap import bootstrap

privacy = typer.Typer(help="Personal data: erasure (crypto-shredding).", no_args_is_help=True)
err = Console(stderr=True)


@privacy.command("forget")
def forget(
    id_number: Annotated[
        str | None, typer.Option("--id-number", help="every dossier of this ID number (CCCD/CMND)")
    ] = None,
    dossier: Annotated[str | None, typer.Option("--dossier", help="one dossier, by its id")] = None,
    by: Annotated[str, typer.Option("--by", help="who asks (recorded with the erasure)")] = "admin@cli",
) -> None:
    """Destroy the data keys of the person's dossiers: names, ID numbers, phones and addresses
    become unreadable everywhere; statistics and the audit trail stay as they are. Prints the
    erased dossier ids as JSON."""
    container = bootstrap()
    try:
        result = forget_person(
            container.vault,
            container.store,
            role="admin",
            subject=by,
            at=container.clock(),
            id_number=id_number,
            dossier_id=dossier,
            files=container.attachments,
        )
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    typer.echo(orjson.dumps(result.as_json()).decode())
    err.print(f"erased {len(result.erased)} dossier(s); {len(result.already)} erased before")


@privacy.command("reindex")
def reindex_command() -> None:
    """Index the ID numbers of dossiers received before the blind index existed, so
    `forget --id-number` finds them too (run once after upgrading)."""
    container = bootstrap()
    try:
        added = reindex(container.vault, container.store)
    finally:
        container.close()
    err.print(f"indexed {added} dossier(s)")
