"""Agencies and the effective-dated hierarchy (cơ quan, cấp hành chính).

The hierarchy is data, not code: an agency's record is versioned by `valid_from`
so the 2025-07-01 abolition of the district level is a new version of each ward
(parent: the province) while history keeps the three-level version.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.errors import InvalidValue


class AgencyLevel(StrEnum):
    COMMUNE = "commune"  # xã / phường / thị trấn
    DISTRICT = "district"  # huyện / quận / thành phố thuộc tỉnh
    PROVINCE = "province"  # tỉnh / thành phố trực thuộc trung ương
    PROVINCE_DEPARTMENT = "province_department"  # sở
    PROVINCE_CENTRE = "province_centre"  # trung tâm phục vụ hành chính công
    MINISTRY = "ministry"


@dataclass(frozen=True)
class Agency:
    """One version of an agency; `valid_from`/`valid_to` are inclusive dates, None = open."""

    code: str
    name: str
    level: AgencyLevel
    parent_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise InvalidValue("agency code must not be empty")
        if not self.name.strip():
            raise InvalidValue(f"agency {self.code}: name must not be empty")
        if self.parent_code == self.code:
            raise InvalidValue(f"agency {self.code} cannot be its own parent")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise InvalidValue(f"agency {self.code}: valid_to is before valid_from")

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class Hierarchy:
    """All versions of all agencies, answering questions *as of a day*."""

    def __init__(self, versions: Iterable[Agency] = ()) -> None:
        self._versions: dict[str, list[Agency]] = {}
        for agency in versions:
            self._versions.setdefault(agency.code, []).append(agency)
        for history in self._versions.values():
            history.sort(key=lambda a: a.valid_from or date.min)

    def __contains__(self, code: object) -> bool:
        return code in self._versions

    def __iter__(self) -> Iterator[Agency]:
        for history in self._versions.values():
            yield from history

    def codes(self) -> list[str]:
        return sorted(self._versions)

    def history(self, code: str) -> list[Agency]:
        return list(self._versions.get(code, ()))

    def latest(self, code: str) -> Agency | None:
        history = self._versions.get(code)
        return history[-1] if history else None

    def on(self, code: str, day: date) -> Agency | None:
        """The version in force on `day`, else None (the agency did not exist then)."""
        for agency in reversed(self._versions.get(code, ())):
            if agency.valid_on(day):
                return agency
        return None

    def level_on(self, code: str, day: date) -> AgencyLevel | None:
        version = self.on(code, day) or self.latest(code)
        return version.level if version else None

    def ancestors_on(self, code: str, day: date) -> list[str]:
        """Parent, grandparent, … of `code` as of `day` (cycles are cut)."""
        chain: list[str] = []
        seen = {code}
        current = self.on(code, day)
        while current is not None and current.parent_code and current.parent_code not in seen:
            chain.append(current.parent_code)
            seen.add(current.parent_code)
            current = self.on(current.parent_code, day)
        return chain

    def is_within(self, code: str, ancestor: str, day: date) -> bool:
        return code == ancestor or ancestor in self.ancestors_on(code, day)

    def subtree_on(self, root: str, day: date) -> set[str]:
        """`root` and every agency below it as of `day`."""
        return {code for code in self._versions if self.is_within(code, root, day)}

    def subtree_ever(self, root: str) -> set[str]:
        """`root` and every agency that was below it on any day of any version."""
        result = {root}
        for history in self._versions.values():
            for version in history:
                day = version.valid_from or date.min
                if self.is_within(version.code, root, day):
                    result.add(version.code)
        return result

    def with_version(self, agency: Agency) -> Hierarchy:
        """A new hierarchy with `agency` added, replacing a version with the same valid_from."""
        kept = [a for a in self if not (a.code == agency.code and a.valid_from == agency.valid_from)]
        return Hierarchy([*kept, agency])
