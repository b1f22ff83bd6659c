"""The view runtime: one code path that applies events to a view, whatever feeds them.

A *view* is a pure projection (in `projections/`) plus the SQL that stores its
rows. The runtime gives every view the same guarantees, fed in process from the
notification log (embedded mode) or from Kafka (the projector):

- each batch is applied in ONE database transaction together with the feed
  position (notification id, or topic:partition -> next offset), so a crash
  replays at most an uncommitted batch;
- an event already applied — recognised by `(dossier_id, seq)`, never by offset —
  is skipped, so redelivery and replays never count twice (effectively once);
- a view sees each dossier's events in order, once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from domain.events import DossierEvent
from gateways.eventstore.store import RecordedEvent
from gateways.sql import Database, Tx

log = logging.getLogger("lienthong.views")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS projection_positions (view TEXT NOT NULL, feed TEXT NOT NULL, "
    "part TEXT NOT NULL, position BIGINT NOT NULL, updated_at TEXT NOT NULL, "
    "PRIMARY KEY (view, feed, part))",
    "CREATE TABLE IF NOT EXISTS projection_seqs (view TEXT NOT NULL, dossier_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, PRIMARY KEY (view, dossier_id))",
    # One row per view, written first by every batch and by a rebuild: on PostgreSQL its row
    # lock serialises the writers of one view (SQLite serialises all writers anyway).
    "CREATE TABLE IF NOT EXISTS projection_views (view TEXT PRIMARY KEY, batches BIGINT NOT NULL, "
    "rebuilt_at TEXT)",
]

# The in-process feed's single "partition": the event store's notification log.
STORE_FEED = "store"
STORE_PART = "notifications"


class Applied:
    """One event handed to a view: the stored record and its decoded domain event.

    The dossier id and seq are read from the envelope once: every view of a batch asks.
    """

    __slots__ = ("dossier_id", "event", "record", "seq")

    def __init__(self, record: RecordedEvent, event: DossierEvent) -> None:
        self.record = record
        self.event = event
        self.dossier_id: str = record.dossier_id
        self.seq: int = record.seq

    def __repr__(self) -> str:
        return f"Applied({self.dossier_id}#{self.seq} {type(self.event).__name__})"


class View(Protocol):
    """What a view provides to the runtime.

    `apply` receives only fresh events (never one it has seen), in per-dossier
    order, inside the runtime's transaction; it must not commit. `clear` deletes
    every row of the view (rebuild). `schema` creates its tables idempotently.
    """

    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> Sequence[str]: ...

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None: ...

    def clear(self, tx: Tx) -> None: ...


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0  # already applied (redelivered or replayed)
    positions: dict[str, int] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ViewRunner:
    """Applies batches to one view with its positions and seen-seqs in one transaction."""

    def __init__(self, db: Database, view: View) -> None:
        self.db = db
        self.view = view
        self.name = view.name
        self.lock = threading.Lock()  # one batch at a time per view in this process
        db.executescript([*SCHEMA, *view.schema])

    # -- positions -------------------------------------------------------------------------
    def positions(self, feed: str) -> dict[str, int]:
        rows = self.db.query(
            "SELECT part, position FROM projection_positions WHERE view = ? AND feed = ?",
            (self.name, feed),
        )
        return {str(r["part"]): int(r["position"]) for r in rows}

    def position(self, feed: str = STORE_FEED, part: str = STORE_PART) -> int:
        return self.positions(feed).get(part, 0)

    def notification_position(self) -> int:
        """The highest notification id this view has applied, whichever feed brought it."""
        rows = self.db.query(
            "SELECT MAX(position) AS p FROM projection_positions WHERE view = ? AND part = ?",
            (self.name, STORE_PART),
        )
        return int(rows[0]["p"] or 0) if rows else 0

    # -- applying --------------------------------------------------------------------------
    def apply(self, items: Sequence[Applied], feed: str, positions: dict[str, int]) -> BatchResult:
        """Apply `items` and move the feed to `positions`, all or nothing."""
        with self.lock, self.db.transaction() as tx:
            return self.apply_in(tx, items, feed, positions)

    def _take(self, tx: Tx, rebuilt: bool = False) -> None:
        tx.execute(
            "INSERT INTO projection_views (view, batches, rebuilt_at) VALUES (?, 1, ?) "
            "ON CONFLICT (view) DO UPDATE SET batches = projection_views.batches + 1"
            + (", rebuilt_at = excluded.rebuilt_at" if rebuilt else ""),
            (self.name, _now() if rebuilt else None),
        )

    def apply_in(self, tx: Tx, items: Sequence[Applied], feed: str, positions: dict[str, int]) -> BatchResult:
        self._take(tx)
        ids = sorted({item.dossier_id for item in items})
        seen = {
            str(r["dossier_id"]): int(r["seq"])
            for r in tx.select_in(
                "SELECT dossier_id, seq FROM projection_seqs WHERE view = ? AND dossier_id IN ({marks})",
                ids,
                (self.name,),
            )
        }
        before = dict(seen)
        fresh: list[Applied] = []
        for item in items:
            last = seen.get(item.dossier_id, 0)
            if item.seq <= last:
                continue
            if item.seq != last + 1 and last:
                # Per-dossier order holds on every feed; a gap means an event went to the
                # dead-letter topic or the feed was cut. Apply what we have, and say so.
                log.warning(
                    "view %s: dossier %s jumps from seq %d to %d", self.name, item.dossier_id, last, item.seq
                )
            seen[item.dossier_id] = item.seq
            fresh.append(item)
        if fresh:
            self.view.apply(tx, fresh)
        changed = [(self.name, d, s) for d, s in seen.items() if before.get(d) != s]
        tx.executemany(
            "INSERT INTO projection_seqs (view, dossier_id, seq) VALUES (?, ?, ?) "
            "ON CONFLICT (view, dossier_id) DO UPDATE SET seq = excluded.seq",
            changed,
        )
        now = _now()
        # A position never moves back (only a reset forgets it): several projector processes
        # write the notification high-water mark of their own partitions, and a view that is
        # ahead may be fed records it has already seen.
        tx.executemany(
            "INSERT INTO projection_positions (view, feed, part, position, updated_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (view, feed, part) DO UPDATE SET position = CASE "
            "WHEN excluded.position > projection_positions.position THEN excluded.position "
            "ELSE projection_positions.position END, updated_at = excluded.updated_at",
            [(self.name, feed, part, pos, now) for part, pos in positions.items()],
        )
        return BatchResult(applied=len(fresh), skipped=len(items) - len(fresh), positions=dict(positions))

    def reset(self, tx: Tx, feeds: Sequence[str] | None = None) -> None:
        """Forget every row and seen seq of this view, and the positions of `feeds` (all if None)."""
        self._take(tx, rebuilt=True)
        self.view.clear(tx)
        tx.execute("DELETE FROM projection_seqs WHERE view = ?", (self.name,))
        if feeds is None:
            tx.execute("DELETE FROM projection_positions WHERE view = ?", (self.name,))
        for feed in feeds or ():
            tx.execute("DELETE FROM projection_positions WHERE view = ? AND feed = ?", (self.name, feed))


def decode(records: Iterable[RecordedEvent]) -> tuple[list[Applied], list[tuple[RecordedEvent, Exception]]]:
    """Records -> (decoded items, undecodable records with the reason)."""
    items: list[Applied] = []
    bad: list[tuple[RecordedEvent, Exception]] = []
    for record in records:
        try:
            items.append(Applied(record, record.to_domain()))
        except (ValueError, KeyError, TypeError) as exc:
            bad.append((record, exc))
    return items, bad


def apply_together(
    runners: Sequence[ViewRunner],
    batches: Mapping[str, Sequence[Applied]],
    feed: str,
    positions: dict[str, int],
) -> dict[str, BatchResult]:
    """Every runner's batch (by view name) and the feed's `positions` in ONE transaction per view store (the
    views' rows, seen seqs and positions move together), each runner's lock held meanwhile."""
    by_db: dict[int, list[ViewRunner]] = {}
    for runner in runners:
        by_db.setdefault(id(runner.db), []).append(runner)
    results: dict[str, BatchResult] = {}
    for group in by_db.values():
        with ExitStack() as held:
            for runner in group:
                held.enter_context(runner.lock)
            tx = held.enter_context(group[0].db.transaction())
            for runner in group:
                results[runner.name] = runner.apply_in(tx, batches[runner.name], feed, positions)
    return results
