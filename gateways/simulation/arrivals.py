"""When dossiers arrive at the desk: office hours, a weekly rhythm and a seasonal one.

Exactly `count` arrivals are spread over the working days of a period with weights
day-of-week × month (busier before Tết and at year end, quiet in the Tết month and in
summer), and within a day over the office hours, mornings busier than afternoons. Days
off (weekends, holidays, decreed days) get nothing; decreed make-up Saturdays get a
Saturday's share.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from domain.calendar import WorkingCalendar

# Monday is the busiest day at a one-stop desk, Friday afternoon the quietest.
WEEKDAY = (1.25, 1.05, 1.0, 0.95, 0.85, 0.5, 0.5)
# January/February hold Tết (busy before it, quiet in its month), December closes the year.
MONTH = (1.05, 0.8, 1.05, 1.0, 1.0, 0.95, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15)
# Half-hour slots from each office interval's start: the morning rush, the after-lunch bump.
MORNING = (1.2, 1.5, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5)
AFTERNOON = (0.9, 1.1, 1.0, 0.9, 0.8, 0.6, 0.4, 0.2)


def day_weights(calendar: WorkingCalendar, start: date, end: date) -> list[tuple[date, float]]:
    """Working days in [start, end) with their relative arrival rates."""
    days: list[tuple[date, float]] = []
    day = start
    while day < end:
        if calendar.is_working_day(day):
            days.append((day, WEEKDAY[day.weekday()] * MONTH[day.month - 1]))
        day += timedelta(days=1)
    return days


def _slots(calendar: WorkingCalendar) -> list[tuple[time, float, int]]:
    """(start, weight, length in seconds) of every half-hour slot of the office hours."""
    slots: list[tuple[time, float, int]] = []
    for n, (opens, closes) in enumerate(calendar.office_hours):
        shape = MORNING if n == 0 else AFTERNOON
        at = datetime.combine(date(2000, 1, 1), opens)
        end = datetime.combine(date(2000, 1, 1), closes)
        k = 0
        while at < end:
            length = min(timedelta(minutes=30), end - at)
            slots.append((at.time(), shape[min(k, len(shape) - 1)], int(length.total_seconds())))
            at += length
            k += 1
    return slots


def arrivals(
    rng: random.Random, calendar: WorkingCalendar, start: date, end: date, count: int
) -> list[datetime]:
    """`count` arrival instants in [start, end), in time order."""
    days = day_weights(calendar, start, end)
    if not days or count <= 0:
        return []
    chosen = rng.choices([d for d, _ in days], cum_weights=list(accumulate(w for _, w in days)), k=count)
    slots = _slots(calendar)
    picked = rng.choices(slots, cum_weights=list(accumulate(w for _, w, _ in slots)), k=count)
    out = []
    for day, (slot, _, length) in zip(chosen, picked, strict=True):
        at = datetime.combine(day, slot, tzinfo=calendar.tz) + timedelta(seconds=rng.randrange(length))
        out.append(at)
    out.sort()
    return out
