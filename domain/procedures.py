"""Administrative procedures (thủ tục hành chính) and their inter-level routes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import pairwise

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


class ComponentForm(StrEnum):
    """Bản chính / bản sao: what the desk must be given of a component."""

    ORIGINAL = "original"  # bản chính
    COPY = "copy"  # bản sao (chứng thực hoặc kèm bản chính để đối chiếu)
    ORIGINAL_OR_COPY = "original_or_copy"


@dataclass(frozen=True)
class Component:
    """One required component of a dossier (thành phần hồ sơ), in force on
    `[effective_from, effective_to]` (None: open-ended)."""

    name: str
    copies: int = 1
    form: ComponentForm = ComponentForm.ORIGINAL
    effective_from: date | None = None
    effective_to: date | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidValue("a component needs a name")
        if self.copies < 1:
            raise InvalidValue(f"component '{self.name}': copies must be at least 1")
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise InvalidValue(f"component '{self.name}': effective_to is before effective_from")

    def in_force_on(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to
        )


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
    components: tuple[Component, ...] = ()

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

        in_force: dict[str, list[Component]] = {}
        for component in self.components:
            in_force.setdefault(component.name.strip(), []).append(component)
        for name, versions in in_force.items():
            spans = sorted((c.effective_from or date.min, c.effective_to or date.max) for c in versions)
            for (_, end), (start, _) in pairwise(spans):
                if start <= end:
                    raise InvalidValue(f"procedure {self.code}: component '{name}' has overlapping versions")

    def components_on(self, day: date) -> tuple[Component, ...]:
        """The components required of a dossier received on `day` (local date)."""
        return tuple(c for c in self.components if c.in_force_on(day))

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
