"""Where a command's `--out` file goes: checked before any work, written whole or not at all.

An operator who mistypes a directory gets one line and exit 2 (bad input), as for any other
option; no directory is created on their behalf (a typo would otherwise leave the report in a
directory nobody looks in).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

BINARY_FORMATS = ("xlsx", "pdf")


def refuse(err: Console, message: str) -> typer.Exit:
    """Print `message` in red on `err`; the caller raises the returned exit (status 2)."""
    err.print(f"[red]{escape(message)}[/red]", soft_wrap=True, highlight=False)
    return typer.Exit(2)


def problem(out: Path) -> str | None:
    """Why `out` cannot be written, or None."""
    if out.is_dir():
        return f"--out {out}: this is a directory; give the name of the file to write"
    parent = out.parent
    if not parent.is_dir():
        return f"--out {out}: no directory {parent}; create it first (nothing was written)"
    return None


def check_out(out: Path | None, err: Console) -> None:
    """Exit 2 with a message when `out` is given and cannot be written (before any work)."""
    if out is None:
        return
    reason = problem(out)
    if reason is not None:
        raise refuse(err, reason)


def check_terminal(fmt: str, out: Path | None, err: Console) -> None:
    """Exit 2 when a binary format would go to a terminal: it prints as garbage and can leave
    the terminal in a strange state. Redirected to a file or a pipe, it is written."""
    if out is None and fmt in BINARY_FORMATS and stdout_is_terminal():
        raise refuse(
            err,
            f"{fmt} is a binary file: give --out FILE, or redirect standard output to a file "
            f"(> report.{fmt})",
        )


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


def write_out(out: Path, data: bytes, err: Console) -> None:
    """`data` into `out` through a side file renamed when complete: a failed write (disk full,
    no permission, the directory removed meanwhile) leaves no half file, and exits 2 with why."""
    part = out.with_name(out.name + ".part")
    try:
        part.write_bytes(data)
        part.replace(out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        reason = problem(out) or f"--out {out}: {exc.strerror or exc} (nothing was written)"
        raise refuse(err, reason) from exc
