"""Report answers cached by (query, view position).

A report is read far more often than its view changes, and an answer depends only on the
query, the view's rows and the catalogue (levels, subtrees). The view's position is the
batch counter its runtime moves in the same transaction as the rows
(`projection_views.batches`, and `rebuilt_at` for a rebuild): while it stands, the rows
stand, and a cached answer is the answer. A new batch, a rebuild or a catalogue edit
makes every older entry unreachable; the least recently used ones are dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from gateways.sql import Database

T = TypeVar("T")


class ReportCache:
    def __init__(self, db: Database, size: int = 512) -> None:
        self.db = db
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[object, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def position(self, view: str) -> tuple[int, str | None]:
        """The view's position: it moves with every batch and every rebuild."""
        rows = self.db.query("SELECT batches, rebuilt_at FROM projection_views WHERE view = ?", (view,))
        return (int(rows[0]["batches"]), rows[0]["rebuilt_at"]) if rows else (0, None)

    def answer(self, view: str, query: Hashable, context: object, compute: Callable[[], T]) -> T:
        """The cached answer to `query` at the view's current position, or `compute()`'s.

        `context` is what else the answer was made from (the catalogue's hierarchy object):
        an entry made with another one is not used. The position is read before computing,
        so an answer is never older than the position it is filed under.
        """
        key = (view, self.position(view), query)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is context:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = (context, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
