"""`Tx.select_in` reads a set of keys in chunks through a dozen statement texts, not one per
length: a long rebuild that reads back sets of every size keeps few prepared statements."""

from __future__ import annotations

from typing import Any

import pytest

from gateways.sql import Tx


def test_select_in_finds_every_key_once_through_a_few_statement_texts(
    make_container: Any, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_container(backend_url).view_db
    db.execute("CREATE TABLE IF NOT EXISTS select_in_rows (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    with db.transaction() as tx:
        tx.executemany("INSERT INTO select_in_rows (k, n) VALUES (?, ?)", [(f"k{i}", i) for i in range(1200)])
    texts: set[str] = set()
    query = Tx.query

    def recorded(self: Tx, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        texts.add(statement)
        return query(self, statement, params)

    monkeypatch.setattr(Tx, "query", recorded)
    with db.transaction() as tx:
        for size in [*range(1, 140), 255, 256, 257, 499, 500, 501, 1100]:
            keys = [f"k{(i * 7) % 1200}" for i in range(size)] + ["absent", f"k{size % 1200}"]
            rows = tx.select_in("SELECT k, n FROM select_in_rows WHERE n >= ? AND k IN ({marks})", keys, (0,))
            found = sorted((str(r["k"]), int(r["n"])) for r in rows)
            # Each key found once per chunk it is in (a repeated key, as here, may be in two).
            chunks = [set(keys[start : start + 500]) for start in range(0, len(keys), 500)]
            expected = sorted((k, int(k[1:])) for part in chunks for k in part if k != "absent")
            assert found == expected
    assert len(texts) <= 10  # sizes 1, 2, 4, … 256 and 500
