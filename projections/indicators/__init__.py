"""Service indicators (Bộ chỉ số phục vụ người dân, doanh nghiệp — Decision 766/QĐ-TTg of
2022) measured from the dossier events, per receiving desk.

- `fold` — each event is a tally or none (`columns_of`): received by channel, resolved by
  timeliness, closed without result, returned, fees requested and paid, satisfaction ratings.
  A dossier remembers only its desk and whether it is imported history.
- `measures` — summed tallies to indicators (ratios with numerator and denominator), and the
  indicators the stream cannot measure yet, with the reason.
"""

from projections.indicators.fold import DossierFacts, Tally, apply, columns_of, fold_batch
from projections.indicators.measures import (
    COLUMNS,
    DEFINITIONS,
    NOT_MEASURABLE,
    Definition,
    Indicator,
    indicators,
)

__all__ = [
    "COLUMNS",
    "DEFINITIONS",
    "NOT_MEASURABLE",
    "Definition",
    "DossierFacts",
    "Indicator",
    "Tally",
    "apply",
    "columns_of",
    "fold_batch",
    "indicators",
]
