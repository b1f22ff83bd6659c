"""`lienthong history DOSSIER_ID`: one dossier replayed from the event store, now or as of an instant."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from domain.errors import DomainError
from gateways.bootstrap import bootstrap

err = Console(stderr=True)
WIDE = 200  # columns of a table written to a file or a pipe: the widest history row fits


def history(
    dossier_id: Annotated[str, typer.Argument(help="the dossier's id (a UUID)")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="replay up to this instant, e.g. 2026-11-02T09:00:00+07:00")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Replay one dossier from the event store: its events (with hashes) and its state, now or
    as of an instant; the hash chain is checked on the way (exit 1 if it is broken)."""
    from datetime import datetime

    import orjson
    from rich.table import Table

    from gateways.application.representation import dossier_json
    from gateways.audit import verify_chains
    from gateways.cli_out import stdout_is_terminal
    from gateways.http.presenter import event_json

    at = None
    if as_of:
        try:
            at = datetime.fromisoformat(as_of)
        except ValueError as exc:
            raise typer.BadParameter(f"not an ISO instant: {as_of!r}", param_hint="--as-of") from exc
        if at.tzinfo is None:
            raise typer.BadParameter("give the instant with its offset, e.g. +07:00", param_hint="--as-of")
    container = bootstrap()
    try:
        try:
            loaded = container.service.load(dossier_id)
        except DomainError as exc:
            err.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(2) from exc
        if loaded.state is None:
            err.print(f"[red]no dossier {dossier_id}[/red]")
            raise typer.Exit(2)
        if at is not None:
            loaded = loaded.as_of(at)
        check = verify_chains(container.store, dossier_id)
        moment = at or container.service.now()
        state = dossier_json(loaded.state, container.calendar, moment) if loaded.state else None
        events = [event_json(r) for r in loaded.records]
        if format_ == "json":
            body = {"as_of": moment.isoformat(), "state": state, "events": events, "verify": check.as_json()}
            typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        else:
            table = Table(title=f"dossier {dossier_id}" + (f" as of {at.isoformat()}" if at else ""))
            for column in ("seq", "occurred at", "type", "agency", "by", "hash"):
                table.add_column(column)
            for e in events:
                actor = e["actor"]
                table.add_row(
                    str(e["seq"]),
                    e["occurred_at"],
                    e["type"],
                    e["agency_code"],
                    actor["user"],
                    e["hash"][:16],
                )
            # Piped or redirected (a file, a pager), rich would lay the table out for 80
            # columns and cut the types and times ("DossierRece…"): whole rows there.
            console = Console() if stdout_is_terminal() else Console(width=WIDE)
            console.print(table)
            if state is None:
                console.print("no history yet at that instant")
            else:
                console.print(
                    f"status [bold]{state['status']}[/bold] ({state['status_code']}), "
                    f"held by {state['holder_agency_code']}, due {state['due_at']}, "
                    f"timeliness {state.get('timeliness')}"
                )
            if check.ok:
                # A chain shows an event altered, removed or reordered between two others; one
                # deleted from the end leaves a shorter chain, intact: the signed checkpoints see it.
                console.print(
                    "hash chain: intact (each event follows from the one before; "
                    f"`lienthong audit verify --dossier-id {dossier_id}` also checks the signed "
                    "checkpoints, which see an event deleted from the end)",
                    markup=False,
                )
            else:
                console.print(f"hash chain: [red]BROKEN {check.first_bad}[/red]")
        if not check.ok:
            raise typer.Exit(1)
    finally:
        container.close()
