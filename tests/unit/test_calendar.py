"""Tests for the working-time clock (domain.calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import WorkingCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar(tz=VN)

# 2025 National Day holidays: Mon 1 and Tue 2 September.
NATIONAL_DAY_2025 = frozenset({date(2025, 9, 1), date(2025, 9, 2)})

# Reference week: Mon 2025-06-02 .. Sun 2025-06-08 (no holidays).
MON = date(2025, 6, 2)
TUE = date(2025, 6, 3)
FRI = date(2025, 6, 6)
SAT = date(2025, 6, 7)
NEXT_MON = date(2025, 6, 9)
NEXT_FRI = date(2025, 6, 13)


def vn(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=VN)


def assert_same_local(actual: datetime, expected: datetime) -> None:
    # Same instant *and* expressed in the office tz.
    assert actual == expected
    assert actual.utcoffset() == timedelta(hours=7)
    assert actual.replace(tzinfo=None) == expected.astimezone(VN).replace(tzinfo=None)


# --------------------------------------------------------------------------
# Hand-computed examples
# --------------------------------------------------------------------------


def test_hours_per_day_default() -> None:
    # 07:30-11:30 (4 h) + 13:00-17:00 (4 h) = 8 h
    assert CAL.hours_per_day == 8.0


def test_four_hours_from_opening_ends_at_lunch_not_after() -> None:
    # 07:30 + 4 h = 11:30, which is exactly the end of the morning interval.
    assert_same_local(CAL.add_working_hours(vn(MON, 7, 30), 4), vn(MON, 11, 30))


def test_eight_hours_from_opening_is_same_day_close() -> None:
    # 07:30-11:30 (4 h) + 13:00-17:00 (4 h) = 8 h -> Mon 17:00
    assert_same_local(CAL.add_working_hours(vn(MON, 7, 30), 8), vn(MON, 17, 0))


def test_eight_hours_from_mid_morning_rolls_to_next_day() -> None:
    # Mon 10:00-11:30 = 1.5 h, 13:00-17:00 = 4 h -> 5.5 h; 2.5 h left
    # Tue 07:30 + 2.5 h = 10:00
    assert_same_local(CAL.add_working_hours(vn(MON, 10, 0), 8), vn(TUE, 10, 0))


def test_forty_hours_across_weekend() -> None:
    # Fri 14:00-17:00 = 3 h; Sat/Sun skipped; Mon..Thu 4 x 8 = 32 h -> 35 h;
    # next Fri 07:30-11:30 = 4 h -> 39 h; 13:00-14:00 = 1 h -> 40 h at Fri 14:00
    assert_same_local(CAL.add_working_hours(vn(FRI, 14, 0), 40), vn(NEXT_FRI, 14, 0))


def test_sixteen_hours_across_national_day_2025() -> None:
    cal = WorkingCalendar(tz=VN, days_off=NATIONAL_DAY_2025)
    # Fri 29 Aug 07:30-17:00 = 8 h; Sat 30, Sun 31 weekend; Mon 1, Tue 2 Sep
    # holiday; Wed 3 Sep 07:30-17:00 = 8 h -> 16 h at Wed 3 Sep 17:00
    start = vn(date(2025, 8, 29), 7, 30)
    due = cal.add_working_hours(start, 16)
    assert_same_local(due, vn(date(2025, 9, 3), 17, 0))
    assert cal.working_hours_between(start, due) == 16.0
    # Without the holiday the same budget ends Mon 1 Sep 17:00.
    assert_same_local(CAL.add_working_hours(start, 16), vn(date(2025, 9, 1), 17, 0))


def test_received_on_saturday_counts_from_monday_opening() -> None:
    assert_same_local(CAL.counting_start(vn(SAT, 9, 0), 40), vn(NEXT_MON, 7, 30))
    # Also for a same-day procedure: the cutoff rule only applies to working days.
    assert_same_local(CAL.counting_start(vn(SAT, 16, 0), 4), vn(NEXT_MON, 7, 30))
    # Sat counting from Mon 07:30: 4 h -> Mon 11:30
    assert_same_local(CAL.add_working_hours(vn(SAT, 9, 0), 4), vn(NEXT_MON, 11, 30))


def test_received_at_lunch_counts_from_afternoon_opening() -> None:
    assert_same_local(CAL.counting_start(vn(MON, 12, 0), 40), vn(MON, 13, 0))
    # 13:00 + 2 h = 15:00
    assert_same_local(CAL.add_working_hours(vn(MON, 12, 0), 2), vn(MON, 15, 0))


def test_extra_working_saturday_counts() -> None:
    cal = WorkingCalendar(tz=VN, extra_working_days=frozenset({SAT}))
    assert cal.is_working_day(SAT)
    # Fri 13:00-17:00 = 4 h; Sat 07:30-11:30 = 4 h -> 8 h at Sat 11:30
    assert_same_local(cal.add_working_hours(vn(FRI, 13, 0), 8), vn(SAT, 11, 30))
    # Without it: Fri 4 h, then Mon 07:30-11:30 = 4 h -> Mon 11:30
    assert_same_local(CAL.add_working_hours(vn(FRI, 13, 0), 8), vn(NEXT_MON, 11, 30))


def test_extra_working_day_wins_over_day_off() -> None:
    cal = WorkingCalendar(tz=VN, days_off=frozenset({SAT, MON}), extra_working_days=frozenset({SAT, MON}))
    assert cal.is_working_day(SAT)
    assert cal.is_working_day(MON)
    assert not WorkingCalendar(tz=VN, days_off=frozenset({MON})).is_working_day(MON)


def test_same_day_rule_after_cutoff_moves_to_next_morning() -> None:
    received = vn(MON, 15, 30)
    start = CAL.counting_start(received, 4)
    assert_same_local(start, vn(TUE, 7, 30))
    # Tue 07:30 + 4 h = 11:30
    assert_same_local(CAL.add_working_hours(start, 4), vn(TUE, 11, 30))


def test_same_day_rule_cutoff_is_inclusive() -> None:
    # 15:00:00 exactly counts as "at or after" the cutoff.
    assert_same_local(CAL.counting_start(vn(MON, 15, 0), 8), vn(TUE, 7, 30))


def test_same_day_rule_before_cutoff_counts_immediately() -> None:
    received = vn(MON, 14, 59)
    start = CAL.counting_start(received, 4)
    assert_same_local(start, received)
    # Mon 14:59-17:00 = 2 h 01 min; 1 h 59 min left; Tue 07:30 + 1:59 = 09:29
    assert_same_local(CAL.add_working_hours(start, 4), vn(TUE, 9, 29))


def test_long_procedure_not_affected_by_cutoff() -> None:
    received = vn(MON, 15, 30)
    start = CAL.counting_start(received, 40)
    assert_same_local(start, received)
    # Mon 15:30-17:00 = 1.5 h; Tue..Fri 32 h -> 33.5 h; 6.5 h left:
    # next Mon 07:30-11:30 = 4 h, 13:00-15:30 = 2.5 h -> next Mon 15:30
    assert_same_local(CAL.add_working_hours(start, 40), vn(NEXT_MON, 15, 30))


def test_same_day_rule_after_cutoff_skips_holidays() -> None:
    cal = WorkingCalendar(tz=VN, days_off=NATIONAL_DAY_2025)
    # Fri 29 Aug 16:00 -> next working day is Wed 3 Sep.
    assert_same_local(cal.counting_start(vn(date(2025, 8, 29), 16, 0), 8), vn(date(2025, 9, 3), 7, 30))


def test_next_opening_edges() -> None:
    assert_same_local(CAL.next_opening(vn(MON, 11, 30)), vn(MON, 13, 0))
    assert_same_local(CAL.next_opening(vn(MON, 7, 0)), vn(MON, 7, 30))
    assert_same_local(CAL.next_opening(vn(MON, 17, 0)), vn(TUE, 7, 30))
    assert_same_local(CAL.next_opening(vn(FRI, 18, 0)), vn(NEXT_MON, 7, 30))
    inside = vn(MON, 9, 15, 42)
    assert_same_local(CAL.next_opening(inside), inside)


def test_is_working_instant_half_open() -> None:
    assert CAL.is_working_instant(vn(MON, 7, 30))
    assert CAL.is_working_instant(vn(MON, 11, 29, 59))
    assert not CAL.is_working_instant(vn(MON, 11, 30))
    assert not CAL.is_working_instant(vn(MON, 7, 29, 59))
    assert not CAL.is_working_instant(vn(SAT, 9, 0))


def test_other_offsets_are_converted_to_local() -> None:
    # 00:30 UTC = 07:30 in Hanoi (+07:00)
    start = datetime(2025, 6, 2, 0, 30, tzinfo=UTC)
    due = CAL.add_working_hours(start, 4)
    assert_same_local(due, vn(MON, 11, 30))
    # Sun 23:00 UTC-05:00 = Mon 11:00 in Hanoi; 0.5 h -> 11:30
    sunday_ny = datetime(2025, 6, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert_same_local(CAL.add_working_hours(sunday_ny, 0.5), vn(MON, 11, 30))


def test_zero_hours_returns_start_unchanged() -> None:
    outside = vn(SAT, 20, 0)
    assert_same_local(CAL.add_working_hours(outside, 0), outside)
    utc_start = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    result = CAL.add_working_hours(utc_start, 0)
    assert result == utc_start
    assert result.tzinfo is VN


def test_fractional_hours() -> None:
    # 07:30 + 0.5 h = 08:00
    assert_same_local(CAL.add_working_hours(vn(MON, 7, 30), 0.5), vn(MON, 8, 0))
    assert CAL.working_hours_between(vn(MON, 7, 30), vn(MON, 8, 0)) == 0.5


def test_working_hours_between_examples() -> None:
    assert CAL.working_hours_between(vn(MON, 17, 0), vn(MON, 7, 30)) == 0.0
    assert CAL.working_hours_between(vn(MON, 7, 30), vn(MON, 7, 30)) == 0.0
    # Mon 10:00 -> Tue 10:00: 1.5 + 4 + 2.5 = 8 h
    assert CAL.working_hours_between(vn(MON, 10, 0), vn(TUE, 10, 0)) == 8.0
    # Fri 14:00 -> next Fri 14:00: 40 h (see test_forty_hours_across_weekend)
    assert CAL.working_hours_between(vn(FRI, 14, 0), vn(NEXT_FRI, 14, 0)) == 40.0


def test_next_working_day() -> None:
    assert CAL.next_working_day(MON) == TUE
    assert CAL.next_working_day(FRI) == NEXT_MON
    assert CAL.next_working_day(SAT) == NEXT_MON
    cal = WorkingCalendar(tz=VN, days_off=NATIONAL_DAY_2025)
    assert cal.next_working_day(date(2025, 8, 29)) == date(2025, 9, 3)


def test_large_budget_is_fast_and_consistent() -> None:
    # 10,000 h = 1,250 working days of 8 h; ending exactly at a day's close.
    start = vn(MON, 7, 30)
    due = CAL.add_working_hours(start, 10_000)
    assert due.time() == time(17, 0)
    assert CAL.working_hours_between(start, due) == 10_000.0
    # 1,250 working days = 250 whole weeks -> the Friday 250 weeks later.
    assert due.date() == FRI + timedelta(weeks=249)


def test_custom_office_hours() -> None:
    cal = WorkingCalendar(tz=VN, office_hours=((time(8, 0), time(12, 0)),))
    assert cal.hours_per_day == 4.0
    # 08:00 + 6 h: Mon 08:00-12:00 (4 h), Tue 08:00-10:00 (2 h) -> Tue 10:00
    assert_same_local(cal.add_working_hours(vn(MON, 8, 0), 6), vn(TUE, 10, 0))


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "office_hours",
    [
        (),
        ((time(11, 30), time(7, 30)),),
        ((time(9, 0), time(9, 0)),),
        ((time(13, 0), time(17, 0)), (time(7, 30), time(11, 30))),
        ((time(7, 30), time(12, 0)), (time(11, 0), time(17, 0))),
        ((time(7, 30, tzinfo=UTC), time(11, 30, tzinfo=UTC)),),
    ],
)
def test_bad_office_hours_rejected(office_hours: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(tz=VN, office_hours=office_hours)


def test_touching_intervals_allowed() -> None:
    cal = WorkingCalendar(tz=VN, office_hours=((time(8, 0), time(10, 0)), (time(10, 0), time(12, 0))))
    assert cal.hours_per_day == 4.0


@pytest.mark.parametrize("hours", [-1.0, -1e-9, float("nan"), float("inf")])
def test_bad_hours_rejected(hours: float) -> None:
    with pytest.raises(ValueError):
        CAL.add_working_hours(vn(MON, 8, 0), hours)


def test_negative_deadline_rejected() -> None:
    with pytest.raises(ValueError):
        CAL.counting_start(vn(MON, 8, 0), -1)


def test_naive_datetime_rejected() -> None:
    naive = datetime(2025, 6, 2, 8, 0)
    with pytest.raises(ValueError):
        CAL.add_working_hours(naive, 1)
    with pytest.raises(ValueError):
        CAL.next_opening(naive)
    with pytest.raises(ValueError):
        CAL.working_hours_between(naive, naive + timedelta(hours=1))


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

PROPS = settings(max_examples=200, deadline=None)
TOL = 1e-6

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=7)),
    VN,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
]

instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from(ZONES),
)
# Days off dense enough to hit the range where instants live.
date_sets = st.frozensets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=40)
hours = st.integers(min_value=0, max_value=500 * 60).map(lambda minutes: minutes / 60)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    days_off = draw(date_sets)
    # Make-up days are rare in practice; also allow overlap with days_off.
    extra = draw(st.frozensets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=5))
    overlap = draw(st.booleans())
    if overlap and days_off:
        extra |= {draw(st.sampled_from(sorted(days_off)))}
    return WorkingCalendar(tz=VN, days_off=days_off, extra_working_days=extra)


def reference_between(cal: WorkingCalendar, start: datetime, end: datetime) -> float:
    """Slow day-by-day oracle, independent of the arithmetic day counting."""
    if end <= start:
        return 0.0
    s, e = start.astimezone(VN), end.astimezone(VN)
    total = timedelta()
    day = s.date()
    while day <= e.date():
        if cal.is_working_day(day):
            for lo, hi in cal.office_hours:
                a = max(vn(day, lo.hour, lo.minute), s)
                b = min(vn(day, hi.hour, hi.minute), e)
                if b > a:
                    total += b - a
        day += timedelta(days=1)
    return total / timedelta(hours=1)


@PROPS
@given(cal=calendars(), start=instants, h=hours)
def test_prop_between_inverts_add(cal: WorkingCalendar, start: datetime, h: float) -> None:
    due = cal.add_working_hours(start, h)
    assert abs(cal.working_hours_between(start, due) - h) <= TOL


@PROPS
@given(cal=calendars(), start=instants, h=hours.filter(lambda x: x > 0))
def test_prop_result_lands_inside_office_hours(cal: WorkingCalendar, start: datetime, h: float) -> None:
    due = cal.add_working_hours(start, h)
    assert due.tzinfo is VN
    local_day = due.date()
    assert cal.is_working_day(local_day)
    assert local_day.weekday() < 5 or local_day in cal.extra_working_days
    assert local_day not in cal.days_off or local_day in cal.extra_working_days
    t = due.time()
    # Earliest-instant semantics: in (start, end] of some interval.
    assert any(lo < t <= hi for lo, hi in cal.office_hours)


@PROPS
@given(cal=calendars(), start=instants, h1=hours, h2=hours)
def test_prop_add_is_monotone(cal: WorkingCalendar, start: datetime, h1: float, h2: float) -> None:
    lo, hi = sorted((h1, h2))
    assert cal.add_working_hours(start, lo) <= cal.add_working_hours(start, hi)


@PROPS
@given(cal=calendars(), points=st.lists(instants, min_size=3, max_size=3))
def test_prop_between_is_additive(cal: WorkingCalendar, points: list[datetime]) -> None:
    a, b, c = sorted(points)
    ab = cal.working_hours_between(a, b)
    bc = cal.working_hours_between(b, c)
    assert abs(ab + bc - cal.working_hours_between(a, c)) <= TOL


@PROPS
@given(cal=calendars(), start=instants, h=hours)
def test_prop_result_not_before_start(cal: WorkingCalendar, start: datetime, h: float) -> None:
    assert cal.add_working_hours(start, h) >= start


@PROPS
@given(
    cal=calendars(),
    start=instants,
    span=st.integers(min_value=-3 * 24 * 60, max_value=40 * 24 * 60),
)
def test_prop_between_matches_day_by_day_oracle(cal: WorkingCalendar, start: datetime, span: int) -> None:
    end = start + timedelta(minutes=span)
    assert abs(cal.working_hours_between(start, end) - reference_between(cal, start, end)) <= TOL


@PROPS
@given(cal=calendars(), at=instants)
def test_prop_next_opening(cal: WorkingCalendar, at: datetime) -> None:
    opening = cal.next_opening(at)
    assert opening >= at
    assert cal.is_working_instant(opening)
    # Nothing workable is skipped between `at` and the opening.
    assert cal.working_hours_between(at, opening) == 0.0
    if cal.is_working_instant(at):
        assert opening == at


@PROPS
@given(cal=calendars(), received=instants, deadline=hours)
def test_prop_counting_start(cal: WorkingCalendar, received: datetime, deadline: float) -> None:
    start = cal.counting_start(received, deadline)
    assert start >= received
    assert cal.is_working_instant(start)
    local = received.astimezone(VN)
    late_same_day = (
        deadline <= cal.hours_per_day
        and cal.is_working_day(local.date())
        and local.time() >= cal.same_day_cutoff
    )
    if late_same_day:
        assert start.date() == cal.next_working_day(local.date())
        assert start.time() == cal.office_hours[0][0]
    else:
        assert start == cal.next_opening(received)
