"""The bottleneck view's write side: flows as JSON, a batch's facts added to its blocks."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from operator import add
from typing import Any

import orjson

from domain.calendar import WorkingCalendar
from gateways.sql import Database, Tx
from gateways.views.bottleneck.schema import (
    _STAY_COLUMNS,
    _SUM_COLUMNS,
    _TRANSIT_COLUMNS,
    _UPSERT_COUNT,
    _UPSERT_FLOW,
    _UPSERT_STAY,
    _UPSERT_TRANSIT,
    SCHEMA,
    TABLES,
    VIEW,
    _key,
    _utc,
)
from gateways.views.bottleneck.sums import hist_from_text, hist_to_text
from gateways.views.runtime import Applied
from gateways.views.toolkit import DROPPED_LIMIT, Held, IdFilter, copy_rows, rows_of
from projections import bottleneck as b


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def flow_to_json(flow: b.Flow) -> str:
    return orjson.dumps(flow).decode()


def flow_from_json(text: str) -> b.Flow:
    data = orjson.loads(text)
    stay, transit = data.pop("stay"), data.pop("transit")
    if stay is not None:
        for name in ("entered_at", "running_since", "working_since", "left_at", "overdue_from"):
            stay[name] = _time(stay[name])
        stay = b.Stay(**stay)
    if transit is not None:
        transit["handed_at"] = _time(transit["handed_at"])
        transit = b.Transit(**transit)
    return b.Flow(**data, stay=stay, transit=transit)


_NO_HIST: dict[int, int] = {}
# bottleneck_counts rows held between flushes, at most.
ROWS_LIMIT = 20_000
# bottleneck_counts rows built and written at a time by a flush.
WRITE_CHUNK = 5_000
# (subject, day) sums past which a flush inside a rebuild pass writes the blocks of those it
# holds (it may hold this many plus one flush's new days).
DAYS_LIMIT = 8_000


class BottleneckView:
    """The bottleneck view for the view runtime (gateways/views/runtime.py).

    It needs the working calendar: transit hours are measured when a transit ends. Inside a
    rebuild pass (`flush_within`) the (subject, day) sums stay held, up to `DAYS_LIMIT`, and
    the pass's last flush writes their blocks: each block row once when they all fit.
    """

    name = VIEW
    schema = SCHEMA

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.held: Held[b.Flow] = Held(lambda flow: False)  # a closed dossier's flow is None
        self.totals = b.Totals()
        # The bottleneck_counts rows as stored (key -> sums, histogram); with `rows_complete`,
        # a key neither held nor in `written` (the keys written since the table was known
        # empty) has no row, so only those in `written` are read back.
        self.rows: dict[str, tuple[list[int], dict[int, int]]] = {}
        self.rows_complete = False
        self.written = IdFilter()
        self.in_pass = False  # since a flush inside a rebuild pass, until the pass's last

    def load(self, tx: Tx, ids: Sequence[str]) -> dict[str, b.Flow]:
        return {
            row["dossier_id"]: flow_from_json(row["flow"])
            for row in tx.select_in(
                "SELECT dossier_id, flow FROM bottleneck_flows WHERE dossier_id IN ({marks})", ids
            )
        }

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        """Fold the batch into the flows and sums held; `flush` writes them."""
        ids = sorted({item.dossier_id for item in batch})
        before = self.held.before(ids, lambda missing: self.load(tx, missing))
        flows, _ = b.fold_batch(
            before, ((item.dossier_id, item.seq, item.event) for item in batch), self.calendar, self.totals
        )
        self.held.after(flows)

    def flush(self, tx: Tx) -> None:
        """A live batch's flush, or a rebuild pass's last: that one holds none of the rows it
        writes either (as many as the pass met), so the pass's memory stays flat."""
        within, self.in_pass = self.in_pass, False
        self._flush(tx, blocks=True, within=within)

    def flush_within(self, tx: Tx) -> None:
        """A flush inside a rebuild pass: the day sums stay held (the pass's last flush writes
        their blocks, each once) unless they hold more than `DAYS_LIMIT` (subject, day)s."""
        self.in_pass = True
        self._flush(tx, blocks=len(self.totals.sums) > DAYS_LIMIT, within=True)

    def _flush(self, tx: Tx, blocks: bool, within: bool) -> None:
        totals, self.totals = self.totals, b.Totals()
        if blocks:
            days = _by_subject(totals)
            totals.sums, totals.hists = {}, {}
            self._write_sums(tx, days, lambda subject: _pyramid(*days.pop(subject)), hold=not within)
        else:
            self.totals.sums, self.totals.hists = totals.sums, totals.hists
        changes = sorted(self.held.changes(), key=lambda change: change[0])
        _UPSERT_FLOW.write(
            tx, [(d, flow_to_json(new)) for d, old, new in changes if new is not None and new != old]
        )
        tx.executemany(
            "DELETE FROM bottleneck_flows WHERE dossier_id = ?",
            [(d,) for d, old, new in changes if new is None and old is not None],
        )
        stays, transits = totals.stays, totals.transits
        _UPSERT_STAY.write(tx, [_record_row(stays[k], _STAY_COLUMNS) for k in sorted(stays)])
        _UPSERT_TRANSIT.write(tx, [_record_row(transits[k], _TRANSIT_COLUMNS) for k in sorted(transits)])
        self.held.trim()

    def forget(self, empty: bool = False) -> None:
        self.held.forget(empty)
        self.totals = b.Totals()
        self.rows = {}
        self.rows_complete = empty
        self.in_pass = False
        if self.written.count:
            self.written = IdFilter()

    def _write_sums(
        self,
        tx: Tx,
        subjects: Collection[b.Subject],
        blocks_of: Callable[[b.Subject], SubjectBlocks],
        hold: bool = True,
    ) -> None:
        """Add the block sums of `subjects` (`blocks_of` gives a subject's) to the stored rows and
        write them back, a subject at a time in key order, as sets of about `WRITE_CHUNK` rows:
        a flush never holds all its rows at once. The rows are held (`self.rows`) like the
        flows, as long as they stay under `ROWS_LIMIT` (none inside a rebuild pass, `hold` False:
        its memory stays flat whatever the history's length); of those not held, only keys that
        may have a row are read back (all of them unless `rows_complete`, else those in
        `written`)."""
        heads = {subject: _head(subject) for subject in subjects}
        if not self.rows_complete and not self.rows:
            self._know_empty(tx)
        held = self.rows
        complete = self.rows_complete
        # A flush that would hold too many rows holds none of those it writes; nor does a flush
        # inside a rebuild pass, whose filter of written keys says which rows to read back.
        keep = hold and len(held) + len(subjects) <= ROWS_LIMIT
        texts = _HistTexts()
        pending: list[tuple[str, tuple[Any, ...], int, int, list[int], dict[int, int]]] = []
        for subject in sorted(subjects, key=lambda subject: heads[subject][0]):
            head = heads[subject]
            vectors, hists = blocks_of(subject)
            for (span, start), vector in sorted(vectors.items()):
                key = f"{head[0]}{span}\x1f{start}"
                pending.append((key, head[1], span, start, vector, hists.get((span, start)) or _NO_HIST))
            if len(pending) >= WRITE_CHUNK:
                keep = self._write_rows(tx, pending, complete, keep, texts)
                pending = []
        self._write_rows(tx, pending, complete, keep, texts)
        if not keep:
            self.rows = {}
        if complete and self.written.count > DROPPED_LIMIT:  # read back whatever is not held
            self.rows_complete = False
            self.written = IdFilter()

    def _write_rows(
        self,
        tx: Tx,
        pending: list[tuple[str, tuple[Any, ...], int, int, list[int], dict[int, int]]],
        complete: bool,
        keep: bool,
        texts: _HistTexts,
    ) -> bool:
        """Write one set of block rows (their stored sums added); whether rows are still held."""
        held, written = self.rows, self.written
        missing = [entry[0] for entry in pending if entry[0] not in held]
        if complete:  # only keys written since the table was empty may have a row not held
            missing = [key for key in missing if key in written]
        self._read_back(tx, missing)
        upserts: list[list[Any]] = []
        deletes: list[tuple[str]] = []
        for key, subject_columns, span, start, added, added_hist in pending:
            stored = held.get(key)
            vector, hist = (added, added_hist) if stored is None else _plus(stored, added, added_hist)
            if hist and not all(hist.values()):
                hist = {bucket: n for bucket, n in hist.items() if n}
            if not hist and not any(vector):
                deletes.append((key,))
                held.pop(key, None)
                continue
            if complete and stored is None and key not in written:  # a row the table did not have
                written.add(key)
            if keep:
                held[key] = (vector, hist)
            elif stored is not None:
                del held[key]
            p50 = p90 = None
            if span == 7:  # the heat map reads weeks: their medians are kept ready
                p50, p90 = _p50_p90(hist)
            upserts.append([key, *subject_columns, span, start, *vector, texts.of(hist), p50, p90])
        _UPSERT_COUNT.write(tx, upserts)
        tx.executemany("DELETE FROM bottleneck_counts WHERE key = ?", deletes)
        return keep and len(held) <= ROWS_LIMIT

    def _know_empty(self, tx: Tx) -> None:
        """Nothing is known of the stored rows: if the table has none (a new view store), no key
        needs reading back until it is written."""
        if not tx.query("SELECT key FROM bottleneck_counts LIMIT 1"):
            self.rows_complete = True
            if self.written.count:
                self.written = IdFilter()

    def _read_back(self, tx: Tx, missing: list[str]) -> None:
        """The stored rows of `missing` keys, into what is held."""
        if not missing:
            return
        held = self.rows
        columns = ", ".join(("key", *_SUM_COLUMNS, "hist"))
        for row in tx.select_in(f"SELECT {columns} FROM bottleneck_counts WHERE key IN ({{marks}})", missing):
            held[row["key"]] = ([int(row[name]) for name in _SUM_COLUMNS], hist_from_text(row["hist"]))

    def clear(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")

    def merge(self, tx: Tx, shards: Sequence[Database]) -> None:
        """Add the rows of shards rebuilt apart (disjoint sets of dossiers): flows, stays and
        transits are copied; the blocks of the same subject and days are summed."""
        subjects: dict[b.Subject, SubjectBlocks] = {}
        for shard in shards:
            for table in ("bottleneck_flows", "bottleneck_stays", "bottleneck_transits"):
                copy_rows(tx, shard, table, SCHEMA)
            for row in rows_of(shard, "bottleneck_counts"):
                subject = b.Subject(
                    b.Kind(row["kind"]), row["agency_code"], row["other"], int(row["route_step"])
                )
                vectors, hists = subjects.setdefault(subject, ({}, {}))
                block = (int(row["span"]), int(row["start"]))
                vector = [int(row[name]) for name in _SUM_COLUMNS]
                known = vectors.get(block)
                vectors[block] = vector if known is None else list(map(add, known, vector))
                hist = hists.setdefault(block, {})
                for bucket, n in hist_from_text(row["hist"]).items():
                    hist[bucket] = hist.get(bucket, 0) + n
        self._write_sums(tx, subjects, subjects.__getitem__)


def _plus(
    stored: tuple[list[int], dict[int, int]], vector: list[int], hist: dict[int, int]
) -> tuple[list[int], dict[int, int]]:
    """A stored row's sums and histogram with a batch's added (new objects: none is changed)."""
    if not hist:
        return list(map(add, vector, stored[0])), stored[1]
    merged = dict(stored[1])
    for bucket, n in hist.items():
        merged[bucket] = merged.get(bucket, 0) + n
    return list(map(add, vector, stored[0])), merged


def _p50_p90(hist: dict[int, int]) -> tuple[float | None, float | None]:
    """`b.quantile(hist, 500)` and `b.quantile(hist, 900)` in one walk of the buckets."""
    total = sum(hist.values())
    if total <= 0:
        return None, None
    ranks = [max(1, (q * total + 999) // 1000) for q in (500, 900)]
    found: list[float] = []
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        while len(found) < 2 and seen >= ranks[len(found)]:
            found.append(b.bucket_value(bucket))
    return found[0], found[1]


def _head(subject: b.Subject) -> tuple[str, tuple[Any, ...]]:
    """The start of a subject's row keys (up to its span), and its columns."""
    key = _key(subject, 0, 0)
    return key[: len(key) - 3], (subject.kind.value, subject.agency_code, subject.other, subject.route_step)


Days = tuple[dict[int, list[int]], dict[int, dict[int, int]]]
# A subject's blocks: sums and histograms by (span, first day).
SubjectBlocks = tuple[dict[tuple[int, int], list[int]], dict[tuple[int, int], dict[int, int]]]


def _by_subject(totals: b.Totals) -> dict[b.Subject, Days]:
    """A batch's sums per (subject, day), as each subject's sums and histograms per day."""
    subjects: dict[b.Subject, Days] = {}
    for (subject, day), vector in totals.sums.items():
        days = subjects.get(subject)
        if days is None:
            days = subjects[subject] = ({}, {})
        days[0][day] = vector
    for (subject, day), hist in totals.hists.items():
        if hist:
            subjects[subject][1][day] = hist
    return subjects


def _pyramid(vectors: dict[int, list[int]], hists: dict[int, dict[int, int]]) -> SubjectBlocks:
    """One subject's sums per day added up into every block of days (`b.SPANS`) that holds
    them: each size from the one below it (blocks nest), so a day is added once per size
    only where it is the only day of its block.

    Vectors and histograms are never changed in place: a block with one part below it shares
    that part's (most blocks of a sparse subject, such as a route step, have one day)."""
    blocks: dict[tuple[int, int], list[int]] = {(1, day): v for day, v in vectors.items()}
    block_hists: dict[tuple[int, int], dict[int, int]] = {(1, day): h for day, h in hists.items()}
    level, level_hists = vectors, hists
    for span in b.SPANS[1:]:
        up: dict[int, list[int]] = {}
        up_hists: dict[int, dict[int, int]] = {}
        for start, vector in level.items():
            first = start - start % span
            block = up.get(first)
            up[first] = vector if block is None else list(map(add, block, vector))
        for start, hist in level_hists.items():
            first = start - start % span
            into = up_hists.get(first)
            if into is None:
                up_hists[first] = hist
            else:
                into = dict(into)
                for bucket, n in hist.items():
                    into[bucket] = into.get(bucket, 0) + n
                up_hists[first] = into
        for first, vector in up.items():
            blocks[(span, first)] = vector
        for first, hist in up_hists.items():
            block_hists[(span, first)] = hist
        level, level_hists = up, up_hists
    return blocks, block_hists


class _HistTexts:
    """The stored text of histograms, made once per histogram object (blocks share them) and
    once per single-bucket histogram (most of a route step's)."""

    def __init__(self) -> None:
        self.by_object: dict[int, tuple[dict[int, int], str]] = {}
        self.singles: dict[tuple[int, int], str] = {}

    def of(self, hist: dict[int, int]) -> str:
        known = self.by_object.get(id(hist))
        if known is not None and known[0] is hist:
            return known[1]
        if len(hist) == 1:
            item = next(iter(hist.items()))
            text = self.singles.get(item)
            if text is None:
                text = self.singles[item] = hist_to_text(hist)
        else:
            text = hist_to_text(hist)
        self.by_object[id(hist)] = (hist, text)
        return text


def _record_row(record: b.StayRecord | b.TransitRecord, columns: list[str]) -> list[Any]:
    values = (getattr(record, column) for column in columns)
    return [_utc(v) if isinstance(v, datetime) else v for v in values]
