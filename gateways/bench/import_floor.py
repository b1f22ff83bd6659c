"""The floor under `bench import`: what reading the file and storing the import's rows cost
alone, measured in the run, and the highest ratio to PM4Py that an import doing no more could reach.

An import of an XES file must at least read the file and write what it stores. Two reads:
- **bare** (`bare_read_seconds`): lxml walks the file trace by trace, reading no attribute
  (`check_well_formed`, which every import runs first to refuse a file that is not XES);
- **typed** (`typed_read_seconds`): the import's reader (`XesLog.traces`), every attribute
  with its XES type, nothing decided.

And one write (`write_seconds`): the rows the import stored (untimed: read back from its
store, in commit order, a page at a time) written again into a fresh, empty store of the same
kind, the same streams per transaction as the import (`FLUSH_EVERY` traces' dossiers), through
the store's `commit_encoded`: the envelopes, hashes and payloads are ready, nothing is decided
or encoded, and only the commits are timed.

`ceiling_ratio`: PM4Py's seconds over the bare read plus the write (one process doing only
those); `overlapped_ceiling_ratio`: over the longer of the two (a reader and a writer on two
cores, overlapping perfectly). An import at a ratio far below them spends its time on its
own work (mapping, deciding, encoding), not on reading or writing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from gateways.eventstore.store import GENESIS_HASH, Encoded, EventStore, StreamAppend
from gateways.interchange.xes import XesLog, check_well_formed

READ_BATCH = 5000  # notifications read back per query (untimed)


@dataclass(frozen=True)
class ImportFloor:
    bare_read_seconds: float
    typed_read_seconds: float
    write_seconds: float
    rows: int

    def ceiling(self, pm4py_seconds: float) -> float:
        """PM4Py's seconds over a bare read then the write, in one process."""
        return round(pm4py_seconds / (self.bare_read_seconds + self.write_seconds), 3)

    def overlapped_ceiling(self, pm4py_seconds: float) -> float:
        """PM4Py's seconds over the longer of the bare read and the write (two processes)."""
        return round(pm4py_seconds / max(self.bare_read_seconds, self.write_seconds), 3)

    def as_json(self, pm4py_seconds: float) -> dict[str, Any]:
        return {
            "bare_read_seconds": round(self.bare_read_seconds, 3),
            "typed_read_seconds": round(self.typed_read_seconds, 3),
            "write_seconds": round(self.write_seconds, 3),
            "rows": self.rows,
            "ceiling_ratio": self.ceiling(pm4py_seconds),
            "overlapped_ceiling_ratio": self.overlapped_ceiling(pm4py_seconds),
        }


def best(floors: list[ImportFloor]) -> ImportFloor:
    """Each figure's best over rounds (the rows are the same in every round)."""
    return ImportFloor(
        bare_read_seconds=min(f.bare_read_seconds for f in floors),
        typed_read_seconds=min(f.typed_read_seconds for f in floors),
        write_seconds=min(f.write_seconds for f in floors),
        rows=floors[0].rows,
    )


def read_seconds(path: Path) -> tuple[float, float]:
    """Seconds of the bare read (`check_well_formed`) and of the typed read (every trace
    drained)."""
    started = time.perf_counter()
    check_well_formed(path)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for _trace in XesLog(path).traces():
        pass
    return bare, time.perf_counter() - started


def write_seconds(source: EventStore, target: EventStore, streams_per_transaction: int) -> tuple[float, int]:
    """Seconds to commit `source`'s rows into the empty `target` (the commits alone: reading
    them back is not timed), and the rows written."""
    seconds = 0.0
    rows = 0
    for batch in _batches(source, streams_per_transaction):
        started = time.perf_counter()
        target.commit_encoded(batch, numbered=False)
        seconds += time.perf_counter() - started
        rows += sum(len(e.stored) for e in batch)
    return seconds, rows


def _batches(store: EventStore, streams: int) -> Iterator[list[Encoded]]:
    """The stored rows as the import committed them: each dossier's events together (an
    import appends a dossier's stream at once), `streams` dossiers to a transaction, read a
    page at a time (a large log's rows are never all held)."""
    held: dict[str, list[StoredEvent]] = {}
    after = 0
    while notes := store.recorder.select_notifications(after, READ_BATCH, inclusive_of_start=False):
        for note in notes:
            originator = str(note.originator_id)
            if originator not in held and len(held) == streams:
                yield _encoded(held)
                held = {}
            held.setdefault(originator, []).append(
                StoredEvent(note.originator_id, note.originator_version, note.topic, bytes(note.state))
            )
        after = notes[-1].id
    if held:
        yield _encoded(held)


def _encoded(streams: dict[str, list[StoredEvent]]) -> list[Encoded]:
    return [Encoded(StreamAppend(d, 0, GENESIS_HASH, ()), [], stored) for d, stored in streams.items()]
