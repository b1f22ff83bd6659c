"""Logs as other writers and publishers write them. Gzip-compressed (`.xes.gz`, as public
logs are published): a compressed log imports as the log it holds, with or without workers; a
damaged one is refused before anything is written; mining reads it; an export named `.gz` is
written compressed, the same bytes each time. Another namespace (Disco's, older OpenXES's, none):
the same import as the standard's.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gateways.bench.mining import edge_stats
from gateways.bootstrap import bootstrap
from gateways.interchange import cli
from gateways.interchange.xes import XesLog, log_stem
from gateways.interchange.xes_import import import_xes
from gateways.settings import Settings
from tests.conftest import CLOCK_START, FakeClock
from tests.integration.kafka_support import SECRET
from tests.integration.test_interchange import RECEIPT
from tests.integration.test_interchange_fidelity import BAD_FILES, RICH
from tests.integration.test_xes_sharded_import import Row, rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receipt_as_imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Row]]:
    """The receipt log imported the plain way (no workers, read here) on a store as
    `make_container` makes it, once for the module: the report (its time left out) and the
    rows every other way of writing or reading the same log must store."""
    tmp = tmp_path_factory.mktemp("plain")
    settings = Settings(
        data_dir=tmp / "var", event_store_url=f"sqlite:///{tmp / 'plain.sqlite'}", jwt_secret=SECRET
    )
    plain = bootstrap(settings, clock=FakeClock(CLOCK_START))
    try:
        report = import_xes(RECEIPT, cli.bulk_service(plain), workers=0, read_in_child=False)
        return {**asdict(report), "seconds": 0}, rows(plain)
    finally:
        plain.close()


def packed(source: Path, target: Path) -> Path:
    target.write_bytes(gzip.compress(source.read_bytes(), mtime=0))
    return target


@pytest.mark.parametrize(
    ("workers", "read_in_child"), [(0, False), (0, True), (2, False)], ids=["here", "child", "two-workers"]
)
def test_a_compressed_log_imports_as_the_log_it_holds(
    make_container: Any,
    tmp_path: Path,
    workers: int,
    read_in_child: bool,
    receipt_as_imported: tuple[dict[str, Any], list[Row]],
) -> None:
    expected, plain_rows = receipt_as_imported
    log = packed(RECEIPT, tmp_path / "receipt.xes.gz")
    container = make_container(f"sqlite:///{tmp_path / 'packed.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), workers=workers, read_in_child=read_in_child)
    assert {**asdict(report), "seconds": 0} == expected
    assert report.dossiers_created == 1434
    assert rows(container) == plain_rows


def test_a_compressed_log_without_a_name_is_named_after_its_file(tmp_path: Path) -> None:
    source = tmp_path / "source.xes"
    source.write_text(RICH.replace('<string key="concept:name" value="Rich log"/>', "", 1), encoding="utf-8")
    for name in ("fines.xes.gz", "fines.XES.GZ", "fines.xes"):
        log = (
            packed(source, tmp_path / name)
            if name.lower().endswith(".gz")
            else source.rename(tmp_path / name)
        )
        for _ in XesLog(log).traces():
            pass
        assert XesLog(log).name == log_stem(log) == "fines", name
        if not name.lower().endswith(".gz"):
            log.rename(source)


def test_damaged_compressed_files_exit_non_zero_and_write_nothing(
    tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    whole = gzip.compress(RICH.encode(), mtime=0)
    files = {
        "cut.xes.gz": (whole[: len(whole) // 2], "damaged or truncated gzip"),
        "page.xes.gz": (gzip.compress(BAD_FILES["page.xes"].encode()), "page.xes.gz is not"),
        "table.xes.gz": (gzip.compress(BAD_FILES["table.xes"].encode()), "not well-formed XML"),
        "half-log.xes.gz": (gzip.compress(RICH[: len(RICH) // 2].encode()), "not well-formed XML"),
        "nothing.xes.gz": (gzip.compress(b""), "not well-formed XML"),
    }
    runner = CliRunner()
    for name, (content, message) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = runner.invoke(interchange_cli, ["import-xes", str(path)])
        assert result.exit_code == 2, (name, result.output)
        assert message in result.output.replace("\n", " "), (name, result.output)
    container = bootstrap()
    try:
        assert container.store.max_notification_id() in (0, None)
    finally:
        container.close()


def test_mining_reads_a_compressed_log(tmp_path: Path) -> None:
    log = packed(RECEIPT, tmp_path / "receipt.xes.gz")
    for key in ("concept:name", "org:group"):
        assert edge_stats(log, key) == edge_stats(RECEIPT, key)


def test_an_export_named_gz_is_compressed_and_the_same_bytes_each_time(
    tmp_path: Path, interchange_cli: typer.Typer
) -> None:
    runner = CliRunner()
    source = tmp_path / "rich.xes"
    source.write_text(RICH, encoding="utf-8")
    assert runner.invoke(interchange_cli, ["import-xes", str(source)]).exit_code == 0
    outputs = []
    for n in (1, 2):
        out = tmp_path / f"export-{n}.xes.gz"
        result = runner.invoke(interchange_cli, ["export", "xes", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    plain = tmp_path / "export.xes"
    assert runner.invoke(interchange_cli, ["export", "xes", "--out", str(plain)]).exit_code == 0
    assert outputs[0] == outputs[1] and outputs[0][:2] == b"\x1f\x8b"
    assert gzip.decompress(outputs[0]) == plain.read_bytes()
    # and it imports back, as the log it holds
    again = runner.invoke(interchange_cli, ["import-xes", str(tmp_path / "export-1.xes.gz")])
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    "namespace",
    ['xmlns="http://www.xes-standard.org"', 'xmlns="http://code.deckfour.org/xes"', ""],
    ids=["disco", "openxes-old", "none"],
)
def test_a_log_in_another_namespace_imports_as_the_standards(
    make_container: Any,
    tmp_path: Path,
    namespace: str,
    receipt_as_imported: tuple[dict[str, Any], list[Row]],
) -> None:
    """Disco writes the standard's namespace without its last slash, older OpenXES and Nitro
    `http://code.deckfour.org/xes`, some writers none: the elements are the same (PM4Py reads
    them all). They were taken for foreign elements: "holds no trace"."""
    expected, plain_rows = receipt_as_imported
    text = RECEIPT.read_text(encoding="utf-8")
    standard = 'xmlns="http://www.xes-standard.org/"'
    assert text.count(standard) == 1
    log = tmp_path / "receipt.xes"
    log.write_text(text.replace(standard, namespace), encoding="utf-8")
    container = make_container(f"sqlite:///{tmp_path / 'other.sqlite'}")
    report = import_xes(log, cli.bulk_service(container), workers=2)
    assert {**asdict(report), "seconds": 0} == expected
    assert rows(container) == plain_rows
