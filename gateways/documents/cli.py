"""`lienthong print KIND DOSSIER --out F`: a printed form from the configured store."""

from __future__ import annotations

import getpass
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.errors import DomainError, InvalidValue
from gateways.bootstrap import bootstrap
from gateways.cli_out import check_out, refuse, write_out
from gateways.documents import (
    KINDS,
    DocumentError,
    Format,
    Printed,
    Reader,
    print_dossier,
    print_register,
    register_span,
)

err = Console(stderr=True)


def print_form(
    kind: Annotated[str, typer.Argument(help=f"{', '.join(KINDS)} or register")],
    dossier: Annotated[
        str, typer.Argument(help="the dossier's id or receipt code (for register: the agency code)")
    ],
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
    format_: Annotated[str, typer.Option("--format", help="pdf or html")] = "pdf",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", help="the lookup secret to print on the receipt (checked against the dossier)"
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="where citizens reach the lookup page (default: LIENTHONG_PUBLIC_URL, from the "
            "environment or the env file, else this server's host and port)",
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="register: first day (2026-11-01) or instant")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="register: last day, included, or end instant, excluded")
    ] = None,
) -> None:
    """Print a dossier's form (receipt slip, supplement request, refusal, apology, control sheet)
    or an agency's register for a period, as PDF or print-ready HTML. Opening the applicant is
    recorded in the PII access log under this operator's name."""
    if format_ not in ("pdf", "html"):
        raise typer.BadParameter("pdf or html", param_hint="--format")
    fmt: Format = "html" if format_ == "html" else "pdf"
    if kind != "register" and kind not in KINDS:
        raise typer.BadParameter(f"one of {', '.join(KINDS)}, register", param_hint="KIND")
    check_out(out, err)  # before the applicant is opened (and logged) for nothing
    reader = Reader(subject=f"cli:{getpass.getuser()}", role="admin")
    container = bootstrap()
    try:
        printed: Printed
        if kind == "register":
            if not from_ or not to:
                raise typer.BadParameter("the register needs --from and --to", param_hint="--from/--to")
            try:
                start, end = register_span(from_, to, container.calendar.tz)
            except InvalidValue as exc:
                raise typer.BadParameter(exc.detail, param_hint="--from/--to") from exc
            printed = print_register(container, reader, dossier, start, end, fmt)
        else:
            row = container.index.find_by_receipt(dossier)
            if row is None and not _is_uuid(dossier):
                raise refuse(
                    err,
                    f"no dossier with the receipt code '{dossier[:80]}' "
                    "(give a dossier's receipt code, e.g. 000.21.99.H29-261123-0001, or its id)",
                )
            dossier_id = row.dossier_id if row else dossier
            settings = container.settings
            url = base_url or settings.public_url or f"http://{settings.host}:{settings.port}"
            printed = print_dossier(container, reader, dossier_id, kind, fmt, base_url=url, secret=secret)
    except (DocumentError, DomainError) as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    write_out(out, printed.body, err)
    err.print(f"wrote {out} ({printed.media_type}, {len(printed.body)} bytes)")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
