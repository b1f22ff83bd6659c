"""What a rebuild holds is bounded by the events of a flush or two, not by the history: it holds
no bottleneck block rows between flushes (a filter of the keys it wrote says which to read back),
the seen seqs of the dossiers met since the flush before last only, and the indicators' facts of
the dossiers met within a window of events. Its views answer like live batches all the same."""

from __future__ import annotations

from typing import Any

import pytest

from gateways.simulation.bulk import bulk_seed
from gateways.views import runtime
from gateways.views.bottleneck import BottleneckView
from gateways.views.bottleneck import store as bottleneck_store
from gateways.views.indicators import IndicatorsView
from gateways.views.registry import build_views
from gateways.views.runtime import ViewRunner, decode
from gateways.views.toolkit import IdFilter
from tests.integration.test_held_views import _feed, _snapshot


class _Recorded(IdFilter):
    """An id filter that also remembers, exactly, what was added."""

    def __init__(self) -> None:
        super().__init__()
        self.added: set[str] = set()

    def add(self, key: str) -> None:
        super().add(key)
        self.added.add(key)


def test_a_rebuild_holds_what_its_last_flushes_met_and_writes_the_rows_of_live_batches(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = make_container(backend_url)
    bulk_seed(container, 60)
    items, bad = decode(container.store.notifications(0, 100_000))
    assert not bad
    # The reference: the views emptied, then live batches through runners whose views were never
    # reset, which hold block rows up to a limit (tiny here: rows let go mid-flush, read back).
    with container.view_db.transaction() as tx:
        for runner in container.runners:
            runner.reset(tx)
    live = [ViewRunner(container.view_db, v) for v in build_views(container.calendar)]
    assert not any(isinstance(r.view, BottleneckView) and r.view.rows_complete for r in live)
    with monkeypatch.context() as tiny:
        tiny.setattr(bottleneck_store, "ROWS_LIMIT", 60)
        tiny.setattr(bottleneck_store, "WRITE_CHUNK", 7)
        for start in range(0, len(items), 53):
            _feed(live, items[start : start + 53])
    expected = _snapshot(container)
    assert expected["bottleneck_counts"] and expected["ind_dossiers"]

    monkeypatch.setattr(runtime, "FLUSH_EVENTS", 37)
    monkeypatch.setattr(container.feed.log, "batch", 23)
    views = {r.name: r.view for r in container.runners}
    bottleneck, indicators = views["bottleneck"], views["indicators"]
    assert isinstance(bottleneck, BottleneckView) and isinstance(indicators, IndicatorsView)
    indicators.held.recent = 40
    # A pass holds its day sums across flushes up to DAYS_LIMIT (subject, day)s: a tiny limit
    # makes it write blocks mid-pass, so later flushes meet rows it wrote before.
    monkeypatch.setattr(bottleneck_store, "DAYS_LIMIT", 5)

    windows: list[tuple[set[str], int]] = []  # per flush: dossiers met since the last, seqs held after
    flush_seen = runtime.PassSeen.flush

    def seen_flush(self: runtime.PassSeen, tx: Any) -> None:
        met = set(self.dirty)
        flush_seen(self, tx)
        windows.append((met, len(self.seen)))

    rows_held: list[int] = []
    facts_held: list[int] = []
    flush_bottleneck, flush_within = bottleneck.flush, bottleneck.flush_within
    flush_indicators = indicators.flush

    def bottleneck_flush(tx: Any) -> None:
        flush_bottleneck(tx)
        rows_held.append(len(bottleneck.rows))

    def bottleneck_flush_within(tx: Any) -> None:
        flush_within(tx)
        rows_held.append(len(bottleneck.rows))

    def indicators_flush(tx: Any) -> None:
        flush_indicators(tx)
        facts_held.append(len(indicators.held.known))

    written = bottleneck.written = _Recorded()  # kept by the reset: nothing added yet
    asked: list[str] = []
    read_back = bottleneck._read_back

    def counted(tx: Any, missing: list[str]) -> None:
        assert set(missing) <= written.added, "only rows written earlier in the pass are read back"
        asked.extend(missing)
        read_back(tx, missing)

    monkeypatch.setattr(runtime.PassSeen, "flush", seen_flush)
    monkeypatch.setattr(bottleneck, "flush", bottleneck_flush)
    monkeypatch.setattr(bottleneck, "flush_within", bottleneck_flush_within)
    monkeypatch.setattr(indicators, "flush", indicators_flush)
    monkeypatch.setattr(bottleneck, "_read_back", counted)
    container.feed.rebuild()

    assert _snapshot(container) == expected
    # No block rows held by any flush of the pass, its last included.
    assert len(windows) > 5 and len(rows_held) > 5 and not any(rows_held)
    assert bottleneck.written is written and asked, "block rows met again were read back"
    assert {str(r["key"]) for r in expected["bottleneck_counts"]} <= written.added
    for met, held in windows:
        assert held == len(met)  # the seqs of the dossiers met since the last flush, no more
    everyone = {i.dossier_id for i in items}
    assert max(held for _, held in windows) < len(everyone)
    assert max(facts_held) < len(everyone) and indicators.held.dropped.count > 0
