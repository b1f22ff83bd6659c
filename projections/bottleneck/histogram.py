"""The log-scale histogram of dwell and transit hours: mergeable by adding, quantiles within
`RELATIVE_ERROR` of the exact nearest-rank value."""

from __future__ import annotations

import math
from collections.abc import Mapping

FLOOR_HOURS = 1 / 60  # one minute: shorter values fall in bucket 0 and read as 0
GROWTH = 1.1  # each bucket is 10 % wider than the one before
RELATIVE_ERROR = (GROWTH - 1) / (GROWTH + 1)  # 4.76 %: the reading is mid-bucket (harmonic)
_LOG_GROWTH = math.log(GROWTH)
_MS_PER_HOUR = 3_600_000
QUANTILES = (("p50", 500), ("p90", 900), ("p99", 990))  # per mille


def bucket_of(milliseconds: int) -> int:
    """Bucket k >= 1 holds [FLOOR * GROWTH**(k-1), FLOOR * GROWTH**k) hours; 0 holds less."""
    hours = milliseconds / _MS_PER_HOUR
    if hours < FLOOR_HOURS:
        return 0
    return int(math.log(hours / FLOOR_HOURS) / _LOG_GROWTH) + 1


def bucket_value(bucket: int) -> float:
    """The hours a bucket reads as: off by at most RELATIVE_ERROR from any value in it."""
    if bucket <= 0:
        return 0.0
    low = FLOOR_HOURS * GROWTH ** (bucket - 1)
    return low * 2 * GROWTH / (1 + GROWTH)


def quantile(hist: Mapping[int, int], per_mille: int) -> float | None:
    """Nearest-rank quantile: the value of the sample at rank ceil(q * n)."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = max(1, (per_mille * total + 999) // 1000)
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(hist))  # pragma: no cover - counts never sum past total


def quantiles(hist: Mapping[int, int]) -> dict[str, float | None]:
    return {name: quantile(hist, q) for name, q in QUANTILES}


def exact_quantile(values: list[float], per_mille: int) -> float | None:
    """The same nearest-rank quantile over raw values (for short lists and checks)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, (per_mille * len(ordered) + 999) // 1000)
    return ordered[rank - 1]
