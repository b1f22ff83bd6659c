"""Administrative procedures (thủ tục hành chính) and their inter-level routes."""

from __future__ import annotations

from dataclasses import dataclass
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
    """A procedure of the catalogue. The first route step receives, the last returns."""

    code: str
    name: str
    field: str
    deadline_working_hours: float
    supplement_policy: SupplementPolicy
    route: tuple[RouteStep, ...]

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise InvalidValue("procedure code must not be empty")
        if self.deadline_working_hours <= 0:
            raise InvalidValue(f"procedure {self.code}: deadline must be positive")
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
