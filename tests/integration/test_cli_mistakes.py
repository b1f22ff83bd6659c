"""An operator's slips on the command line get one line saying what is wrong and exit 2 (bad
input), never a traceback, and nothing is written: a mistyped `--out` directory, a day that is
not in the calendar, a range past year 9999, a spreadsheet sent to the terminal, the demo seeded
twice, an agency code that does not exist."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gateways import report_cli
from gateways.bootstrap import bootstrap
from gateways.cli import app

SECRET = "test-secret-of-at-least-thirty-two-bytes"
CITY = "000.00.00.H29"  # the demo's province people's committee


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command line's configuration: an embedded store under tmp_path (no Kafka, no env file)."""
    monkeypatch.setenv("LIENTHONG_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", SECRET)
    monkeypatch.delenv("LIENTHONG_EVENT_STORE_URL", raising=False)
    monkeypatch.delenv("LIENTHONG_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("LIENTHONG_KEYS_DIR", raising=False)
    return tmp_path


@pytest.fixture
def seeded(store: Path) -> Path:
    result = CliRunner().invoke(app, ["seed", "--dossiers", "8", "--no-country"])
    assert result.exit_code == 0, result.output
    return store


def _refused(args: list[str], *words: str) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output
    return result.output


@pytest.mark.parametrize(
    "command",
    [
        ["report", "bieu06", "--agency", CITY, "--format", "csv"],
        ["report", "bieu06", "--agency", CITY, "--format", "xlsx"],
        ["export", "csv"],
        ["export", "xes"],
        ["print", "receipt", "any-dossier"],
        ["country"],
    ],
    ids=["report-csv", "report-xlsx", "export-csv", "export-xes", "print", "country"],
)
def test_an_out_file_in_a_directory_that_does_not_exist_is_refused(seeded: Path, command: list[str]) -> None:
    missing = seeded / "reports" / "2026"
    target = missing / "out.file"
    _refused([*command, "--out", str(target)], "--out", "no directory", str(missing))
    assert not (seeded / "reports").exists()  # no directory made on the operator's behalf

    here = seeded / "here"
    here.mkdir()
    _refused([*command, "--out", str(here)], "is a directory")
    assert list(here.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--from", "2026-13-01", ("--from '2026-13-01'", "month must be in 1..12", "YYYY-MM-DD")),
        ("--from", "2026-02-30", ("--from '2026-02-30'", "day is out of range", "ISO instant")),
        ("--to", "2026-02-30", ("--to '2026-02-30'",)),
        ("--to", "9999-12-31", ("--to '9999-12-31'", "out of the range")),
        ("--from", "yesterday", ("--from 'yesterday'", "neither a date")),
    ],
)
def test_export_names_the_option_whose_date_is_not_in_the_calendar(
    seeded: Path, option: str, value: str, words: tuple[str, ...]
) -> None:
    out = seeded / "out.csv"
    _refused(["export", "csv", option, value, "--out", str(out)], *words)
    assert not out.exists() and not (seeded / "out.csv.part").exists()


def test_export_refuses_an_agency_code_the_catalogue_does_not_know(seeded: Path) -> None:
    out = seeded / "out.csv"
    _refused(["export", "csv", "--agency", "NOPE", "--out", str(out)], "unknown agency 'NOPE'")
    assert not out.exists()
    _refused(["report", "sla", "--agency", "NOPE"], "unknown agency 'NOPE'")  # as the report does

    known = CliRunner().invoke(app, ["export", "csv", "--agency", CITY, "--out", str(out)])
    assert known.exit_code == 0, known.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_report_range_past_the_calendar_is_refused_as_the_http_report_refuses_it(seeded: Path) -> None:
    # The HTTP report answers 422 out-of-range for these; a range that fits is computed.
    for first, last in (("0001-01-01", "9999-12-31"), ("2026-01-01", "9999-12-31")):
        _refused(["report", "sla", "--from", first, "--to", last], "--from/--to", "out of the range")
    wide = CliRunner().invoke(app, ["report", "sla", "--from", "0001-01-02", "--to", "9999-12-30"])
    assert wide.exit_code == 0, wide.output


@contextmanager
def terminal() -> Iterator[bytearray]:
    """Standard output on a pseudo-terminal, as in an operator's shell (standard error stays
    captured); yields what reaches the screen, complete once the block is left. Set in the
    test's body: the capture of output puts its own standard output back after set-up."""
    reader, writer = os.openpty()
    seen = bytearray()

    def drain() -> None:  # so that a write never waits for a full terminal buffer
        while True:
            try:
                chunk = os.read(reader, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    screen = open(writer, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    kept, sys.stdout = sys.stdout, screen
    try:
        yield seen
    finally:
        sys.stdout = kept
        screen.close()
        thread.join()
        os.close(reader)


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_a_binary_report_is_not_sent_to_a_terminal(
    seeded: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with terminal() as screen, pytest.raises(typer.Exit) as refused:
        assert sys.stdout.isatty()
        report_cli.report("bieu06", agency=CITY, format_=fmt)
    assert refused.value.exit_code == 2
    assert bytes(screen) == b""
    assert f"{fmt} is a binary file: give --out FILE" in capsys.readouterr().err

    with terminal() as screen:  # text formats still print there
        report_cli.report("bieu06", agency=CITY, format_="json")
    assert b'"agency_code"' in bytes(screen)


def test_a_binary_report_goes_to_a_pipe_or_a_file(seeded: Path) -> None:
    piped = CliRunner().invoke(app, ["report", "bieu06", "--agency", CITY, "--format", "xlsx"])
    assert piped.exit_code == 0, piped.output
    assert piped.stdout_bytes.startswith(b"PK")  # a zip: the spreadsheet
    out = seeded / "bieu06.pdf"
    written = CliRunner().invoke(
        app, ["report", "bieu06", "--agency", CITY, "--format", "pdf", "--out", str(out)]
    )
    assert written.exit_code == 0, written.output
    assert out.read_bytes().startswith(b"%PDF") and not (seeded / "bieu06.pdf.part").exists()


def _written(store: Path) -> tuple[int, Any]:
    container = bootstrap()
    try:
        hierarchy = container.catalogue.hierarchy
        return container.store.max_notification_id(), sorted(a.code for a in hierarchy)
    finally:
        container.close()


def test_seeding_the_same_demo_again_is_refused_before_anything_is_written(seeded: Path) -> None:
    before = _written(seeded)
    _refused(["seed", "--dossiers", "8", "--no-country"], "already holds the demo dossiers of seed 2012")
    # Another province's demo on the same seed would make the same dossiers: refused too, and
    # neither the country's units nor that province's catalogue are written.
    _refused(["seed", "--dossiers", "3", "--province", "04"], "use another --seed or a fresh data")
    assert _written(seeded) == before

    other = CliRunner().invoke(app, ["seed", "--dossiers", "4", "--no-country", "--seed", "7"])
    assert other.exit_code == 0, other.output
    assert _written(seeded)[0] > before[0]


def test_stream_without_kafka_says_how_to_reach_the_stores_of_make_run_kafka(store: Path) -> None:
    # var/run-kafka.env holds KEY=VALUE lines without `export`: sourcing it leaves the command's
    # environment as it was, so the advice is the variable that names it, as the README says.
    output = _refused(["stream"], "LIENTHONG_KAFKA_BOOTSTRAP", "LIENTHONG_ENV_FILE=var/run-kafka.env")
    assert "source" not in output


def test_print_names_a_receipt_code_it_does_not_know_as_a_receipt_code(seeded: Path) -> None:
    out = seeded / "slip.pdf"
    output = _refused(
        ["print", "receipt", "W.01-260302-0001", "--out", str(out)],
        "no dossier with the receipt code 'W.01-260302-0001'",
    )
    assert "UUID" not in output  # the command takes receipt codes: not "not a dossier id"
    assert not out.exists()


def test_a_token_for_an_agency_the_catalogue_does_not_hold_is_refused(seeded: Path) -> None:
    # Every call with it would be refused (403/404) far from the typo that caused it.
    _refused(["token", "--role", "officer", "--agency", "NOPE"], "no agency 'NOPE' in the catalogue")
    _refused(["token", "--role", "supervisor", "--agency", CITY.lower()], f"did you mean {CITY}?")
    issued = CliRunner().invoke(app, ["token", "--role", "officer", "--agency", CITY])
    assert issued.exit_code == 0 and issued.stdout.count(".") == 2, issued.output


def test_an_integration_token_names_its_system(store: Path) -> None:
    # Idempotency keys are scoped to the subject: two systems under the default name would
    # replay each other's answers.
    _refused(["token", "--role", "integration"], "--sub NAME")
    _refused(["token", "--role", "integration", "--sub", "  "], "--sub NAME")
    issued = CliRunner().invoke(app, ["token", "--role", "integration", "--sub", "portal-dvc"])
    assert issued.exit_code == 0 and issued.stdout.count(".") == 2, issued.output


def test_a_token_can_be_issued_before_any_catalogue_is_loaded(store: Path) -> None:
    issued = CliRunner().invoke(app, ["token", "--role", "admin"])
    assert issued.exit_code == 0, issued.output
    issued = CliRunner().invoke(app, ["token", "--role", "officer", "--agency", "ANY.01"])
    assert issued.exit_code == 0, issued.output


def test_stream_refuses_a_view_it_does_not_have(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `stream --view slaa` ran no projector at all and said only "views=[]"; checked before
    # anything reaches the broker (nothing listens on this port).
    monkeypatch.setenv("LIENTHONG_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    _refused(["stream", "--view", "slaa"], "no view 'slaa'", "dossier_index", "sla")


def test_a_printed_receipt_sends_the_citizen_to_the_public_url_of_the_env_file(seeded: Path) -> None:
    # Set in the env file (not exported): the slip's lookup address must still be it, not localhost.
    (seeded / "no.env").write_text("LIENTHONG_PUBLIC_URL=https://dichvucong.example.vn\n")
    container = bootstrap()
    try:
        received = next(e for e in container.store.notifications(0, 100) if e.type == "DossierReceived")
        code = received.envelope["payload"]["receipt_code"]
    finally:
        container.close()
    out = seeded / "slip.html"
    printed = CliRunner().invoke(app, ["print", "receipt", code, "--format", "html", "--out", str(out)])
    assert printed.exit_code == 0, printed.output
    html = out.read_text(encoding="utf-8")
    assert "https://dichvucong.example.vn/#/lookup?code=" in html and "127.0.0.1" not in html
