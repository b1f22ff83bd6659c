"""Receipt codes in the national portal's shape: the desk's agency code, the local date and
a daily sequence per desk — `000.21.99.H29-261123-0001` (mã hồ sơ).

Numbers are given out by the writer thread as it decides each receipt, so the receipts of one
batch at one desk are consecutive in the order they were decided. Each number is recorded
in `receipt_numbers` in the transaction that records the receipt; its primary key makes a
number given twice (by two API processes) fail that transaction, and the writer decides the
batch again after `forget`, starting from the stored numbers.
"""

from __future__ import annotations

import threading
from datetime import date

from gateways.eventstore.recorders import Row
from gateways.sql import Database

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS receipt_numbers (agency_code TEXT NOT NULL, day TEXT NOT NULL, "
    "seq INTEGER NOT NULL, dossier_id TEXT NOT NULL, PRIMARY KEY (agency_code, day, seq))",
]


def receipt_code(agency_code: str, day: date, seq: int) -> str:
    return f"{agency_code}-{day:%y%m%d}-{seq:04d}"


class ReceiptNumbers:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._last: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        db.executescript(SCHEMA)

    def take(self, agency_code: str, day: date, dossier_id: str) -> tuple[str, Row]:
        """The next code of this desk and day, and the row that records it."""
        key = (agency_code, day.isoformat())
        with self._lock:
            if key not in self._last:
                rows = self._db.query(
                    "SELECT MAX(seq) AS seq FROM receipt_numbers WHERE agency_code = ? AND day = ?", key
                )
                self._last[key] = int(rows[0]["seq"] or 0) if rows else 0
            self._last[key] += 1
            seq = self._last[key]
        row: Row = (
            "INSERT INTO receipt_numbers (agency_code, day, seq, dossier_id) VALUES (?, ?, ?, ?)",
            (agency_code, key[1], seq, dossier_id),
        )
        return receipt_code(agency_code, day, seq), row

    def forget(self) -> None:
        """Numbers given out but not recorded are void: start again from the stored ones."""
        with self._lock:
            self._last.clear()
