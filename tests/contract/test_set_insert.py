"""A set of events inserted at once (bulk paths: imports, the seed) stores the same rows and
gives the same notification ids as inserting them one by one, and a follower of the
notification log never skips an id while bulk and ordinary writers commit side by side."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.events import Actor, HandedOff, LegacyActivityRecorded
from gateways.audit import verify_chains
from gateways.eventstore.recorders import RowidsNotConsecutive, SQLiteRecorderWithRows
from gateways.eventstore.store import GENESIS_HASH, ConcurrencyConflict, EventStore, StreamAppend

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=VN)
RECORDED = datetime(2026, 3, 3, 8, 0, tzinfo=VN)


def _events(n: int) -> list[Any]:
    events: list[Any] = []
    for k in range(n):
        if k % 2:
            events.append(
                HandedOff(
                    occurred_at=AT,
                    actor=Actor("W", f"u{k}", "officer"),
                    from_agency_code="W",
                    to_agency_code=f"D{k}",
                    route_step=None,
                )
            )
        else:
            events.append(
                LegacyActivityRecorded(
                    occurred_at=AT,
                    actor=Actor("G", "r", "integration"),
                    activity=f"step {k}",
                    agency_code="G",
                    original={"concept:name": {"type": "string", "value": f"step {k}"}},
                )
            )
    return events


def _appends(streams: list[str], per_stream: int) -> list[StreamAppend]:
    return [StreamAppend(d, 0, GENESIS_HASH, _events(per_stream + i % 3)) for i, d in enumerate(streams)]


def _rows(store: EventStore) -> list[tuple[Any, ...]]:
    """Every stored row as the relay and the views read it: id, stream, version, type, bytes."""
    out = store.outbox(0, 100_000)
    return [(o.notification_id, o.dossier_id, o.type, o.raw) for o in out]


def _write(store: EventStore, streams: list[str], single: str, extra: list[str]) -> list[list[Any]]:
    """One event alone, a set of streams in one transaction, a refused set, another set."""
    written = [store.append(single, 0, GENESIS_HASH, _events(1), RECORDED)]
    written.extend(store.commit(_appends(streams[:3], 4), RECORDED))
    with pytest.raises(ConcurrencyConflict):  # the single stream again: nothing is written
        store.commit(
            [*_appends([str(uuid.uuid4())], 3), StreamAppend(single, 0, GENESIS_HASH, _events(2))], RECORDED
        )
    written.extend(store.commit(_appends(extra, 3), RECORDED))
    return written


def test_a_set_stores_the_rows_of_one_by_one(tmp_path: Path) -> None:
    streams = [str(uuid.uuid4()) for _ in range(3)]
    extra = [str(uuid.uuid4()) for _ in range(2)]
    single = str(uuid.uuid4())
    stores = {}
    for name, set_from in (("set", 2), ("rows", 10**9)):
        store = EventStore(f"sqlite:///{tmp_path / name}.sqlite")
        recorder = store.recorder
        assert isinstance(recorder, SQLiteRecorderWithRows)
        recorder.set_based_from = set_from
        stores[name] = store
    try:
        written = {name: _write(store, streams, single, extra) for name, store in stores.items()}
        rows = {name: _rows(store) for name, store in stores.items()}
        assert len(rows["set"]) == 1 + (4 + 5 + 6) + (3 + 4)
        assert rows["set"] == rows["rows"]
        assert [r[0] for r in rows["set"]] == list(range(1, len(rows["set"]) + 1))
        # The ids handed back with the records are the stored ones, in the order given.
        assert written["set"] == written["rows"]
        handed = [r.notification_id for batch in written["set"] for r in batch]
        assert handed == [r[0] for r in rows["set"]]
        assert [(r.dossier_id, r.seq) for batch in written["set"] for r in batch] == [
            (r.dossier_id, r.seq) for r in stores["set"].notifications(0, 1000)
        ]
        for store in stores.values():
            assert verify_chains(store).ok
    finally:
        for store in stores.values():
            store.close()


def test_a_set_whose_rowids_are_not_consecutive_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    store = EventStore(f"sqlite:///{path}")
    try:
        store.append(str(uuid.uuid4()), 0, GENESIS_HASH, _events(1), RECORDED)
        table = store.recorder.events_table_name  # type: ignore[attr-defined]
        # The largest rowid taken: SQLite then picks free rowids at random.
        with sqlite3.connect(path) as raw:
            raw.execute(
                f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state) "
                "VALUES (9223372036854775807, ?, 1, 't', x'00')",
                (uuid.uuid4().hex,),
            )
        before = len(store.outbox(0, 1000))
        with pytest.raises(RowidsNotConsecutive):
            store.commit(_appends([str(uuid.uuid4()) for _ in range(3)], 4), RECORDED)
        assert len(store.outbox(0, 1000)) == before
    finally:
        store.close()


def test_a_follower_skips_no_id_while_sets_and_single_events_commit(backend_url: str) -> None:
    """What the relay does (read after the last id it saw) sees every event exactly once."""
    store = EventStore(backend_url)
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()  # read before the last pass: nothing commits after it
                batch = store.outbox(after, 500)
                seen.extend(o.notification_id for o in batch)
                if batch:
                    after = batch[-1].notification_id
                elif finished:
                    return
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    def bulk() -> None:
        for _ in range(15):
            store.commit(_appends([str(uuid.uuid4()) for _ in range(20)], 5), RECORDED)

    def single() -> None:
        for _ in range(60):
            store.append(str(uuid.uuid4()), 0, GENESIS_HASH, _events(1), RECORDED)

    follower = threading.Thread(target=follow)
    writers = [
        threading.Thread(target=bulk),
        threading.Thread(target=single),
        threading.Thread(target=single),
    ]
    try:
        follower.start()
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        follower.join()
        assert not errors
        stored = [o.notification_id for o in store.outbox(0, 100_000)]
        assert len(stored) == 15 * sum(5 + i % 3 for i in range(20)) + 120
        assert seen == stored  # in order, none skipped, none twice
    finally:
        done.set()
        follower.join()
        store.close()
