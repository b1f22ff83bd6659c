"""Report ranges as the HTTP API and the CLI take them: dates or instants, or a reporting period."""

from __future__ import annotations

import re
from datetime import date, datetime

from domain.errors import InvalidValue
from projections import sla

# --- what the HTTP API and the CLI share: ranges in, JSON out -------------------------------

_PERIODS = (
    (re.compile(r"(\d{4})-(\d{2})"), "month"),
    (re.compile(r"(\d{4})-[Qq]([1-4])"), "quarter"),
    (re.compile(r"(\d{4})-[Hh]([12])"), "half"),
    (re.compile(r"(\d{4})-9[Mm]()"), "nine_months"),
    (re.compile(r"(\d{4})()"), "year"),
)
PERIOD_HELP = (
    "reporting period, 15th to 14th: YYYY-MM (month: 2026-03 is 15 Feb to 14 Mar), YYYY-Qn "
    "(quarter: 2026-Q1 is 15 Dec 2025 to 14 Mar 2026), YYYY-H1 / YYYY-H2 (six months), "
    "YYYY-9M (nine months) or YYYY (year: 15 Dec of the year before to 14 Dec)"
)


def parse_period(text: str) -> sla.ReportingPeriod:
    """`2026-03`, `2026-Q1`, `2026-H1`, `2026-9M` or `2026` as a reporting period."""
    for pattern, kind in _PERIODS:
        match = pattern.fullmatch(text.strip())
        if match is not None:
            try:
                return sla.period(kind, int(match.group(1)), int(match.group(2) or 1))
            except ValueError:
                break
    raise InvalidValue(f"period must be one of: {PERIOD_HELP}; not '{text}'")


def _bound(text: str, name: str) -> date | datetime:
    # An unencoded "+07:00" in a query string arrives as " 07:00".
    text = text.strip().replace(" ", "+") if "T" in text else text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidValue(
            f"{name} must be a date (2026-03-14) or an instant with its offset "
            f"(2026-03-14T17:00:00+07:00), not '{text}'"
        )
    return value


def parse_range(
    first: str | None, last: str | None, period: str | None, today: date
) -> tuple[date | datetime, date | datetime, str | None]:
    """`from`/`to` (dates or instants), or a reporting `period` (parse_period); neither: the
    current monthly period. The third value is the period's code, None for a range."""
    if period is not None and (first is not None or last is not None):
        raise InvalidValue("give either period or from and to, not both")
    if (first is None) != (last is None):
        raise InvalidValue("from and to go together (or give a period such as 2026-03 or 2026-Q1)")
    if first is not None and last is not None:
        return _bound(first, "from"), _bound(last, "to"), None
    if period is None:
        year, month = sla.period_of(today)
        chosen = sla.period("month", year, month)
    else:
        chosen = parse_period(period)
    return chosen.first, chosen.last, chosen.code
