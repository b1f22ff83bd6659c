"""The bottleneck view's write side: flows as JSON, a batch's facts added to its blocks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from domain.calendar import WorkingCalendar
from gateways.sql import Database, Tx
from gateways.views.bottleneck.schema import (
    _STAY_COLUMNS,
    _SUM_COLUMNS,
    _TRANSIT_COLUMNS,
    _UPSERT_COUNT,
    _UPSERT_STAY,
    _UPSERT_TRANSIT,
    SCHEMA,
    TABLES,
    VIEW,
    _key,
    _utc,
)
from gateways.views.runtime import Applied
from gateways.views.toolkit import copy_rows, rows_of
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


class BottleneckView:
    """The bottleneck view for the view runtime (gateways/views/runtime.py).

    It needs the working calendar: transit hours are measured when a transit ends.
    """

    name = VIEW
    schema = SCHEMA

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        ids = sorted({item.dossier_id for item in batch})
        before: dict[str, b.Flow | None] = {}
        for row in tx.select_in(
            "SELECT dossier_id, flow FROM bottleneck_flows WHERE dossier_id IN ({marks})", ids
        ):
            before[row["dossier_id"]] = flow_from_json(row["flow"])
        flows, totals = b.fold_batch(
            before, ((item.dossier_id, item.seq, item.event) for item in batch), self.calendar
        )
        # The batch's sums per (subject, day) go to each block that holds the day, once.
        blocks: dict[tuple[b.Subject, int, int], list[int]] = {}
        hists: dict[tuple[b.Subject, int, int], dict[int, int]] = {}
        for (subject, day), vector in totals.sums.items():
            day_hist = totals.hists.get((subject, day))
            for span, start in b.blocks_of(day):
                key = (subject, span, start)
                block = blocks.get(key)
                blocks[key] = (
                    vector[:] if block is None else [x + y for x, y in zip(block, vector, strict=True)]
                )
                if day_hist:
                    hist = hists.setdefault(key, {})
                    for bucket, n in day_hist.items():
                        hist[bucket] = hist.get(bucket, 0) + n
        self._write_sums(tx, blocks, hists)
        live = [(d, flow_to_json(f)) for d in ids if (f := flows.get(d)) is not None]
        tx.executemany(
            "INSERT INTO bottleneck_flows (dossier_id, flow) VALUES (?, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET flow = excluded.flow",
            live,
        )
        tx.executemany(
            "DELETE FROM bottleneck_flows WHERE dossier_id = ?",
            [(d,) for d in ids if flows.get(d) is None and before.get(d) is not None],
        )
        stays, transits = totals.stays, totals.transits
        tx.executemany(_UPSERT_STAY, [_record_row(stays[k], _STAY_COLUMNS) for k in sorted(stays)])
        tx.executemany(
            _UPSERT_TRANSIT, [_record_row(transits[k], _TRANSIT_COLUMNS) for k in sorted(transits)]
        )

    def _write_sums(
        self,
        tx: Tx,
        blocks: dict[tuple[b.Subject, int, int], list[int]],
        hists: dict[tuple[b.Subject, int, int], dict[int, int]],
    ) -> None:
        """Add the batch's block sums to the stored rows (read, add, write back as a set)."""
        prefixes: dict[b.Subject, str] = {}
        by_key: dict[str, tuple[b.Subject, int, int]] = {}
        for block in blocks:
            subject = block[0]
            prefix = prefixes.get(subject)
            if prefix is None:
                prefix = prefixes[subject] = _key(subject, 0, 0).rsplit("\x1f", 2)[0]
            by_key[f"{prefix}\x1f{block[1]}\x1f{block[2]}"] = block
        keys = sorted(by_key)
        columns = ", ".join(("key", *_SUM_COLUMNS, "hist"))
        for row in tx.select_in(f"SELECT {columns} FROM bottleneck_counts WHERE key IN ({{marks}})", keys):
            block = by_key[row["key"]]
            blocks[block] = [x + int(row[name]) for x, name in zip(blocks[block], _SUM_COLUMNS, strict=False)]
            values = iter(orjson.loads(row["hist"]))
            stored = dict(zip(values, values, strict=True))
            if stored:
                hist = hists.setdefault(block, {})
                for bucket, n in stored.items():
                    hist[bucket] = hist.get(bucket, 0) + n
        upserts: list[list[Any]] = []
        deletes: list[tuple[str]] = []
        for key in keys:
            block = by_key[key]
            subject, span, start = block
            vector = blocks[block]
            hist = {bucket: n for bucket, n in hists.get(block, {}).items() if n}
            if not hist and not any(vector):
                deletes.append((key,))
                continue
            p50 = p90 = None
            if span == 7:  # the heat map reads weeks: their medians are kept ready
                p50, p90 = b.quantile(hist, 500), b.quantile(hist, 900)
            hist_json = orjson.dumps([x for bucket in sorted(hist) for x in (bucket, hist[bucket])]).decode()
            upserts.append(
                [
                    key,
                    subject.kind.value,
                    subject.agency_code,
                    subject.other,
                    subject.route_step,
                    span,
                    start,
                    *vector,
                    hist_json,
                    p50,
                    p90,
                ]
            )
        tx.executemany(_UPSERT_COUNT, upserts)
        tx.executemany("DELETE FROM bottleneck_counts WHERE key = ?", deletes)

    def clear(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")

    def merge(self, tx: Tx, shards: Sequence[Database]) -> None:
        """Add the rows of shards rebuilt apart (disjoint sets of dossiers): flows, stays and
        transits are copied; the blocks of the same subject and days are summed."""
        blocks: dict[tuple[b.Subject, int, int], list[int]] = {}
        hists: dict[tuple[b.Subject, int, int], dict[int, int]] = {}
        for shard in shards:
            for table in ("bottleneck_flows", "bottleneck_stays", "bottleneck_transits"):
                copy_rows(tx, shard, table, SCHEMA)
            for row in rows_of(shard, "bottleneck_counts"):
                subject = b.Subject(
                    b.Kind(row["kind"]), row["agency_code"], row["other"], int(row["route_step"])
                )
                block = (subject, int(row["span"]), int(row["start"]))
                vector = [int(row[name]) for name in _SUM_COLUMNS]
                known = blocks.get(block)
                blocks[block] = (
                    vector if known is None else [x + y for x, y in zip(known, vector, strict=True)]
                )
                values = iter(orjson.loads(row["hist"]))
                hist = hists.setdefault(block, {})
                for bucket, n in zip(values, values, strict=True):
                    hist[bucket] = hist.get(bucket, 0) + n
        self._write_sums(tx, blocks, hists)


def _record_row(record: b.StayRecord | b.TransitRecord, columns: list[str]) -> list[Any]:
    values = (getattr(record, column) for column in columns)
    return [_utc(v) if isinstance(v, datetime) else v for v in values]
