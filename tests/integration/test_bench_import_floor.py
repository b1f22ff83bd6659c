"""The floor under `bench import` (gateways/bench/import_floor.py): it writes the rows an
import stored, the same bytes in the same order, into a fresh store, and reads the file bare
and typed; its ceilings are PM4Py's share of read plus write."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateways.bench.import_floor import ImportFloor, best, read_seconds, write_seconds
from gateways.bench.import_xes import fresh_store
from gateways.interchange.xes_import import import_xes
from gateways.settings import Settings

pytestmark = pytest.mark.integration

EVENT = (
    '<event><string key="concept:name" value="{name}"/><string key="org:group" value="{group}"/>'
    '<date key="time:timestamp" value="2024-03-0{day}T09:00:00+07:00"/>'
    '<float key="amount" value="{day}.5"/></event>'
)


def _log(path: Path, traces: int) -> Path:
    body = "".join(
        f'<trace><string key="concept:name" value="case-{t}"/>'
        + "".join(EVENT.format(name=f"step {i}", group=f"Unit {(t + i) % 3}", day=i + 1) for i in range(4))
        + "</trace>"
        for t in range(traces)
    )
    head = '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
    path.write_text(f"{head}{body}</log>", encoding="utf-8")
    return path


def _rows(store: object) -> list[tuple[str, int, str, bytes]]:
    notes = store.recorder.select_notifications(0, 10_000, inclusive_of_start=False)  # type: ignore[attr-defined]
    return [(str(n.originator_id), n.originator_version, n.topic, bytes(n.state)) for n in notes]


def test_the_floor_writes_the_imports_rows_again_and_reads_the_file(tmp_path: Path, backend_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", jwt_secret="test-secret-of-at-least-thirty-two-bytes")
    store_url = None if backend_url.startswith("sqlite") else backend_url
    xes = _log(tmp_path / "log.xes", traces=7)
    with fresh_store(settings, store_url, tmp_path / "import") as source:
        report = import_xes(xes, source.service, workers=0)
        imported = _rows(source.store)
        with fresh_store(settings, store_url, tmp_path / "floor") as target:
            seconds, rows = write_seconds(source.store, target.store, streams_per_transaction=2)
            copied = _rows(target.store)
    assert report.traces_read == 7 and report.synthesized > 0  # the group changes were handed off
    assert rows == len(imported) == report.events_written > 0
    assert copied == imported and seconds > 0  # the same rows, bytes and order
    bare, typed = read_seconds(xes)
    assert bare > 0 and typed > 0


def test_the_ceilings_are_pm4pys_share_and_the_best_of_rounds() -> None:
    floor = best([ImportFloor(0.2, 0.5, 0.4, 10), ImportFloor(0.1, 0.6, 0.5, 10)])
    assert floor == ImportFloor(0.1, 0.5, 0.4, 10)
    assert floor.ceiling(1.0) == 2.0  # 1.0 / (0.1 + 0.4)
    assert floor.overlapped_ceiling(1.0) == 2.5  # 1.0 / max(0.1, 0.4)
    assert floor.as_json(1.0)["ceiling_ratio"] == 2.0
