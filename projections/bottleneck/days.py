"""Local days as numbers, and the blocks of days the counters are kept in: a day, an ISO week,
and aligned runs of 2, 4, … weeks; any range of days is covered by a few blocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

# Day numbers count from a Monday, so a multiple of 7 starts an ISO week.
EPOCH = date(1900, 1, 1)
# Counters and histograms are kept per block of days: a day, an ISO week, and
# aligned runs of 2, 4, … weeks. Any range of days is covered by a few blocks.
SPANS: tuple[int, ...] = (1, 7, 14, 28, 56, 112, 224, 448, 896)


def day_number(at: datetime, tz: tzinfo) -> int:
    """The local day of an instant, as days since EPOCH."""
    return (at.astimezone(tz).date() - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


def number_of(day: date) -> int:
    return (day - EPOCH).days


def week_start(number: int) -> int:
    """The Monday of the ISO week of a day number."""
    return number - number % 7


def blocks_of(number: int) -> list[tuple[int, int]]:
    """(span, first day) of every block that contains the day."""
    return [(span, number - number % span) for span in SPANS]


def cover(first: int, last: int) -> list[tuple[int, int]]:
    """Blocks that cover the days [first, last] exactly, each day once, largest first."""
    blocks: list[tuple[int, int]] = []
    day = first
    while day <= last:
        span = next(s for s in reversed(SPANS) if day % s == 0 and day + s - 1 <= last)
        blocks.append((span, day))
        day += span
    return blocks
