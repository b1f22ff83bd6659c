"""Reporting periods of the reporting regime: every period closes on the 14th and the next one
opens on the 15th; a quarter, six months, nine months and a year start on the 15th of the month
before their first month (a year: 15 December of the year before)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest

from domain.errors import InvalidValue
from gateways.views.sla import parse_period, parse_range
from projections import sla


@pytest.mark.parametrize(
    ("text", "first", "last", "label"),
    [
        ("2026-03", date(2026, 2, 15), date(2026, 3, 14), "Tháng 3 năm 2026"),
        ("2026-01", date(2025, 12, 15), date(2026, 1, 14), "Tháng 1 năm 2026"),
        ("2026-12", date(2026, 11, 15), date(2026, 12, 14), "Tháng 12 năm 2026"),
        ("2026-Q1", date(2025, 12, 15), date(2026, 3, 14), "Quý I năm 2026"),
        ("2026-Q2", date(2026, 3, 15), date(2026, 6, 14), "Quý II năm 2026"),
        ("2026-q3", date(2026, 6, 15), date(2026, 9, 14), "Quý III năm 2026"),
        ("2026-Q4", date(2026, 9, 15), date(2026, 12, 14), "Quý IV năm 2026"),
        ("2026-H1", date(2025, 12, 15), date(2026, 6, 14), "6 tháng đầu năm 2026"),
        ("2026-H2", date(2026, 6, 15), date(2026, 12, 14), "6 tháng cuối năm 2026"),
        ("2026-9M", date(2025, 12, 15), date(2026, 9, 14), "9 tháng năm 2026"),
        ("2026", date(2025, 12, 15), date(2026, 12, 14), "Năm 2026"),
        ("2028-Q1", date(2027, 12, 15), date(2028, 3, 14), "Quý I năm 2028"),  # leap year
    ],
)
def test_each_kind_of_period_runs_from_the_15th_to_the_14th(
    text: str, first: date, last: date, label: str
) -> None:
    period = parse_period(text)
    assert (period.first, period.last, period.label) == (first, last, label)
    assert parse_period(period.code) == period  # the code it prints reads back the same


def test_months_quarters_and_halves_tile_the_year_without_gap_or_overlap() -> None:
    for year in (2025, 2026, 2028):
        whole = sla.period("year", year)
        assert whole.label == f"Năm {year}"
        for kind, count in (("month", 12), ("quarter", 4), ("half", 2)):
            parts = [sla.period(kind, year, n) for n in range(1, count + 1)]
            assert all(part.label.endswith(f"năm {year}") for part in parts)
            assert parts[0].first == whole.first and parts[-1].last == whole.last
            for before, after in pairwise(parts):
                assert after.first == before.last + timedelta(days=1)
        # A year's end and the next year's start meet: 14 December, then 15 December.
        assert sla.period("year", year + 1).first == whole.last + timedelta(days=1)


def test_a_period_as_a_report_range_and_what_is_refused() -> None:
    first, last, code = parse_range(None, None, "2026-Q1", date(2026, 8, 1))
    assert (first, last, code) == (date(2025, 12, 15), date(2026, 3, 14), "2026-Q1")
    # Neither range nor period: the current monthly period (15 Jul to 14 Aug on 1 August).
    assert parse_range(None, None, None, date(2026, 8, 1)) == (
        date(2026, 7, 15),
        date(2026, 8, 14),
        "2026-08",
    )
    for wrong in ("2026-13", "2026-Q5", "2026-H3", "26-Q1", "2026-Q", "quý 1"):
        with pytest.raises(InvalidValue, match="YYYY-Qn"):
            parse_period(wrong)
