"""The sums of one (subject, block) row as reports read and merge them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import orjson

from gateways.views.bottleneck.schema import _SUM_COLUMNS
from projections import bottleneck as b


def hist_to_text(hist: Mapping[int, int]) -> str:
    """A histogram as its row stores it: the JSON list `[bucket, count, …]`, buckets rising."""
    return orjson.dumps(list(chain.from_iterable(sorted(hist.items())))).decode()


def hist_from_text(text: str) -> dict[int, int]:
    values = iter(orjson.loads(text))
    return dict(zip(values, values, strict=True))


class _Sums:
    """What one (subject, block) row holds, sparse: columns by name (absent is 0) and the
    histogram's bucket counts. Adding two gives the row of their union."""

    __slots__ = ("buckets", "columns")

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}
        self.buckets: dict[int, int] = {}

    def add(self, other: _Sums) -> None:
        columns, buckets = self.columns, self.buckets
        for name, n in other.columns.items():
            columns[name] = columns.get(name, 0) + n
        for bucket, n in other.buckets.items():
            buckets[bucket] = buckets.get(bucket, 0) + n

    def add_row(self, row: dict[str, Any], names: Sequence[str] = _SUM_COLUMNS) -> None:
        columns = self.columns
        for name in names:
            if value := row[name]:
                columns[name] = columns.get(name, 0) + int(value)
        if "hist" in row:
            buckets = self.buckets
            values = iter(orjson.loads(row["hist"]))
            for bucket, n in zip(values, values, strict=True):
                buckets[bucket] = buckets.get(bucket, 0) + n

    def tally(self, name: str, amount: int) -> None:
        self.columns[name] = self.columns.get(name, 0) + amount

    def add_sample(self, sample: b.Sample) -> None:
        w = sample.weight
        self.tally("samples", w)
        self.tally("working_ms", w * sample.working_ms)
        self.tally("calendar_ms", w * sample.calendar_ms)
        bucket = b.bucket_of(sample.working_ms)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + w

    def of(self, name: str) -> int:
        return self.columns.get(name, 0)

    def hist(self) -> dict[int, int]:
        return {bucket: n for bucket, n in self.buckets.items() if n}

    def is_zero(self) -> bool:
        return not any(self.columns.values()) and not any(self.buckets.values())

    def hist_json(self) -> str:
        return hist_to_text(self.hist())
