"""Report ranges as the HTTP API and the CLI take them: dates or instants, or a reporting period."""

from __future__ import annotations

import re
from datetime import date, datetime

from domain.errors import InvalidValue
from projections import sla

# --- what the HTTP API and the CLI share: ranges in, JSON out -------------------------------

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


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
    """`from`/`to` (dates or instants), or `period=YYYY-MM`; neither: the current period."""
    if period is not None and (first is not None or last is not None):
        raise InvalidValue("give either period=YYYY-MM or from and to, not both")
    if (first is None) != (last is None):
        raise InvalidValue("from and to go together (or give period=YYYY-MM)")
    if first is not None and last is not None:
        return _bound(first, "from"), _bound(last, "to"), None
    if period is None:
        year, month = sla.period_of(today)
    else:
        match = _PERIOD.fullmatch(period.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise InvalidValue(f"period must be YYYY-MM (e.g. 2026-03: 15 Feb to 14 Mar), not '{period}'")
        year, month = int(match.group(1)), int(match.group(2))
    start, end = sla.reporting_period(year, month)
    return start, end, f"{year:04d}-{month:02d}"
