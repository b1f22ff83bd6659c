"""`lienthong files sweep`: delete stored files no dossier records."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from gateways.application.attachments import sweep
from gateways.bootstrap import bootstrap

files = typer.Typer(help="Dossier files in the blob store.", no_args_is_help=True)
err = Console(stderr=True)


@files.command("sweep")
def sweep_command(
    older_than_hours: Annotated[
        float, typer.Option("--older-than-hours", min=1.0, help="only files stored at least this long ago")
    ] = 24.0,
) -> None:
    """Delete the files stored more than --older-than-hours ago that no dossier records (an
    upload whose attach was refused after the file was stored). Prints how many."""
    container = bootstrap()
    try:
        deleted = sweep(container.blobs, container.db, container.clock() - timedelta(hours=older_than_hours))
    finally:
        container.close()
    typer.echo(len(deleted))
    err.print(f"deleted {len(deleted)} unrecorded file(s)")
