"""Working-time clock used to compute statutory processing deadlines.

Deadlines for administrative dossiers are expressed in *working* time: office
hours on working days only.  This module is pure (stdlib only) and never reads
the clock; every instant is passed in by the caller.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

__all__ = ["WorkingCalendar"]

_US_PER_SECOND = 1_000_000
_US_PER_HOUR = 3600 * _US_PER_SECOND
_ONE_DAY = timedelta(days=1)

DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = (
    (time(7, 30), time(11, 30)),
    (time(13, 0), time(17, 0)),
)


def _time_to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _hours_to_us(hours: float) -> int:
    # NaN/inf would make round() raise an obscure error or loop forever later.
    if not math.isfinite(hours):
        raise ValueError(f"hours must be finite, got {hours!r}")
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours!r}")
    return round(hours * 3600 * 1e6)


def _weekdays_in_range(first: date, stop: date) -> int:
    """Number of Monday-Friday dates in [first, stop)."""
    n = (stop - first).days
    if n <= 0:
        return 0
    weeks, rest = divmod(n, 7)
    start_wd = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start_wd + i) % 7 < 5)


@dataclass(frozen=True)
class WorkingCalendar:
    """Lịch làm việc (working calendar) of an agency.

    * Working days are Monday-Friday, minus ``days_off`` (public holidays and
      decreed extra days off), plus ``extra_working_days`` (decreed make-up
      days, usually Saturdays).  If a date is in *both* sets,
      ``extra_working_days`` wins: the decree that swaps a day is more specific
      than the holiday list it amends.
    * Office hours are half-open local wall-clock intervals ``[start, end)``;
      by default 07:30-11:30 and 13:00-17:00, i.e. 8 h = one working day.
    * Instants are aware datetimes in any offset; they are converted to
      ``tz`` for reasoning and results are returned in ``tz``.  Naive
      datetimes are rejected (``ValueError``) because their meaning is
      ambiguous.  Durations are measured on the local wall clock, which is
      exact for zones without DST such as Asia/Ho_Chi_Minh.
    * ``same_day_cutoff``: dossiers for same-day procedures received at or
      after this local time on a working day start counting on the next
      working day (see :meth:`counting_start`).
    """

    tz: tzinfo
    office_hours: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_HOURS
    days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    same_day_cutoff: time = time(15, 0)
    # Office intervals as microseconds since local midnight, precomputed once so
    # the hot loops do pure integer arithmetic.
    _spans: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False, default=())
    # Sorted: weekdays that are off, and weekend days that are worked (for counting by bisection).
    _weekdays_off: tuple[date, ...] = field(init=False, repr=False, compare=False, default=())
    _weekends_on: tuple[date, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        # Accept any iterable from callers (e.g. a plain set or list) but store
        # immutable types so the frozen instance stays hashable and safe.
        object.__setattr__(self, "office_hours", tuple(tuple(iv) for iv in self.office_hours))
        object.__setattr__(self, "days_off", frozenset(self.days_off))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        weekdays_off = sorted(
            d for d in self.days_off if d.weekday() < 5 and d not in self.extra_working_days
        )
        object.__setattr__(self, "_weekdays_off", tuple(weekdays_off))
        object.__setattr__(
            self, "_weekends_on", tuple(sorted(d for d in self.extra_working_days if d.weekday() >= 5))
        )

        if not self.office_hours:
            raise ValueError("office_hours must contain at least one interval")
        spans: list[tuple[int, int]] = []
        for iv in self.office_hours:
            if len(iv) != 2:
                raise ValueError(f"office interval must be (start, end), got {iv!r}")
            start, end = iv
            if not isinstance(start, time) or not isinstance(end, time):
                raise TypeError(f"office interval bounds must be datetime.time, got {iv!r}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office hours are local wall-clock times; use naive times")
            s, e = _time_to_us(start), _time_to_us(end)
            if s >= e:
                raise ValueError(f"office interval start must be before end: {iv!r}")
            if spans and s < spans[-1][1]:
                raise ValueError("office intervals must be sorted and non-overlapping")
            spans.append((s, e))
        if self.same_day_cutoff.tzinfo is not None:
            raise ValueError("same_day_cutoff is a local wall-clock time; use a naive time")
        object.__setattr__(self, "_spans", tuple(spans))

    # ------------------------------------------------------------------ helpers

    @property
    def _day_us(self) -> int:
        return sum(e - s for s, e in self._spans)

    def _to_local(self, at: datetime) -> tuple[date, int]:
        """Split an aware instant into (local date, microseconds since local midnight)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"aware datetime required, got naive {at!r}")
        local = at.astimezone(self.tz)
        return local.date(), _time_to_us(local.time())

    def _at(self, day: date, us: int) -> datetime:
        wall = datetime.combine(day, time()) + timedelta(microseconds=us)
        return wall.replace(tzinfo=self.tz)

    def _worked_in_day(self, day: date, lo: int, hi: int) -> int:
        """Working microseconds of ``day`` inside the local window [lo, hi)."""
        if hi <= lo or not self.is_working_day(day):
            return 0
        return sum(max(0, min(e, hi) - max(s, lo)) for s, e in self._spans)

    def _working_days_in_range(self, first: date, stop: date) -> int:
        """Number of working days in [first, stop), without walking each date."""
        if stop <= first:
            return 0
        off = bisect_left(self._weekdays_off, stop) - bisect_left(self._weekdays_off, first)
        on = bisect_left(self._weekends_on, stop) - bisect_left(self._weekends_on, first)
        return _weekdays_in_range(first, stop) - off + on

    # --------------------------------------------------------------- public API

    @property
    def hours_per_day(self) -> float:
        """Length of one working day in hours (8.0 with the default office hours)."""
        return self._day_us / _US_PER_HOUR

    def is_working_day(self, day: date) -> bool:
        """True for Mon-Fri not in ``days_off``, or any date in ``extra_working_days``."""
        if day in self.extra_working_days:
            return True
        if day in self.days_off:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """First working day strictly after ``day``."""
        # Terminates: days_off is finite, so a plain weekday is always reached.
        d = day + _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def working_days_after(self, day: date, n: int) -> date:
        """The `n`-th working day after ``day`` (``day`` itself for 0)."""
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def is_working_instant(self, at: datetime) -> bool:
        """True if ``at`` lies in an office interval ``[start, end)`` of a working day."""
        day, us = self._to_local(at)
        return self.is_working_day(day) and any(s <= us < e for s, e in self._spans)

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself (in ``tz``) if it is a working instant, else the next office opening.

        An instant exactly at an interval end (e.g. 11:30:00) is outside office
        hours, so the result is the next interval start (13:00).
        """
        day, us = self._to_local(at)
        if self.is_working_day(day):
            for s, e in self._spans:
                if us < e:
                    return self._at(day, max(us, s))
        return self._at(self.next_working_day(day), self._spans[0][0])

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Earliest instant at which ``hours`` working hours have elapsed since ``start``.

        Counting begins at :meth:`next_opening` when ``start`` is outside office
        hours.  A budget that is used up exactly at an interval end returns that
        end (4 h from 07:30 gives 11:30, not 13:00).  ``hours == 0`` returns
        ``start`` unchanged (converted to ``tz``), even outside office hours:
        nothing has to elapse.  Negative or non-finite ``hours`` raise
        ``ValueError``.
        """
        remaining = _hours_to_us(hours)
        day, us = self._to_local(start)
        if remaining == 0:
            return start.astimezone(self.tz)

        # Partial first day: consume what is left of today's office hours.
        if self.is_working_day(day):
            for s, e in self._spans:
                if us >= e:
                    continue
                frm = max(us, s)
                avail = e - frm
                if remaining <= avail:
                    return self._at(day, frm + remaining)
                remaining -= avail

        # Skip whole working days at once; stop with 0 < remaining <= day_us so
        # the result lands inside (not after) the final day.
        day_us = self._day_us
        day = self.next_working_day(day)
        whole_days = (remaining - 1) // day_us
        remaining -= whole_days * day_us
        day = self.working_days_after(day, whole_days)

        for s, e in self._spans:
            if remaining <= e - s:
                return self._at(day, s + remaining)
            remaining -= e - s
        raise AssertionError("unreachable: remaining exceeded one working day")  # pragma: no cover

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working time inside ``[start, end)`` in hours; ``0.0`` if ``end <= start``."""
        if end <= start:
            return 0.0
        d0, u0 = self._to_local(start)
        d1, u1 = self._to_local(end)
        if d0 == d1:
            total = self._worked_in_day(d0, u0, u1)
        else:
            total = (
                self._worked_in_day(d0, u0, _US_PER_HOUR * 24)
                + self._working_days_in_range(d0 + _ONE_DAY, d1) * self._day_us
                + self._worked_in_day(d1, 0, u1)
            )
        return total / _US_PER_HOUR

    def counting_start(self, received_at: datetime, deadline_hours: float) -> datetime:
        """Instant from which a dossier's processing deadline is counted.

        Normally :meth:`next_opening` of ``received_at``.  Exception for
        same-day procedures (``deadline_hours <= hours_per_day``): if the
        dossier arrives on a working day at or after ``same_day_cutoff``
        (``>=``, so 15:00:00 exactly already counts as late), counting starts
        at the first opening of the next working day, since the agency could
        not reasonably finish it the same afternoon.  Negative
        ``deadline_hours`` raise ``ValueError``.
        """
        _hours_to_us(deadline_hours)  # validation only
        day, us = self._to_local(received_at)
        if (
            deadline_hours <= self.hours_per_day
            and self.is_working_day(day)
            and us >= _time_to_us(self.same_day_cutoff)
        ):
            return self._at(self.next_working_day(day), self._spans[0][0])
        return self.next_opening(received_at)
