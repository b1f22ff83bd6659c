"""The bottleneck view's block rows across the flushes of a rebuild pass and of live batches
(gateways/views/bottleneck/store.py): a pass holds its day sums and writes each block once at
its last flush (or when it holds more than `DAYS_LIMIT`), and a key is read back only if it may
have been written since the table was known empty. Whatever the limits, the rows are those of
live batches."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gateways.simulation.bulk import bulk_seed
from gateways.views.bottleneck import BottleneckView
from gateways.views.bottleneck import store as bottleneck_store
from gateways.views.bottleneck.schema import _UPSERT_COUNT
from gateways.views.runtime import STORE_FEED, STORE_PART, Applied, ViewRunner, apply_together, decode


def _counts(container: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = container.view_db.query("SELECT * FROM bottleneck_counts ORDER BY key")
    return rows


def _seeded(container: Any) -> tuple[list[dict[str, Any]], list[Applied]]:
    """The block rows of live batches of 53 events fed to a reset store, and every event."""
    bulk_seed(container, 60)
    with container.view_db.transaction() as tx:
        for runner in container.runners:
            runner.reset(tx)
    items, bad = decode(container.store.notifications(0, 100_000))
    assert not bad
    for start in range(0, len(items), 53):
        batch = items[start : start + 53]
        position = batch[-1].record.notification_id or 0
        apply_together(
            container.runners, {r.name: batch for r in container.runners}, STORE_FEED, {STORE_PART: position}
        )
    rows = _counts(container)
    assert rows
    return rows, items


def _new_runner(container: Any) -> tuple[BottleneckView, ViewRunner]:
    """The views emptied, and a runner for a bottleneck view that knows nothing of the store
    (a new process)."""
    with container.view_db.transaction() as tx:
        for runner in container.runners:
            runner.reset(tx)
    view = BottleneckView(container.calendar)
    return view, ViewRunner(container.view_db, view)


class _Writes:
    """Every block key a view writes (upserts) and asks back from the store, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written: Counter[str] = Counter()
        self.asked: list[tuple[str, bool]] = []  # (key, written before it was asked)
        upsert = _UPSERT_COUNT
        write, read_back = type(upsert).write, BottleneckView._read_back

        def counted_write(this: Any, tx: Any, rows: Any) -> None:
            if this is upsert:
                self.written.update(row[0] for row in rows)
            write(this, tx, rows)

        def counted_read_back(view: BottleneckView, tx: Any, missing: list[str]) -> None:
            self.asked.extend((key, key in self.written) for key in missing)
            read_back(view, tx, missing)

        monkeypatch.setattr(type(upsert), "write", counted_write)
        monkeypatch.setattr(BottleneckView, "_read_back", counted_read_back)


def test_a_pass_that_holds_its_days_writes_each_block_once(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flushes every 31 events, but the day sums stay held across them: every block row is
    written once, at the pass's last flush, none is read back, and the rows are the live ones."""
    from gateways.views import runtime

    container = make_container(backend_url)
    expected, _ = _seeded(container)
    monkeypatch.setattr(runtime, "FLUSH_EVENTS", 31)
    monkeypatch.setattr(container.feed.log, "batch", 23)
    monkeypatch.setattr(bottleneck_store, "DAYS_LIMIT", 10**9)
    writes = _Writes(monkeypatch)
    container.feed.rebuild()
    assert _counts(container) == expected
    assert set(writes.written) == {row["key"] for row in expected}
    assert max(writes.written.values()) == 1
    assert writes.asked == []


def test_a_pass_past_its_limit_writes_and_reads_back_only_what_it_wrote(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held days past a tiny `DAYS_LIMIT` are written mid-pass, some blocks again later: those
    are read back (and summed), a key never written is never asked for, and the rows are the
    live ones, with write sets and held rows cut small too."""
    from gateways.views import runtime

    container = make_container(backend_url)
    expected, _ = _seeded(container)
    monkeypatch.setattr(runtime, "FLUSH_EVENTS", 31)
    monkeypatch.setattr(container.feed.log, "batch", 23)
    monkeypatch.setattr(bottleneck_store, "DAYS_LIMIT", 5)
    monkeypatch.setattr(bottleneck_store, "WRITE_CHUNK", 7)
    monkeypatch.setattr(bottleneck_store, "ROWS_LIMIT", 60)
    writes = _Writes(monkeypatch)
    container.feed.rebuild()
    assert _counts(container) == expected
    assert max(writes.written.values()) > 1, "some blocks were written at more than one flush"
    assert writes.asked, "rows let go and written again were read back"
    assert all(before for _, before in writes.asked)


def test_live_batches_into_a_new_view_store_read_back_only_what_they_wrote(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner that knows nothing of the store (a new process) finds the block table empty and
    reads back only the keys it has written since; then another writer moves the view, and
    everything not held is read back again."""
    container = make_container(backend_url)
    expected, items = _seeded(container)
    view, runner = _new_runner(container)
    monkeypatch.setattr(bottleneck_store, "ROWS_LIMIT", 60)
    writes = _Writes(monkeypatch)
    half = len(items) // 2
    for start in range(0, half, 97):
        runner.apply(items[start : min(start + 97, half)], STORE_FEED, {})
    assert view.rows_complete
    assert writes.asked and all(before for _, before in writes.asked)
    other = ViewRunner(container.view_db, BottleneckView(container.calendar))
    other.apply(items[half : half + 50], STORE_FEED, {})  # another writer: `runner` forgets
    writes.asked.clear()
    runner.apply(items[half + 50 :], STORE_FEED, {})
    assert not view.rows_complete
    assert any(not before for _, before in writes.asked), "knowing nothing, new keys are asked for too"
    assert _counts(container) == expected


def test_live_batches_into_a_new_view_store_hold_their_rows(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding no block rows is for a rebuild pass only: a runner that finds the block table
    empty and applies live batches holds the rows it writes, so a later batch meeting the same
    blocks (a week, a month) asks nothing back."""
    container = make_container(backend_url)
    expected, items = _seeded(container)
    view, runner = _new_runner(container)
    writes = _Writes(monkeypatch)
    for start in range(0, len(items), 97):
        runner.apply(items[start : start + 97], STORE_FEED, {})
    assert view.rows_complete
    assert len(view.rows) == len(expected)
    assert writes.asked == []
    assert _counts(container) == expected
