"""From summed tallies to indicators: each a ratio with its numerator and denominator.

The indicators follow the groups of criteria of Decision 766/QĐ-TTg (2022): progress and
results of handling, online service, digitization, satisfaction (and publicity, which is no
dossier fact). Only what the event stream measures is computed; the others are listed in
`NOT_MEASURABLE` with the reason. No composite score: the official weights and formulas of
the decision's annex could not be confirmed (docs/decisions.md entry 81), so none is made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

COLUMNS = (
    "submitted_online",
    "received",
    "received_online",
    "received_direct",
    "received_postal",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "closed_without_result",
    "returned",
    "fees_requested",
    "fees_paid",
    "rated",
    "rated_very_satisfied",
    "rated_satisfied",
    "rated_not_satisfied",
    "digitized",
    "result_digitized",
)

PROGRESS = "progress"  # tiến độ, kết quả giải quyết
ONLINE = "online"  # cung cấp dịch vụ trực tuyến
PAYMENT = "online_payment"  # thanh toán trực tuyến
DIGITIZATION = "digitization"  # số hóa hồ sơ, kết quả
SATISFACTION = "satisfaction"  # mức độ hài lòng
PUBLICITY = "publicity"  # công khai, minh bạch


@dataclass(frozen=True)
class Definition:
    key: str
    group: str
    numerator: tuple[str, ...]  # columns summed
    denominator: tuple[str, ...]
    title: str


DEFINITIONS = (
    Definition(
        "on_time_rate",
        PROGRESS,
        ("resolved_early", "resolved_on_time"),
        ("resolved",),
        "dossiers resolved early or on time / dossiers resolved",
    ),
    Definition(
        "resolved_per_received",
        PROGRESS,
        ("resolved",),
        ("received",),
        "dossiers resolved / dossiers received in the same range",
    ),
    Definition(
        "online_rate",
        ONLINE,
        ("received_online",),
        ("received",),
        "dossiers received online / dossiers received",
    ),
    Definition(
        "digitization_rate",
        DIGITIZATION,
        ("digitized",),
        ("received",),
        "dossiers whose every required component got a file / dossiers received in the same range",
    ),
    Definition(
        "result_digitization_rate",
        DIGITIZATION,
        ("result_digitized",),
        ("resolved",),
        "results with a result file / dossiers resolved in the same range",
    ),
    Definition(
        "satisfaction_rate",
        SATISFACTION,
        ("rated_very_satisfied", "rated_satisfied"),
        ("rated",),
        "ratings 'very satisfied' or 'satisfied' / ratings",
    ),
    Definition(
        "rating_coverage",
        SATISFACTION,
        ("rated",),
        ("returned",),
        "ratings recorded / results returned in the same range",
    ),
)

NOT_MEASURABLE: Mapping[str, str] = {
    PAYMENT: (
        "FeePaid records that a requested fee was paid, not how (online or at the desk): the share "
        "paid online cannot be measured until the payment event says how it was paid. The counts "
        "of fees requested and paid are shown."
    ),
    PUBLICITY: (
        "Publication of procedures (công khai, minh bạch) is a fact of the procedure catalogue, "
        "not of the dossier event stream."
    ),
}


@dataclass(frozen=True)
class Indicator:
    key: str
    group: str
    title: str
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The ratio, None when nothing was there to count (never a made-up 0 % or 100 %)."""
        return self.numerator / self.denominator if self.denominator else None


def indicators(counts: Mapping[str, int]) -> tuple[Indicator, ...]:
    def total(columns: tuple[str, ...]) -> int:
        return sum(int(counts.get(c, 0)) for c in columns)

    return tuple(
        Indicator(d.key, d.group, d.title, total(d.numerator), total(d.denominator)) for d in DEFINITIONS
    )
