"""Workload profiles calibrated to the seed figures of DOMAIN.md.

- `ward`: one ward's one-stop desk (Thảo Điền, Ho Chi Minh City): its received count and
  on-time rate per year (2009–2013; other years use 2012's), late dossiers caused at the
  upper levels (a superior's direction, a verification at another agency).
- `province`: a province after the 2025 reform, about 1 M dossiers in 4.5 months with
  0.6 % late (Hải Phòng 2025), a tenth of its agencies slow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

# Thảo Điền ward: (received, on time) per year; 2013 is its first half only.
WARD_FIGURES: dict[int, tuple[int, int]] = {
    2009: (19_894, 19_808),
    2010: (22_598, 22_577),
    2011: (23_122, 23_109),
    2012: (26_667, 26_597),
}
WARD_FIRST_HALF_2013 = (15_076, 15_076)


@dataclass(frozen=True)
class Profile:
    name: str
    communes: int
    districts: int
    start: date
    end: date  # exclusive
    dossiers: int  # received at the desks in [start, end)
    late_fraction: float  # of resolved dossiers, all caused at an upper level
    slow_fraction: float  # of agencies above the commune (and of communes) that work slowly
    slow_factor: float = 1.8  # how much longer a slow agency takes over its steps
    supplement: float = 0.05  # dossiers the desk sends back to the citizen for a supplement
    handoff_return: float = 0.03  # handoffs the receiver returns (wrong agency, incomplete)
    consultation: float = 0.03  # steps that ask another agency's opinion
    fee: float = 0.3  # dossiers of paying fields asked for a fee
    withdrawal: float = 0.005
    stop: float = 0.0005
    refusal: float = 0.02  # online submissions refused at intake
    apology: float = 0.6  # late dossiers whose late agency apologises before due

    @property
    def online_share(self) -> float:
        # The national portal came in 2019–2020; before that almost everything was at the desk.
        return 0.55 if self.start.year >= 2020 else 0.04 if self.start.year >= 2012 else 0.0

    def sized(self, dossiers: int | None) -> Profile:
        """The same profile with another volume (benchmarks, tests)."""
        return self if dossiers is None else replace(self, dossiers=dossiers)


def ward(year: int = 2012) -> Profile:
    if year == 2013:
        received, on_time = WARD_FIRST_HALF_2013
        start, end = date(2013, 1, 1), date(2013, 7, 1)
    else:
        received, on_time = WARD_FIGURES.get(year, WARD_FIGURES[2012])
        start, end = date(year, 1, 1), date(year + 1, 1, 1)
    return Profile(
        name="ward",
        communes=1,
        districts=1,
        start=start,
        end=end,
        dossiers=received,
        late_fraction=(received - on_time) / received,
        slow_fraction=0.0,
    )


def province(year: int = 2025) -> Profile:
    # 1.01 M dossiers in 4.5 months, 0.6 % late; on the two-level hierarchy from 2025-07-01.
    start = date(year, 7, 1) if year >= 2025 else date(year, 1, 1)
    end = date(year, 11, 16) if year >= 2025 else date(year, 5, 16)
    return Profile(
        name="province",
        communes=114,
        districts=15,
        start=start,
        end=end,
        dossiers=1_010_000,
        late_fraction=0.006,
        slow_fraction=0.1,
    )


PROFILES = {"ward": ward, "province": province}


def profile(name: str, year: int | None = None) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile '{name}' (one of: {', '.join(PROFILES)})")
    make = PROFILES[name]
    return make() if year is None else make(year)
