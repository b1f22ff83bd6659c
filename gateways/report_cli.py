"""`lienthong report`: Biểu 06 and SLA reports as a table, CSV, JSON or the official spreadsheet
(rendered by `gateways.documents.sla_report`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.errors import InvalidValue
from gateways.application.errors import describe
from gateways.cli_out import check_out, check_terminal, refuse, write_out
from gateways.documents.sla_report import Report, render
from gateways.views.sla import PERIOD_HELP, SlaReports, parse_period, parse_range
from gateways.views.sla.official import OfficialBieu06, official_bieu06


def report(
    kind: Annotated[str, typer.Argument(help="bieu06 (one agency) or sla (grouped rows)")] = "bieu06",
    agency: Annotated[str | None, typer.Option(help="agency code (bieu06: required; sla: restricts)")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="first day (2026-02-15) or instant")] = None,
    to: Annotated[str | None, typer.Option(help="last day, inclusive (2026-03-14), or instant")] = None,
    period: Annotated[str | None, typer.Option(help=PERIOD_HELP)] = None,
    include_children: Annotated[bool, typer.Option(help="count the agencies below too")] = False,
    group_by: Annotated[str, typer.Option(help="sla: agency, level or procedure")] = "agency",
    scope: Annotated[str, typer.Option(help="received (at the desk) or handled (own steps)")] = "received",
    include_imported: Annotated[bool, typer.Option(help="count imported legacy history too")] = False,
    format_: Annotated[
        str,
        typer.Option(
            "--format", help="table, csv, json, xlsx (the official form for bieu06) or pdf (bieu06)"
        ),
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Biểu 06 (Circular 01/2020) or the SLA report by agency, level or procedure; bieu06 as xlsx
    or pdf is the official form, in rows by field."""
    from gateways.bootstrap import bootstrap

    err = Console(stderr=True)
    # Before any work: a report is not computed only to be refused at the end.
    check_out(out, err)
    check_terminal(format_, out, err)
    container = bootstrap()
    try:
        container.feed.refresh()  # in process: the views follow the store right here
        reports: SlaReports = container.sla
        now = container.service.now()
        first, last, code = parse_range(from_, to, period, now.date())
        result: Report
        official: OfficialBieu06 | None = None
        if kind == "bieu06" and agency and format_ in ("xlsx", "pdf"):
            official = official_bieu06(
                reports,
                agency,
                first,
                last,
                period=parse_period(code) if code else None,
                include_children=include_children,
                scope=scope,
                include_imported=include_imported,
                now=now,
            )
            result = official.report
        elif kind == "bieu06":
            if not agency:
                raise InvalidValue("bieu06 needs --agency CODE")
            result = reports.bieu06(
                agency,
                first,
                last,
                include_children=include_children,
                scope=scope,
                include_imported=include_imported,
                now=now,
            )
        elif kind == "sla":
            result = reports.sla(
                group_by,
                first,
                last,
                agency_code=agency,
                include_children=include_children,
                scope=scope,
                include_imported=include_imported,
                now=now,
            )
        else:
            raise InvalidValue("the report kind is bieu06 or sla")
        data = render(result, format_, container.catalogue, container.calendar.tz, official)
    except InvalidValue as exc:
        raise refuse(err, exc.detail) from exc
    except OverflowError as exc:  # a day before year 1 or after 9999 (the HTTP report's 422)
        failure = describe(exc)
        assert failure is not None
        raise refuse(err, f"--from/--to: {failure.detail}") from exc
    finally:
        container.close()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_out(out, data, err)
        err.print(f"written: {out}")
