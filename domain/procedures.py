"""Administrative procedures (thủ tục hành chính) and their inter-level routes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.errors import InvalidValue

# Budgets are compared in working hours; anything below a second is rounding noise.
_EPSILON_HOURS = 1 / 3600


class SupplementPolicy(StrEnum):
    RESTART = "restart"  # the full deadline counts again from the complete dossier
    PAUSE = "pause"  # the clock stops while the citizen supplements


@dataclass(frozen=True)
class RouteStep:
    """One step of a route: the agency that works on it and its budget."""

    agency_code: str
    budget_working_hours: float

    def __post_init__(self) -> None:
        if self.budget_working_hours <= 0:
            raise InvalidValue(f"route step at {self.agency_code}: budget must be positive working hours")


@dataclass(frozen=True)
class Procedure:
    """One version of a procedure of the catalogue. The first route step receives, the last
    returns.

    A procedure is versioned by `valid_from` (inclusive; None = since ever): a new version
    with a later `valid_from` changes its route, budgets, fee, field (and components) from
    that day on. A dossier keeps the version in force on the day it was received
    (`DossierReceived.procedure_version`), so later versions never rewrite it.
    """

    code: str
    name: str
    field: str
    deadline_working_hours: float
    supplement_policy: SupplementPolicy
    route: tuple[RouteStep, ...]
    valid_from: date | None = None
    fee_vnd: int = 0  # lệ phí, per dossier; 0 = free

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise InvalidValue("procedure code must not be empty")
        if self.deadline_working_hours <= 0:
            raise InvalidValue(f"procedure {self.code}: deadline must be positive")
        if self.fee_vnd < 0:
            raise InvalidValue(f"procedure {self.code}: the fee must not be negative")
        if not self.route:
            raise InvalidValue(f"procedure {self.code}: the route needs at least one step")
        total = sum(step.budget_working_hours for step in self.route)
        if abs(total - self.deadline_working_hours) > _EPSILON_HOURS:
            raise InvalidValue(
                f"procedure {self.code}: step budgets sum to {total:g} working hours "
                f"but the deadline is {self.deadline_working_hours:g}"
            )

    @property
    def receiving_agency_code(self) -> str:
        return self.route[0].agency_code

    @property
    def is_inter_level(self) -> bool:
        return len({step.agency_code for step in self.route}) > 1


def version_on(versions: Iterable[Procedure], day: date) -> Procedure | None:
    """The version in force on `day`: the latest whose `valid_from` is on or before it."""
    best: Procedure | None = None
    for version in versions:
        start = version.valid_from or date.min
        if start <= day and (best is None or start >= (best.valid_from or date.min)):
            best = version
    return best
