"""Recently used dossiers' current state, so a command does not re-read and re-fold its
whole stream.

An entry is a stream's head as this process last wrote or read it: state, version, last
hash. The writer trusts it optimistically — if another process appended meanwhile, the
store's unique (stream, version) key refuses the append and the writer reloads — so a cached
head is never used to answer a read without checking the stream's version first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from domain.dossier import Dossier, evolve, fold
from gateways.application.ports import EventLog
from gateways.eventstore.store import GENESIS_HASH


@dataclass(frozen=True)
class Head:
    state: Dossier | None
    version: int
    last_hash: str


EMPTY = Head(None, 0, GENESIS_HASH)


class StateCache:
    def __init__(self, store: EventLog, capacity: int = 10_000) -> None:
        self._store = store
        self._capacity = capacity
        self._heads: OrderedDict[str, Head] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._heads)

    def peek(self, dossier_id: str) -> Head | None:
        with self._lock:
            head = self._heads.get(dossier_id)
            if head is not None:
                self._heads.move_to_end(dossier_id)
                self.hits += 1
            return head

    def put(self, dossier_id: str, head: Head) -> None:
        if self._capacity <= 0:
            return
        with self._lock:
            self._heads[dossier_id] = head
            self._heads.move_to_end(dossier_id)
            while len(self._heads) > self._capacity:
                self._heads.popitem(last=False)

    def drop(self, dossier_ids: Iterable[str]) -> None:
        with self._lock:
            for dossier_id in dossier_ids:
                self._heads.pop(dossier_id, None)

    def load(self, dossier_id: str) -> Head:
        """The stream's head from the store (the cached one brought up to date, or a fold)."""
        cached = self.peek(dossier_id)
        if cached is not None:
            newer = self._store.load_after(dossier_id, cached.version)
            if not newer:
                return cached
            state = cached.state
            for record in newer:
                state = evolve(state, record.to_domain())
            head = Head(state, newer[-1].seq, newer[-1].hash)
        else:
            self.misses += 1
            records = self._store.load(dossier_id)
            state = fold(r.to_domain() for r in records)
            head = Head(state, records[-1].seq, records[-1].hash) if records else EMPTY
        if head.version:
            self.put(dossier_id, head)
        return head
