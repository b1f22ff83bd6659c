"""Report windows, reporting periods (15th to 14th) and the day/month/year buckets of the counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """`[start, end)`: counts what happened from `start` on, judged at the instant `end`."""

    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def days(self, tz: tzinfo) -> tuple[date, date]:
        """First and last local day the window touches."""
        last = max(self.end - _ONE_MICROSECOND, self.start)
        return self.start.astimezone(tz).date(), last.astimezone(tz).date()


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def window(first: date | datetime, last: date | datetime, tz: tzinfo) -> Window:
    """A report range: a date is the whole local day (`last` inclusive); an instant is itself."""
    if isinstance(first, datetime):
        if first.tzinfo is None:
            raise ValueError("an instant needs an offset, e.g. 2026-03-02T09:00:00+07:00")
        start = first
    else:
        start = midnight(first, tz)
    if isinstance(last, datetime):
        if last.tzinfo is None:
            raise ValueError("an instant needs an offset, e.g. 2026-03-02T09:00:00+07:00")
        end = last + _ONE_MICROSECOND
    else:
        end = midnight(last + _ONE_DAY, tz)
    if end <= start:
        raise ValueError("the range ends before it starts")
    return Window(start, end)


def capped(w: Window, now: datetime) -> Window:
    """A window judged no later than `now`: nothing after now has happened yet."""
    return Window(min(w.start, now), min(w.end, now))


def reporting_period(year: int, month: int) -> tuple[date, date]:
    """Kỳ báo cáo: the 15th of the previous month to the 14th of `month`."""
    previous = date(year, month, 1) - _ONE_DAY
    return previous.replace(day=15), date(year, month, 14)


# Longer reporting periods (chốt số liệu báo cáo định kỳ) end on the 14th of their last month and
# start on the 15th of the month before their first: a quarter from 15 Dec/Mar/Jun/Sep to 14
# Mar/Jun/Sep/Dec, the six-month report from 15 Dec of the year before to 14 Jun, nine months
# to 14 Sep, the year from 15 Dec of the year before to 14 Dec (docs/decisions.md).
PERIOD_KINDS = ("month", "quarter", "half", "nine_months", "year")


@dataclass(frozen=True)
class ReportingPeriod:
    """One reporting period: `kind` of PERIOD_KINDS, `number` its month, quarter or half (1 for
    nine months and the year), `first` and `last` its days (inclusive)."""

    kind: str
    year: int
    number: int
    first: date
    last: date

    @property
    def code(self) -> str:
        """As the API and the CLI take it: 2026-03, 2026-Q1, 2026-H1, 2026-9M, 2026."""
        return {
            "month": f"{self.year:04d}-{self.number:02d}",
            "quarter": f"{self.year:04d}-Q{self.number}",
            "half": f"{self.year:04d}-H{self.number}",
            "nine_months": f"{self.year:04d}-9M",
            "year": f"{self.year:04d}",
        }[self.kind]

    @property
    def label(self) -> str:
        """As the form names it (kỳ báo cáo)."""
        if self.kind == "month":
            return f"Tháng {self.number} năm {self.year}"
        if self.kind == "quarter":
            return f"Quý {('I', 'II', 'III', 'IV')[self.number - 1]} năm {self.year}"
        if self.kind == "half":
            return f"6 tháng {'đầu' if self.number == 1 else 'cuối'} năm {self.year}"
        if self.kind == "nine_months":
            return f"9 tháng năm {self.year}"
        return f"Năm {self.year}"


def _closing(year: int, first_month: int, last_month: int) -> tuple[date, date]:
    """From the 15th of the month before `first_month` to the 14th of `last_month`."""
    return reporting_period(year, first_month)[0], date(year, last_month, 14)


def period(kind: str, year: int, number: int = 1) -> ReportingPeriod:
    """The reporting period `number` of `kind` in `year` (ValueError when there is none)."""
    if kind == "month" and 1 <= number <= 12:
        first, last = reporting_period(year, number)
    elif kind == "quarter" and 1 <= number <= 4:
        first, last = _closing(year, 3 * number - 2, 3 * number)
    elif kind == "half" and number in (1, 2):
        first, last = _closing(year, 6 * number - 5, 6 * number)
    elif kind == "nine_months" and number == 1:
        first, last = _closing(year, 1, 9)
    elif kind == "year" and number == 1:
        first, last = _closing(year, 1, 12)
    else:
        raise ValueError(f"no reporting period {kind} {number} in a year")
    return ReportingPeriod(kind, year, number, first, last)


def period_of(day: date) -> tuple[int, int]:
    """The (year, month) of the reporting period containing `day`."""
    if day.day < 15:
        return day.year, day.month
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def bucket_ranges(first: date, stop: date) -> list[tuple[str, str, str]]:
    """`[first, stop)` as few buckets as possible: `(grain, low, high)`, bucket keys inclusive.

    Grains: `d` ("2025-07-14"), `m` ("2025-07"), `y` ("2025"). Leading days up to a month
    boundary, months up to a year boundary, whole years, then months and days again: at most
    five ranges, however long the range (a report "since ever" starts at year 1).
    """
    ranges: list[tuple[str, str, str]] = []

    def add(grain: str, low: date, end: date) -> None:
        width = {"d": 10, "m": 7, "y": 4}[grain]
        low_key, high_key = low.isoformat()[:width], (end - _ONE_DAY).isoformat()[:width]
        if ranges and ranges[-1][0] == grain:  # contiguous with the previous range
            low_key = ranges.pop()[1]
        ranges.append((grain, low_key, high_key))

    day = first
    if day < stop and day.day != 1:
        end = min(_next_month(day), stop)
        add("d", day, end)
        day = end
    if day < stop and day.month != 1:
        end = min(date(day.year + 1, 1, 1), _month_start(stop))
        if end > day:
            add("m", day, end)
            day = end
    if day < stop and day.month == 1 and day.day == 1 and day.year < stop.year:
        end = date(stop.year, 1, 1)
        add("y", day, end)
        day = end
    if day < _month_start(stop):
        add("m", day, _month_start(stop))
        day = _month_start(stop)
    if day < stop:
        add("d", day, stop)
    return ranges


def buckets_of(day: date) -> tuple[tuple[str, str], ...]:
    """The day, month and year buckets a tally on `day` is added to."""
    key = day.isoformat()
    return (("d", key), ("m", key[:7]), ("y", key[:4]))
