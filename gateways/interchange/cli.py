"""`lienthong export` and `lienthong import-xes`: on the configured stores directly, no server."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from lxml import etree
from rich.console import Console
from rich.table import Table

from domain.errors import DomainError, InvalidValue
from gateways.application.service import DossierService
from gateways.bootstrap import Container, bootstrap
from gateways.cli_out import check_out, refuse
from gateways.interchange.export import ExportFormat, export_database
from gateways.interchange.export import export as run_export
from gateways.interchange.mapping import GroupMapping
from gateways.interchange.selection import Selection, parse_bound
from gateways.interchange.xes_import import import_xes as run_import
from gateways.interchange.xes_report import ImportReport

err = Console(stderr=True)


def bulk_service(container: Container) -> DossierService:
    """The container's service: the importer buffers it and appends a batch of traces per
    transaction through the writer; the views follow each batch, not each event."""
    return container.service


@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    """UTF-8 text to `out` (written to a side file, renamed when complete, removed when the
    export fails; gzip-compressed when its name ends in `.gz`) or to stdout. The caller has
    checked `out`'s directory (check_out)."""
    if out is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()  # leave stdout open for the rest of the process
        return
    part = out.with_name(out.name + ".part")
    try:
        if out.name.lower().endswith(".gz"):
            # Compressed, as public logs are published (`log.xes.gz`); no time in the gzip header,
            # so the same export gives the same bytes.
            with (
                part.open("wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as stream,
            ):
                yield stream
        else:
            with part.open("w", encoding="utf-8", newline="") as stream:
                yield stream
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)  # a failed export leaves no half file behind
        raise


def export(
    format: Annotated[
        ExportFormat,
        typer.Argument(
            help="xes (IEEE 1849), ocel (OCEL 2.0 JSON), ocel-sqlite (OCEL 2.0 SQLite; needs --out) or csv"
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="file to write, gzip-compressed if it ends in .gz (default: standard output)"
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="events from this date (whole local day) or instant")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="events up to this date (inclusive) or instant")
    ] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="only dossiers this agency took part in (by code)")
    ] = None,
    synthesized: Annotated[
        bool,
        typer.Option(
            "--synthesized/--no-synthesized",
            help="include the events an XES import added (imported dossiers' receipts and case records)",
        ),
    ] = False,
    procedure: Annotated[
        str | None,
        typer.Option(
            "--procedure",
            help="only dossiers of this procedure (by code; an imported log is IMPORTED-<log name>)",
        ),
    ] = None,
    whole_cases: Annotated[
        bool,
        typer.Option(
            "--whole-cases",
            help="--from/--to choose dossiers (those with an event in the window), each written whole",
        ),
    ] = False,
) -> None:
    """Export dossier history for process-mining tools and spreadsheets (no applicant data)."""
    if format == ExportFormat.OCEL_SQLITE and out is None:
        raise refuse(err, "ocel-sqlite writes a database file: give it with --out FILE")
    check_out(out, err)
    container = bootstrap()
    try:
        tz = container.calendar.tz
        try:
            if agency is not None and agency not in container.catalogue.hierarchy:
                raise InvalidValue(f"unknown agency '{agency}' (--agency takes an agency code)")
            if procedure is not None and container.catalogue.procedure(procedure) is None:
                raise InvalidValue(
                    f"unknown procedure '{procedure}' (--procedure takes a procedure code, "
                    "IMPORTED-<log name> for an imported log: `import-xes` prints it)"
                )
            selection = Selection(
                start=parse_bound(from_, tz, end=False, name="--from"),
                end=parse_bound(to, tz, end=True, name="--to"),
                agency=agency,
                synthesized=synthesized,
                procedure=procedure,
                whole_cases=whole_cases,
            )
        except DomainError as exc:
            raise refuse(err, exc.detail) from exc
        if format == ExportFormat.OCEL_SQLITE:
            assert out is not None
            part = out.with_name(out.name + ".part")
            part.unlink(missing_ok=True)
            summary = export_database(part, container.store, container.catalogue, selection)
            part.replace(out)
        else:
            with _output(out) as stream:
                summary = run_export(format, stream, container.store, container.catalogue, selection)
    finally:
        container.close()
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    err.print(
        f"exported {summary.dossiers} dossiers, {summary.events} events as {summary.format.value} "
        f"in {summary.seconds:.1f} s ({rate:,.0f} events/s)" + (f" to {out}" if out else "")
    )
    if summary.cut:
        err.print(
            f"[yellow]{summary.cut} dossiers cut by the window: their events outside --from/--to are "
            "left out (--whole-cases writes each dossier with an event in the window whole)[/yellow]"
        )
    if summary.damaged:
        err.print(
            f"[yellow]{summary.damaged} dossiers left out: a stored event could not be read "
            "(`lienthong audit verify` names it)[/yellow]"
        )


def import_xes(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the XES log to import")],
    mapping: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="JSON: org:group -> agency level / code / name"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="processes that decide and encode traces beside this one (0: none; "
            "default: 2, or 0 on a single core)",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="the IANA time zone the log's times without a UTC offset were written in "
            "(Europe/Amsterdam, Asia/Ho_Chi_Minh, UTC…); without it such events are left out",
        ),
    ] = None,
) -> None:
    """Import a legacy system's XES event log as imported dossier history."""
    try:
        groups = GroupMapping.load(mapping)
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    zone = _zone(timezone)
    container = bootstrap()
    try:
        try:
            with err.status(f"importing {file.name}…") as status:

                def progress(so_far: ImportReport) -> None:
                    if so_far.traces_read % 100 == 0:
                        status.update(
                            f"importing {file.name}: {so_far.traces_read:,} traces, "
                            f"{so_far.events_written:,} events written"
                        )

                service = bulk_service(container)
                report = run_import(file, service, groups, progress, workers=workers, zone=zone)
        except etree.XMLSyntaxError as exc:
            err.print(f"[red]{file.name} is not well-formed XML: {exc}[/red]")
            raise typer.Exit(2) from exc
        except DomainError as exc:
            err.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(2) from exc
        # In process: return only once the views show the imported history.
        container.feed.refresh()
    finally:
        container.close()
    print_report(report, Console())
    if report.traces_read and not report.dossiers_created and not report.skipped_existing:
        # A well-formed log of which not one trace could be imported: the run did not do what
        # was asked, whatever the reasons the report counts (exit 1; a file that is no log: 2).
        err.print(
            f"[red]nothing imported: none of the {report.traces_read:,} traces of {file.name} could be "
            "imported (the reasons are above; times without a UTC offset need --timezone ZONE)[/red]"
        )
        raise typer.Exit(1)


def _zone(name: str | None) -> ZoneInfo | None:
    """The zone named on the command line (exit 2 with the reason if there is none such)."""
    if name is None:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise refuse(err, f"--timezone {name!r} is no IANA time zone (Asia/Ho_Chi_Minh, UTC…)") from exc


def print_report(report: ImportReport, console: Console) -> None:
    table = Table(title=f"XES import: {report.log_name}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rate = report.events_written / report.seconds if report.seconds > 0 else 0.0
    for label, value in (
        ("procedure", f"{report.procedure_code}{' (created)' if report.procedure_created else ''}"),
        ("agencies created", ", ".join(report.agencies_created) or "none"),
        ("traces read", report.traces_read),
        ("dossiers created", report.dossiers_created),
        ("skipped (already imported)", report.skipped_existing),
        ("events read", report.events_read),
        ("  recorded as they are (legacy activities, every attribute)", report.legacy),
        ("  replayed as lienthong lifecycle events", report.mapped),
        ("  not imported", report.dropped),
        ("  in skipped traces", report.events_in_skipped),
        ("receipts synthesized (not in the log)", report.synthesized),
        ("case records (each trace's id and attributes)", report.cases_recorded),
        ("events written", report.events_written),
        ("dossiers left open (the log does not end them)", report.left_open),
        ("time", f"{report.seconds:.1f} s ({rate:,.0f} events/s)"),
    ):
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    # The table cuts a long code to the terminal's width; this line never is: the one name
    # `export --procedure` takes to give this log back alone.
    console.print(
        f"export this log: lienthong export xes --procedure {report.procedure_code}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    if report.unmapped:
        reasons = Table(title="Not mapped one to one", show_header=True)
        reasons.add_column("reason")
        reasons.add_column("count", justify="right")
        for reason, count in report.unmapped.most_common():
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)
    if report.renamed:
        renamed = Table(title="Trace names met again: imported under another case id", show_header=True)
        renamed.add_column("trace name")
        renamed.add_column("case id")
        for name, case_id in report.renamed[:50]:
            renamed.add_row(name, case_id)
        if len(report.renamed) > 50:
            renamed.add_row("…", f"{len(report.renamed) - 50:,} more")
        console.print(renamed)
    if report.too_large:
        large = Table(title="Traces not imported: an event too large to store", show_header=True)
        large.add_column("case id")
        large.add_column("event bytes", justify="right")
        large.add_column("most an event takes", justify="right")
        for case_id, size, limit in report.too_large[:50]:
            large.add_row(case_id, f"{size:,}", f"{limit:,}")
        if len(report.too_large) > 50:
            large.add_row("…", f"{len(report.too_large) - 50:,} more", "")
        console.print(large)
    if report.channels_defaulted:
        channels = Table(title="Channels taken as direct", show_header=True)
        channels.add_column("channel in the log")
        channels.add_column("traces", justify="right")
        for value, count in report.channels_defaulted.most_common():
            channels.add_row(value, f"{count:,}")
        console.print(channels)
