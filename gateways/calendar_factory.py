"""Builds the domain's working calendar from settings and the `holidays` package (VN)."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

import holidays

from domain.calendar import WorkingCalendar
from gateways.settings import Settings


def build_calendar(settings: Settings) -> WorkingCalendar:
    years = range(settings.holiday_first_year, settings.holiday_last_year + 1)
    vn = holidays.country_holidays("VN", years=years)
    # The package also knows decreed make-up Saturdays; they are working days.
    make_up = set(getattr(vn, "weekend_workdays", set()))
    return WorkingCalendar(
        tz=ZoneInfo(settings.timezone),
        office_hours=settings.office_intervals(),
        days_off=frozenset(vn) | frozenset(settings.extra_days_off),
        extra_working_days=frozenset(make_up | set(settings.extra_working_days)),
        same_day_cutoff=time.fromisoformat(settings.same_day_cutoff),
    )
