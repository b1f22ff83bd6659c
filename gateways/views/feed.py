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
from gateways.views.runtime import (
    STORE_FEED,
    STORE_PART,
    Applied,
    PassSeen,
    ViewRunner,
    apply_together,
    decode,
)

log = logging.getLogger("lienthong.views")


class ViewsBehind(RuntimeError):
    """Some views could not apply the log and stay at their positions."""


@dataclass(frozen=True)
class RebuildResult:
    view: str
    events: int


class StoreFeed:
    def __init__(self, store: EventStore, runners: Sequence[ViewRunner], batch: int = 2000) -> None:
        if len({id(r.db) for r in runners}) > 1:
            raise ValueError("the in-process feed moves every view in one transaction: one view store")
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
        """Apply every event recorded so far to every view; returns events read.

        Each batch moves every view's rows and positions in ONE transaction, so a reader
        (or a crash) never sees one view ahead of another. If that fails, the batch is
        applied view by view: a view that cannot take it stays behind (and is named in
        the error raised at the end) while the others go on.
        """
        read = 0
        failed: dict[str, Exception] = {}
        with self._lock:
            positions = {r.name: r.position() for r in self.runners}
            while True:
                active = [r for r in self.runners if r.name not in failed]
                if not active:
                    break
                start = min(positions[r.name] for r in active)
                records = self.store.notifications(start, self.batch)
                if not records:
                    break
                read += len(records)
                items, bad = decode(records)
                for record, exc in bad:
                    # A damaged stored event never stops the views; audit/verify names it.
                    log.error(
                        "skipping undecodable stored event %s#%s: %s", record.dossier_id, record.seq, exc
                    )
                last = records[-1].notification_id or start
                behind = [r for r in active if positions[r.name] < last]

                fresh: dict[str, list[Applied]] = {
                    r.name: [i for i in items if (i.record.notification_id or 0) > positions[r.name]]
                    for r in behind
                }
                try:
                    apply_together(behind, fresh, STORE_FEED, {STORE_PART: last})
                except Exception as exc:  # find the view that cannot take this batch
                    log.error("views: batch up to %s failed (%s); applying view by view", last, exc)
                    for runner in behind:
                        try:
                            runner.apply(fresh[runner.name], STORE_FEED, {STORE_PART: last})
                        except Exception as one:
                            log.error("view %s stays at %s: %s", runner.name, positions[runner.name], one)
                            failed[runner.name] = one
                for runner in behind:
                    if runner.name not in failed:
                        positions[runner.name] = last
        if failed:
            names = ", ".join(sorted(failed))
            raise ViewsBehind(f"views {names} could not apply the log; the others caught up") from next(
                iter(failed.values())
            )
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
        with self._lock:
            with chosen[0].db.transaction() as tx:
                for runner in chosen:
                    runner.reset(tx, feeds=(STORE_FEED,))
                seen = PassSeen(chosen)  # one seen-seq map for the views reset together
                position = 0
                while True:
                    records = self.store.notifications(position, self.batch)
                    if not records:
                        break
                    position = records[-1].notification_id or position
                    items, _bad = decode(records)
                    fresh, moved = seen.fresh(tx, items), {STORE_PART: position}
                    for runner in chosen:
                        runner.apply_in(tx, fresh, STORE_FEED, moved, defer=True, shared=seen)
                    count += len(records)
                for runner in chosen:  # views hold their rows until the pass ends (`defer`)
                    runner.flush(tx)
                seen.finish(tx)
            for runner in chosen:
                runner.committed()
        return [RebuildResult(runner.name, count) for runner in chosen]
