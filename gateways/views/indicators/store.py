"""The indicators view's write side: each batch's tallies added to their desk's local day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from gateways.sql import Database, Tx
from gateways.views.indicators.schema import DOSSIER_COLUMNS, SCHEMA, TABLES, TOTAL_KEY, VIEW
from gateways.views.runtime import Applied
from gateways.views.toolkit import RECENT_EVENTS, Counters, Held, Upsert, copy_rows, rows_of
from projections import indicators
from projections.indicators import COLUMNS, DossierFacts

_INDEX = {column: i for i, column in enumerate(COLUMNS)}
_UPSERT_DOSSIER = Upsert("ind_dossiers", DOSSIER_COLUMNS, ("dossier_id",))
# Dossiers' facts held between flushes, at most (every dossier's otherwise: memory would grow
# with the history).
HELD_FACTS = 8_000


class IndicatorsView:
    """Service indicators as a view of the runtime (gateways/views/runtime.py). `tz` is the
    office clock's zone: it decides the local day of a tally."""

    name = VIEW
    schema = SCHEMA

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        # A dossier's facts never end (a late file still counts): those not met within the last
        # RECENT_EVENTS events go, and at most HELD_FACTS are held (a late event reads its back).
        self.held: Held[DossierFacts] = Held(lambda f: False, limit=HELD_FACTS, recent=RECENT_EVENTS)
        self.totals = Counters("ind_totals", TOTAL_KEY, COLUMNS)

    def load(self, tx: Tx, ids: Sequence[str]) -> dict[str, DossierFacts]:
        rows = tx.select_in("SELECT * FROM ind_dossiers WHERE dossier_id IN ({marks})", ids)
        return {
            r["dossier_id"]: DossierFacts(
                r["dossier_id"],
                int(r["last_seq"]),
                r["agency_code"],
                bool(r["imported"]),
                bool(r["digitized"]),
                bool(r["result_digitized"]),
            )
            for r in rows
        }

    def apply(self, tx: Tx, batch: Sequence[Applied]) -> None:
        """Fold the batch into the facts and counters held; `flush` writes them."""
        ids = sorted({item.dossier_id for item in batch})
        before = self.held.before(ids, lambda missing: self.load(tx, missing))
        after, tallies = indicators.fold_batch(before, ((i.dossier_id, i.seq, i.event) for i in batch))
        self.held.after(after, len(batch))
        totals = self.totals
        tz = self.tz
        days: dict[datetime, str] = {}
        for tally in tallies:
            at = tally.at
            day = days.get(at)
            if day is None:
                day = days[at] = at.astimezone(tz).date().isoformat()
            totals.add((tally.agency_code, day, tally.imported), _INDEX[tally.column], 1)

    def flush(self, tx: Tx) -> None:
        changed = sorted(
            (f for _, old, f in self.held.changes() if f is not None and f != old), key=lambda f: f.dossier_id
        )
        _UPSERT_DOSSIER.write(
            tx,
            [
                [f.dossier_id, f.last_seq, f.agency_code, f.imported, f.digitized, f.result_digitized]
                for f in changed
            ],
        )
        self.totals.write(tx)
        self.held.trim()

    def forget(self, empty: bool = False) -> None:
        self.held.forget(empty)
        self.totals.deltas = {}

    def clear(self, tx: Tx) -> None:
        for table in TABLES:
            tx.execute(f"DELETE FROM {table}")

    def merge(self, tx: Tx, shards: Sequence[Database]) -> None:
        """Add the rows of shards rebuilt apart (disjoint dossiers): facts copied, counters summed."""
        totals = Counters("ind_totals", TOTAL_KEY, COLUMNS)
        for shard in shards:
            copy_rows(tx, shard, "ind_dossiers", SCHEMA)
            for row in rows_of(shard, "ind_totals"):
                key = (row["agency_code"], row["day"], bool(row["imported"]))
                for column in COLUMNS:
                    if row[column]:
                        totals.add(key, _INDEX[column], int(row[column]))
        totals.write(tx)
