"""The in-process feed: views follow the event store's notification log directly.

Used by the embedded default (no Kafka) right after each append, and by every
rebuild. The Kafka projector (gateways/kafka/projector.py) feeds the same
`ViewRunner`s from the topic instead: one code path for views, two feeds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from gateways.eventstore.store import EventStore
from gateways.views.runtime import STORE_FEED, STORE_PART, ViewRunner, decode

log = logging.getLogger("lienthong.views")


@dataclass(frozen=True)
class RebuildResult:
    view: str
    events: int


class StoreFeed:
    def __init__(self, store: EventStore, runners: Sequence[ViewRunner], batch: int = 2000) -> None:
        self.store = store
        self.runners = list(runners)
        self.batch = batch
        self._lock = threading.Lock()

    def runner(self, name: str) -> ViewRunner:
        for runner in self.runners:
            if runner.name == name:
                return runner
        raise KeyError(f"no view '{name}' (views: {', '.join(r.name for r in self.runners)})")

    def catch_up(self) -> int:
        """Apply every event recorded so far to every view; returns events read."""
        read = 0
        with self._lock:
            positions = {r.name: r.position() for r in self.runners}
            while self.runners:
                start = min(positions.values())
                records = self.store.notifications(start, self.batch)
                if not records:
                    return read
                read += len(records)
                items, bad = decode(records)
                for record, exc in bad:
                    # A damaged stored event never stops the views; audit/verify names it.
                    log.error(
                        "skipping undecodable stored event %s#%s: %s", record.dossier_id, record.seq, exc
                    )
                last = records[-1].notification_id or start
                for runner in self.runners:
                    mine = positions[runner.name]
                    if mine >= last:
                        continue
                    fresh = [i for i in items if (i.record.notification_id or 0) > mine]
                    runner.apply(fresh, STORE_FEED, {STORE_PART: last})
                    positions[runner.name] = last
        return read

    def rebuild(self, names: Sequence[str] | None = None) -> list[RebuildResult]:
        """Rebuild views from the event store in ONE transaction and one pass over the log.

        Rows, seen seqs and the store position are reset and replayed together, so
        readers see either the old views or the rebuilt ones. Each event is decoded
        once for all the views. Kafka positions are kept: every event before them is
        in the store, and anything later is applied by the projector once
        (redeliveries are recognised by seq).
        """
        chosen = [self.runner(n) for n in names] if names else self.runners
        if not chosen:
            return []
        count = 0
        with self._lock, chosen[0].db.transaction() as tx:
            for runner in chosen:
                runner.reset(tx, feeds=(STORE_FEED,))
            position = 0
            while True:
                records = self.store.notifications(position, self.batch)
                if not records:
                    break
                position = records[-1].notification_id or position
                items, _bad = decode(records)
                for runner in chosen:
                    runner.apply_in(tx, items, STORE_FEED, {STORE_PART: position})
                count += len(records)
        return [RebuildResult(runner.name, count) for runner in chosen]
