"""What views write sets with (gateways/views/toolkit.py): an `Upsert` of a large set (COPY and one
INSERT … SELECT on PostgreSQL) ends as one row at a time would; `Held` evicts ended dossiers first."""

from __future__ import annotations

from typing import Any

from gateways.views.toolkit import STAGE_FROM, Held, IdFilter, Upsert


def test_an_upsert_of_a_large_set_adds_or_replaces_like_one_row_at_a_time(
    make_container: Any, backend_url: str
) -> None:
    db = make_container(backend_url).view_db
    db.execute(
        "CREATE TABLE IF NOT EXISTS toolkit_sums (k TEXT NOT NULL, d INTEGER NOT NULL, n BIGINT NOT NULL, "
        "flag BOOLEAN NOT NULL DEFAULT FALSE, note TEXT, PRIMARY KEY (k, d))"
    )
    adding = Upsert("toolkit_sums", ("k", "d", "n", "flag", "note"), ("k", "d"), add=False)
    counting = Upsert("toolkit_sums", ("k", "d", "n"), ("k", "d"), add=True)
    size = STAGE_FROM + 50
    with db.transaction() as tx:
        adding.write(tx, [(f"k{i % 7}", i, i, i % 2 == 0, None if i % 3 else "x") for i in range(size)])
        counting.write(tx, [(f"k{i % 7}", i, 1000) for i in range(0, size, 2)])
        adding.write(tx, [("k0", 0, 5, True, "again")])  # a small set takes the other path
    with db.transaction() as tx:
        counting.write(tx, [(f"k{i % 7}", i, 1) for i in range(size + 10)])  # some rows are new
    rows = {(r["k"], int(r["d"])): r for r in db.query("SELECT * FROM toolkit_sums")}
    assert len(rows) == size + 10
    assert int(rows[("k0", 0)]["n"]) == 6 and rows[("k0", 0)]["note"] == "again"
    for i in range(1, size):
        row = rows[(f"k{i % 7}", i)]
        assert int(row["n"]) == i + (1000 if i % 2 == 0 else 0) + 1
        assert bool(row["flag"]) == (i % 2 == 0) and row["note"] == (None if i % 3 else "x")
    assert int(rows[(f"k{size % 7}", size)]["n"]) == 1


def test_held_states_let_go_of_ended_dossiers_then_the_least_recently_used() -> None:
    held: Held[int] = Held(ended=lambda state: state < 0, limit=4)
    held.forget(empty=True)
    held.before(["a", "b", "c", "d", "e"], lambda missing: {})
    held.after({"a": 1, "b": -1, "c": 3, "d": 4, "e": 5})
    held.after({"a": 2})  # used last
    assert held.changes() == [("a", None, 2), ("b", None, -1), ("c", None, 3), ("d", None, 4), ("e", None, 5)]
    held.trim()
    # The ended dossier goes at every flush; four open ones are within the limit.
    assert list(held.known) == ["c", "d", "e", "a"] and held.empty
    assert "b" in held.dropped and not any(d in held.dropped for d in "acdefgh")
    loads: list[list[str]] = []
    # After a reset only a dossier let go is read back; one never met has no row to read.
    before = held.before(["b", "f"], lambda missing: loads.append(missing) or {"b": -1})
    assert loads == [["b"]] and before["b"] == -1 and before["f"] is None
    held.after({"f": 6, "g": 7})
    held.changes()
    held.trim()  # b ended again; six open dossiers over the limit of four: the two most recent stay
    assert list(held.known) == ["f", "g"]
    assert all(d in held.dropped for d in "abcde") and not any(d in held.dropped for d in "fgh")
    loads.clear()
    before = held.before(["c", "h"], lambda missing: loads.append(missing) or {"c": 30})
    assert loads == [["c"]] and before["c"] == 30 and before["h"] is None
    held.forget()  # not empty: whatever is not held is read back
    loads.clear()
    held.before(["c", "h"], lambda missing: loads.append(missing) or {})
    assert loads == [["c", "h"]]


def test_an_id_filter_holds_every_id_added_and_few_others() -> None:
    ids = IdFilter()
    added = [f"dossier-{i}" for i in range(40_000)]
    ids.update(added)
    assert ids.count == 40_000 and all(d in ids for d in added)
    # Never added: a "maybe" only costs a read that finds nothing; about 0.03 % are expected.
    others = sum(f"other-{i}" in ids for i in range(40_000))
    assert others < 400
    assert not any(d in IdFilter() for d in added[:100])


def test_held_states_with_a_window_let_go_of_those_not_folded_within_it() -> None:
    """A view whose states never end (`recent`) holds only the dossiers folded within the last
    `recent` events; one let go is read back, with its stored state, when met again."""
    held: Held[int] = Held(ended=lambda state: False, limit=100, recent=10)
    held.forget(empty=True)
    held.before(["a", "b"], lambda missing: {})
    held.after({"a": 1, "b": 1}, events=6)
    held.before(["c"], lambda missing: {})
    held.after({"c": 1}, events=3)
    held.changes()
    held.trim()  # 9 events folded: all within the window
    assert list(held.known) == ["a", "b", "c"]
    held.before(["b"], lambda missing: {})
    held.after({"b": 2}, events=8)  # 17 events: a (folded at 6) is out of the window, c (at 9) in
    held.changes()
    held.trim()
    assert list(held.known) == ["c", "b"] and "a" in held.dropped and "b" not in held.dropped
    held.after({"d": 5}, events=10)  # 27: c and b (at 17) are out; d, the last folded, stays
    held.changes()
    held.trim()
    assert list(held.known) == ["d"] and all(x in held.dropped for x in "abc")
    loads: list[list[str]] = []

    def load(missing: list[str]) -> dict[str, int]:
        loads.append(missing)
        return {"a": 1}

    before = held.before(["a", "d", "e"], load)
    assert loads == [["a"]] and before["a"] == 1 and before["d"] == 5 and before["e"] is None
