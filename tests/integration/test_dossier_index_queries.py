"""The dossier index's inbox and digitized count answer right and read through indexes: at a
million dossiers a scan of every dossier ever received cost 180-320 ms per request (bench query),
an index search about a millisecond."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gateways.sql import Database
from gateways.views.dossier_index import CASE_ID_IS, DossierIndex

T0 = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)


def _index(tmp_path: Path) -> DossierIndex:
    index = DossierIndex(Database(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    rows = []
    for n in range(400):
        closed = n % 4 != 0
        at = T0 + timedelta(hours=n)
        rows.append(
            (
                f"d{n:04d}", f"R{n}", "HT.03", f"D{n % 3}", f"A{n % 5}",
                "returned" if closed else "in_process", 7 if closed else 3, 5, "direct",
                at.isoformat(), None, None,
                (at + timedelta(days=1)).isoformat() if closed else None,
                (at + timedelta(days=1)).isoformat() if closed else None,
                None, "A9" if n % 8 == 0 else None, False, "", n % 10 == 0, at.isoformat(),
            )
        )  # fmt: skip
    with index.db.transaction() as tx:
        tx.executemany(f"INSERT INTO dossier_index VALUES ({','.join('?' * 20)})", rows)
        tx.executemany(
            "INSERT INTO dossier_digitized (dossier_id, digitized_at) VALUES (?, ?)",
            [(f"d{n:04d}", T0.isoformat()) for n in range(0, 400, 3)],
        )
    return index


def _plan_of(index: DossierIndex, ask: Callable[[], object]) -> list[str]:
    """The query plan of the statement `ask` runs on the index."""
    (plan,) = _plans_of(index, ask)
    return plan


def _plans_of(index: DossierIndex, ask: Callable[[], object]) -> list[list[str]]:
    """The query plans of the statements `ask` runs on the index, in order."""
    asked: list[tuple[str, Sequence[Any]]] = []
    query = index.db.query

    def recording(statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        asked.append((statement, params))
        return query(statement, params)

    index.db.query = recording  # type: ignore[method-assign]
    try:
        ask()
    finally:
        del index.db.query
    return [[str(r["detail"]) for r in query("EXPLAIN QUERY PLAN " + s, p)] for s, p in asked]


def test_the_inbox_holds_the_open_dossiers_held_or_in_transit_read_by_index(tmp_path: Path) -> None:
    index = _index(tmp_path)
    held = sorted(r.dossier_id for r in index.open_at("A0"))
    assert held == [f"d{n:04d}" for n in range(0, 400, 20)]  # n % 4 == 0 (open) and n % 5 == 0
    in_transit = {r.dossier_id for r in index.open_at("A9")}
    assert in_transit == {f"d{n:04d}" for n in range(0, 400, 8)}
    plan = _plan_of(index, lambda: index.open_at("A0"))
    assert not any(step.startswith("SCAN") for step in plan), plan


def test_the_first_of_an_inbox_are_those_due_soonest_whatever_the_offset_written(tmp_path: Path) -> None:
    index = _index(tmp_path)
    held = [r.dossier_id for r in index.open_at("A0")]
    hanoi = timezone(timedelta(hours=7))
    due = {}
    with index.db.transaction() as tx:
        for k, dossier in enumerate(held[:-3]):  # the last three have no due instant
            due[dossier] = T0 + timedelta(hours=(k * 37) % 41, minutes=k)
            # Written in either offset: the text of one sorts before the other's by 7 hours' worth.
            text = due[dossier].astimezone(hanoi if k % 2 else UTC).isoformat()
            tx.execute("UPDATE dossier_index SET due_at = ? WHERE dossier_id = ?", (text, dossier))
    by_due = sorted(due, key=lambda d: due[d])
    for first in (1, 5, len(due)):
        assert [r.dossier_id for r in index.open_at("A0", first=first)] == by_due[:first]
    for first in (len(held), len(held) + 10):  # then those without a due instant, in any order
        got = [r.dossier_id for r in index.open_at("A0", first=first)]
        assert got[: len(due)] == by_due and set(got[len(due) :]) == set(held[-3:])


def test_digitized_count_by_desk_and_window_reads_the_digitized_first(tmp_path: Path) -> None:
    index = _index(tmp_path)
    start, end = T0 + timedelta(hours=30), T0 + timedelta(hours=300)
    expected = sum(
        1 for n in range(0, 400, 3) if n % 3 in (0, 1) and 30 <= n < 300 and n % 10 != 0
    )  # desks D0, D1; received in [start, end); imported left out
    assert index.count_digitized(["D0", "D1"], start, end) == expected
    with_imported = sum(1 for n in range(0, 400, 3) if n % 3 in (0, 1) and 30 <= n < 300)
    assert index.count_digitized(["D0", "D1"], start, end, include_imported=True) == with_imported
    plan = _plan_of(index, lambda: index.count_digitized(["D0", "D1"], start, end))
    assert not any(step.startswith("SCAN") for step in plan), plan


def test_a_search_by_case_id_reads_the_case_ids_by_their_index(tmp_path: Path) -> None:
    index = _index(tmp_path)
    long = "x" * 5000
    with index.db.transaction() as tx:
        tx.executemany(
            "INSERT INTO dossier_case (dossier_id, case_id) VALUES (?, ?)",
            [(f"d{n:04d}", long + str(n % 2) if n < 4 else f"case-{n}") for n in range(400)],
        )

    def ids(case_id: str) -> list[str]:
        return [row.dossier_id for row in index.search([CASE_ID_IS], [case_id, case_id], 50, None)]

    assert ids("case-17") == ["d0017"]
    assert ids(long + "1") == ["d0001", "d0003"]  # the same first 200 characters, told apart
    assert ids(long) == [] and ids("case-1") == []
    plan = _plan_of(index, lambda: ids("case-17"))
    assert not any(step.startswith("SCAN") for step in plan), plan


def test_a_cut_inbox_counts_every_open_dossier_by_kind_from_the_keys_it_reads(tmp_path: Path) -> None:
    index = _index(tmp_path)
    whole = index.open_at("A0")
    for first in (1, 3, len(whole) + 5):
        page = index.open_page("A0", first)
        assert len(page.rows) == min(first, len(whole))
        # n % 20 == 0 open at A0; those with n % 8 == 0 too are on their way to A9.
        assert page.totals == {"incoming": 0, "active": 10, "sent": 10} and len(whole) == 20
    assert index.open_page("A9", 2).totals == {"incoming": 50, "active": 0, "sent": 0}
    live = index.open_page("A0", 3, imported=False).totals
    assert sum(live.values()) == len([n for n in range(0, 400, 20) if n % 10 != 0]) == 0
    assert sum(index.open_page("A1", 3, imported=False).totals.values()) == len(
        [n for n in range(0, 400, 4) if n % 5 == 1 and n % 10 != 0]
    )
    plans = _plans_of(index, lambda: index.open_page("A1", 3, imported=False))
    assert len(plans) == 2 and not any(step.startswith("SCAN") for plan in plans for step in plan), plans


def test_the_dossiers_waiting_for_an_agencys_opinion_are_read_by_index(tmp_path: Path) -> None:
    index = _index(tmp_path)
    asked = [(f"d{n:04d}", "C1", (T0 + timedelta(minutes=400 - n)).isoformat()) for n in range(0, 400, 4)]
    with index.db.transaction() as tx:
        tx.executemany(
            "INSERT INTO dossier_consultation VALUES (?, ?, ?)", [*asked, ("d0001", "C2", T0.isoformat())]
        )
    rows, total = index.consulting("C1", 5)
    # Open (n % 4 == 0) all of them; the longest waiting first.
    assert total == 100 and [row.dossier_id for row, _ in rows] == [
        "d0396",
        "d0392",
        "d0388",
        "d0384",
        "d0380",
    ]
    assert [at for _, at in rows] == sorted(at for _, at in rows)
    assert index.consulting("C2", 5) == ([], 0)  # d0001 is closed
    assert index.consulting("C1", 500, imported=False)[1] == len([n for n in range(0, 400, 4) if n % 10 != 0])
    plan = _plan_of(index, lambda: index.consulting("C1", 5))
    assert not any(step.startswith("SCAN") for step in plan), plan
