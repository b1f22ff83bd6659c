"""`bench mining`'s reader gives the same numbers whether it remembers every text and instant
it decoded or begins again after each (the bound on what it holds), and its statistics are
those of the standard library."""

from __future__ import annotations

import statistics
from array import array
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.bench import mining
from gateways.bench.mining import _stats, edge_stats

STEPS = ["Create Fine", "Send Fine", "Payment", "Add penalty", "Payment"]


def _log(path: Path) -> Path:
    traces = []
    for t in range(6):
        events = "".join(
            f'<event><string key="concept:name" value="{name}"/>'
            f'<date key="time:timestamp" value="2024-03-{1 + (i + t) // 2:02d}T00:00:00+01:00"/></event>'
            for i, name in enumerate(STEPS[: 2 + t % 4])
        )
        traces.append(f'<trace><string key="concept:name" value="A{t}"/>{events}</trace>')
    path.write_text(f'<?xml version="1.0"?><log xes.version="1.0">{"".join(traces)}</log>', encoding="utf-8")
    return path


def test_the_numbers_do_not_depend_on_what_the_reader_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _log(tmp_path / "fines.xes")
    held = edge_stats(path, "concept:name")
    monkeypatch.setattr(mining, "HELD", 1)  # begins again at every new text and instant
    assert edge_stats(path, "concept:name") == held
    stats, events = held
    assert events == sum(2 + t % 4 for t in range(6))
    assert stats[("Create Fine", "Send Fine")].count == 6  # every trace starts so
    assert stats[("Create Fine", "Send Fine")].min == 0.0  # the same day: no time between


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=40))
def test_edge_statistics_are_the_standard_librarys(values: list[float]) -> None:
    got = _stats(array("d", values))
    assert (got.count, got.min, got.max) == (len(values), min(values), max(values))
    assert got.median == statistics.median(values)
    assert got.mean == pytest.approx(statistics.fmean(values), rel=1e-12, abs=1e-9)
