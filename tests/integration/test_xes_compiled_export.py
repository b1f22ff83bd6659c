"""A lienthong XES export reads the same through the compiled reader as through lxml, wholly
compiled (gateways/interchange/_xesread.c; the built logs are in
tests/unit/test_xes_compiled_read.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateways.interchange.export import ExportFormat, export
from gateways.interchange.selection import Selection
from gateways.seed.demo import seed_demo
from tests.unit.test_xes_compiled_read import Lxml, assert_same


def test_a_lienthong_export_reads_the_same_and_wholly_compiled(
    make_container: Any, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_container(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    seed_demo(source.service, clock(), dossiers=40, seed=5)
    log = tmp_path / "demo.xes"
    with log.open("w", encoding="utf-8", newline="") as out:
        summary = export(ExportFormat.XES, out, source.store, source.catalogue, Selection())
    got = assert_same(log)
    assert len(got.traces) == 40 and sum(len(t[2]) for t in got.traces) == summary.events > 40
    lxml_reads = Lxml(monkeypatch)
    lxml_reads.compiled_read(log)
    assert (lxml_reads.alone, lxml_reads.again) == (0, 0)
