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

A view may also *hold* what it folded (`HeldView`): its per-dossier state and the sums of
its counters stay in memory between batches, and `flush` writes what changed. The runner
flushes before each transaction it runs commits; a rebuild (one transaction) flushes every
`FLUSH_EVENTS` events and at its end, so each row is written a few times, not once per
batch. What a view holds is kept for the next transaction only if the runner saw the last
one commit and no other writer touched the view since (the `projection_views.batches`
counter, taken by every batch, moved by exactly one); otherwise it is forgotten and read
back from the store.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Container, Iterable, Mapping, MutableMapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Protocol, runtime_checkable

from domain.events import DossierEvent
from gateways.eventstore.store import RecordedEvent
from gateways.sql import Database, Tx
from gateways.views.toolkit import DROPPED_LIMIT, IdFilter, Upsert

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

# A view's secondary index (never a unique one: upserts may rely on those).
_INDEX = re.compile(r"\s*CREATE INDEX IF NOT EXISTS (\w+) ON ")

_UPSERT_SEQ = Upsert("projection_seqs", ("view", "dossier_id", "seq"), ("view", "dossier_id"))

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


@runtime_checkable
class HeldView(View, Protocol):
    """A view that holds its folded state between batches (see the module's docstring).

    `apply` only folds into what the view holds; `flush` writes every change since the last
    flush through `tx`; `forget` drops what it holds (`empty`: the store holds no row of the
    view, as right after `clear`, so nothing needs reading back)."""

    def flush(self, tx: Tx) -> None: ...

    def forget(self, empty: bool = False) -> None: ...


@runtime_checkable
class PassHeldView(HeldView, Protocol):
    """A held view that may put off part of its writes until the last flush of a deferred pass
    (a rebuild): `flush_within` is a flush the same transaction will follow with `flush`."""

    def flush_within(self, tx: Tx) -> None: ...


# A deferred pass (rebuild) flushes at least this often: what a view holds stays bounded.
FLUSH_EVENTS = 10_000
# Seen seqs held per view between flushes, at most: past it, the least recently seen half goes.
SEEN_LIMIT = 8_000


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0  # already applied (redelivered or replayed)
    positions: dict[str, int] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def seen_seqs(
    tx: Tx, view: str, ids: Sequence[str], known: MutableMapping[str, int], gone: Container[str] | None
) -> dict[str, int]:
    """The last seq seen of each dossier in `ids`: from `known`, else read from the store (and kept
    in `known`). With `gone` (everything ever seen is in `known` or was let go into `gone`), only
    dossiers let go are read back."""
    missing = [d for d in ids if d not in known]
    if missing and gone is not None:
        missing = [d for d in missing if d in gone]
    if missing:
        for r in tx.select_in(
            "SELECT dossier_id, seq FROM projection_seqs WHERE view = ? AND dossier_id IN ({marks})",
            missing,
            (view,),
        ):
            known[str(r["dossier_id"])] = int(r["seq"])
    return {d: s for d in ids if (s := known.get(d)) is not None}


class ViewRunner:
    """Applies batches to one view with its positions and seen-seqs in one transaction."""

    def __init__(self, db: Database, view: View) -> None:
        self.db = db
        self.view = view
        self.name = view.name
        self.lock = threading.Lock()  # one batch at a time per view in this process
        db.executescript([*SCHEMA, *view.schema])
        self.held: HeldView | None = view if isinstance(view, HeldView) else None
        # The seen seqs this runner knows: the store's, and those of its open transaction.
        self._seen: dict[str, int] = {}
        self._seen_dirty: dict[str, int] = {}
        self._seen_complete = False  # no seen seq in the store beyond `_seen` (right after a reset)
        self._seen_gone = IdFilter()  # with `_seen_complete`: the dossiers whose seq was let go
        self._tx: Tx | None = None  # the transaction this runner last worked in
        self._generation = 0  # `projection_views.batches` as this runner last set it
        self._committed: int | None = None  # the generation known committed
        self._unflushed = 0  # events applied since the last flush

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
        with self.lock:
            try:
                with self.db.transaction() as tx:
                    result = self.apply_in(tx, items, feed, positions)
            except BaseException:
                self.forget()
                raise
            self.committed()
            return result

    def _take(self, tx: Tx, rebuilt: bool = False) -> None:
        """Count the batch (its row lock serialises the view's writers) and follow what this
        runner holds: kept within a transaction, and into the next one only if the last
        committed and nobody else wrote the view since."""
        rows = tx.query(
            "INSERT INTO projection_views (view, batches, rebuilt_at) VALUES (?, 1, ?) "
            "ON CONFLICT (view) DO UPDATE SET batches = projection_views.batches + 1"
            + (", rebuilt_at = excluded.rebuilt_at" if rebuilt else "")
            + " RETURNING batches",
            (self.name, _now() if rebuilt else None),
        )
        generation = int(rows[0]["batches"])
        if tx is not self._tx:
            if self._committed is None or generation != self._committed + 1:
                self.forget()
            self._tx = tx
            self._committed = None
        self._generation = generation

    def committed(self) -> None:
        """The transaction of the last `apply_in` committed: what is held stays valid."""
        self._committed = self._generation
        self._tx = None

    def forget(self, empty: bool = False) -> None:
        """Drop what this runner and its view hold (`empty`: the view has no row in the store)."""
        self._seen = {}
        self._seen_dirty = {}
        self._seen_complete = empty
        if self._seen_gone.count:
            self._seen_gone = IdFilter()
        self._unflushed = 0
        self._committed = None
        if self.held is not None:
            self.held.forget(empty)

    def _seen_of(self, tx: Tx, ids: Sequence[str]) -> dict[str, int]:
        return seen_seqs(tx, self.name, ids, self._seen, self._seen_gone if self._seen_complete else None)

    def flush(self, tx: Tx, within: bool = False) -> None:
        """Write what the view holds and the seen seqs of the transaction (`within`: a flush inside a
        deferred pass, whose caller flushes again before it commits; a `PassHeldView` may put
        off some of its writes until then)."""
        if self.held is not None:
            if within and isinstance(self.held, PassHeldView):
                self.held.flush_within(tx)
            else:
                self.held.flush(tx)
        _UPSERT_SEQ.write(tx, [(self.name, d, s) for d, s in self._seen_dirty.items()])
        self._seen_dirty = {}
        self._unflushed = 0
        seen = self._seen
        if len(seen) > SEEN_LIMIT:  # the least recently seen half goes (their seqs are stored)
            gone = list(islice(seen, len(seen) - SEEN_LIMIT // 2))
            for d in gone:
                del seen[d]
            if self._seen_complete:
                self._seen_gone.update(gone)
                if self._seen_gone.count > DROPPED_LIMIT:
                    self._seen_complete = False

    def apply_in(
        self,
        tx: Tx,
        items: Sequence[Applied],
        feed: str,
        positions: dict[str, int],
        defer: bool = False,
        shared: PassSeen | None = None,
    ) -> BatchResult:
        """Apply `items` and move `positions` inside `tx`. With `defer`, what the view holds is
        written only every `FLUSH_EVENTS` events: the caller flushes (`flush`) before it commits.
        With `shared` (a rebuild pass), `items` are already the fresh events of every view of the
        pass: `shared` recognised them and keeps their seqs, not this runner."""
        self._take(tx)
        if shared is not None:
            fresh = list(items)
            seen: dict[str, int] = {}
            before: dict[str, int] = {}
        else:
            ids = sorted({item.dossier_id for item in items})
            seen = self._seen_of(tx, ids)
            before = dict(seen)
            fresh = _fresh(seen, items, self.name)
        try:
            if fresh:
                self.view.apply(tx, fresh)
            held = self._seen
            for d, s in seen.items():
                if before.get(d) != s:
                    held.pop(d, None)  # re-inserted: the most recently seen go last
                    held[d] = self._seen_dirty[d] = s
            self._unflushed += len(fresh)
            if not defer or self._unflushed >= FLUSH_EVENTS:
                self.flush(tx, within=defer)
        except BaseException:
            self.forget()
            raise
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

    def seqs_stored(self) -> None:
        """The seen seqs of this view were written by a rebuild pass (`PassSeen`): none is
        held, every one not held is read back."""
        self._seen = {}
        self._seen_dirty = {}
        self._seen_complete = False
        if self._seen_gone.count:
            self._seen_gone = IdFilter()

    def reset(self, tx: Tx, feeds: Sequence[str] | None = None) -> None:
        """Forget every row and seen seq of this view, and the positions of `feeds` (all if None)."""
        self._take(tx, rebuilt=True)
        self.forget(empty=True)
        self.view.clear(tx)
        tx.execute("DELETE FROM projection_seqs WHERE view = ?", (self.name,))
        if feeds is None:
            tx.execute("DELETE FROM projection_positions WHERE view = ?", (self.name,))
        for feed in feeds or ():
            tx.execute("DELETE FROM projection_positions WHERE view = ? AND feed = ?", (self.name, feed))


def _fresh(seen: dict[str, int], items: Iterable[Applied], view: str) -> list[Applied]:
    """The items past the seqs `seen` (which follows them), in order."""
    fresh: list[Applied] = []
    for item in items:
        last = seen.get(item.dossier_id, 0)
        if item.seq <= last:
            continue
        if item.seq != last + 1 and last:
            # Per-dossier order holds on every feed; a gap means an event went to the
            # dead-letter topic or the feed was cut. Apply what we have, and say so.
            log.warning("view %s: dossier %s jumps from seq %d to %d", view, item.dossier_id, last, item.seq)
        seen[item.dossier_id] = item.seq
        fresh.append(item)
    return fresh


class PassSeen:
    """The seen seqs of one rebuild pass, shared by all the views it rebuilds.

    The views of a pass were reset together (no seen seq stored) and are fed the same events,
    so what is fresh for one is fresh for all: each event is checked once, one map is held
    instead of one per view, and only the first view's seqs are written during the pass;
    `finish` copies them to the other views with one statement each. The map holds the dossiers
    met since the flush before last (at most those of 2 × `FLUSH_EVENTS` events, whatever the
    history's length); at each flush the others are let go into one `IdFilter`, and read back
    if met again."""

    def __init__(self, runners: Sequence[ViewRunner]) -> None:
        self.runners = list(runners)
        self.view = self.runners[0].name if self.runners else ""
        # SQLite: the views' secondary indexes, dropped for the pass and built once at its end.
        self.indexes = [
            (found.group(1), statement)
            for runner in self.runners
            for statement in runner.view.schema
            if (found := _INDEX.match(statement))
        ]
        self.dropped = False
        self.seen: dict[str, int] = {}
        self.dirty: dict[str, int] = {}
        self.gone = IdFilter()
        self.complete = True  # no seq stored beyond `seen`, except those in `gone`
        self.unflushed = 0

    def fresh(self, tx: Tx, items: Sequence[Applied]) -> list[Applied]:
        """The items of a batch that no view of the pass has seen (all of them, in a log that
        holds each event once), for every view of the pass."""
        if not self.dropped and not tx.is_postgres:
            # The rows of a pass are written several times each (a flush every FLUSH_EVENTS
            # events): indexes no statement of the pass reads are kept up once, at the end.
            # Readers of SQLite see the views as they were until the commit, indexes included;
            # on PostgreSQL dropping one would lock them out, so its indexes stay.
            for name, _ in self.indexes:
                tx.execute(f"DROP INDEX IF EXISTS {name}")
            self.dropped = True
        known = self.seen
        ids = sorted({item.dossier_id for item in items})
        seen = seen_seqs(tx, self.view, ids, known, self.gone if self.complete else None)
        before = dict(seen)
        fresh = _fresh(seen, items, self.view)
        for d, s in seen.items():
            if before.get(d) != s:
                known.pop(d, None)  # re-inserted: the most recently seen go last
                known[d] = self.dirty[d] = s
        self.unflushed += len(fresh)
        if self.unflushed >= FLUSH_EVENTS:
            self.flush(tx)
        return fresh

    def flush(self, tx: Tx) -> None:
        """Write the seqs met since the last flush; hold only those (the others are stored)."""
        met = self.dirty
        _UPSERT_SEQ.write(tx, [(self.view, d, s) for d, s in met.items()])
        if self.complete:
            self.gone.update(d for d in self.seen if d not in met)
            if self.gone.count > DROPPED_LIMIT:
                self.complete = False
        self.seen = met
        self.dirty = {}
        self.unflushed = 0

    def finish(self, tx: Tx) -> None:
        """Write the last seqs, give every other view of the pass the same, and build the
        indexes dropped for the pass."""
        self.flush(tx)
        if self.dropped:
            for _, statement in self.indexes:
                tx.execute(statement)
            self.dropped = False
        for runner in self.runners[1:]:
            tx.execute(
                "INSERT INTO projection_seqs (view, dossier_id, seq) "
                "SELECT ?, dossier_id, seq FROM projection_seqs WHERE view = ?",
                (runner.name, self.view),
            )
        for runner in self.runners:
            runner.seqs_stored()


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
            try:
                with group[0].db.transaction() as tx:
                    for runner in group:
                        results[runner.name] = runner.apply_in(tx, batches[runner.name], feed, positions)
            except BaseException:
                for runner in group:
                    runner.forget()
                raise
            for runner in group:
                runner.committed()
    return results
