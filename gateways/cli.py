"""The `lienthong` command line."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from gateways.auth import ROLES, issue_token
from gateways.bootstrap import bootstrap

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
    sub: Annotated[str | None, typer.Option(help="the user's name")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime, e.g. 1h, 30m, 7d")] = "1h",
) -> None:
    """Print a signed API token (and nothing else)."""
    container = bootstrap()
    try:
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


@app.command()
def seed(
    dossiers: Annotated[int, typer.Option(help="how many demo dossiers")] = 400,
    random_seed: Annotated[int, typer.Option("--seed", help="same seed, same demo")] = 2012,
) -> None:
    """Load the demo catalogue (HCMC) and walk demo dossiers through it."""
    from gateways.seed.demo import seed_demo

    container = bootstrap()
    try:
        with err.status(f"seeding {dossiers} demo dossiers…"):
            counts = seed_demo(container.service, container.service.now(), dossiers, random_seed)
        container.feed.catch_up()
    finally:
        container.close()
    err.print("seeded: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command()
def run(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="do not seed the demo on first start")] = False,
) -> None:
    """Serve the API (and docs at /docs). Seeds the demo the first time."""
    import uvicorn

    from gateways.http.app import create_app

    container = bootstrap()
    if not no_seed and container.catalogue.is_empty():
        from gateways.seed.demo import seed_demo

        with err.status("first start: seeding the demo (HCMC catalogue and dossiers)…"):
            counts = seed_demo(container.service, container.service.now(), container.settings.seed_dossiers)
        err.print("seeded: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    container.feed.catch_up()
    err.print(f"lienthong on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    try:
        uvicorn.run(create_app(container), host=host, port=port, log_level=container.settings.log_level)
    finally:
        container.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
