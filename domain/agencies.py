"""Agencies and the effective-dated hierarchy (cơ quan, cấp hành chính).

The hierarchy is data, not code: an agency's record is versioned by `valid_from`
so the 2025-07-01 abolition of the district level is a new version of each ward
(parent: the province) while history keeps the three-level version.

Succession (kế thừa): an agency version that ends (`valid_to` set) may name its
successors, the agencies that take over its dossiers and its route steps::

    Agency(code="000.02.62.H29", ..., valid_to=date(2025, 6, 30),
           successors=(Successor("000.21.99.H29", date(2025, 7, 1), share=0.7),
                       Successor("000.22.99.H29", date(2025, 7, 1), share=0.3)))

- `code`: the successor agency (it must exist on `valid_from`);
- `valid_from`: the cutover day; the successor takes over at 00:00 local that day
  (normally the day after the ended agency's `valid_to`);
- `share`: the share of the ended agency's territory it takes, in (0, 1]; 1.0 when one
  agency takes everything; None (omitted) when the legal text gives no figure. Known
  shares of one version sum to at most 1.
- the **first** successor is the default heir: open dossiers and route steps move to it,
  unless the dossier's own receiving desk has an heir among the successors (a district
  split into many wards hands a dossier to the ward that serves it) — see
  `Hierarchy.heir_on`. List the largest share first unless the legal text names another heir.

A chain is followed (a ward ended 2025-02-28 whose successor ended 2025-06-30 resolves
to the successor's successor on a later day). Only the ending version carries
successors; other versions keep `successors=()`.

Catalogue JSON (seed files, `PUT /api/v1/agencies/{code}`): each agency version is::

    {"code": "000.02.62.H29", "name": "...", "level": "commune",
     "parent_code": "000.00.63.H29", "valid_from": "2021-01-01", "valid_to": "2025-06-30",
     "successors": [{"code": "000.21.99.H29", "valid_from": "2025-07-01", "share": 0.7},
                    {"code": "000.22.99.H29", "valid_from": "2025-07-01", "share": 0.3}],
     "basis": "Nghị quyết 1685/NQ-UBTVQH15"}

`successors` may be omitted (= none) and `share` may be omitted or null (= not known).
`basis` is the legal basis of the ending (free text, may be empty); it is copied into
the succession events (`HolderSucceeded`) recorded at the cutover.
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


# Shares are fractions; anything below this is rounding noise.
_SHARE_EPSILON = 1e-6


@dataclass(frozen=True)
class Successor:
    """An agency taking over (part of) an ended agency from `valid_from` (00:00 local)."""

    code: str
    valid_from: date
    share: float | None = None  # share of the territory taken over; None = not known

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise InvalidValue("successor code must not be empty")
        if self.share is not None and not 0 < self.share <= 1 + _SHARE_EPSILON:
            raise InvalidValue(f"successor {self.code}: share must be in (0, 1]")


@dataclass(frozen=True)
class Agency:
    """One version of an agency; `valid_from`/`valid_to` are inclusive dates, None = open."""

    code: str
    name: str
    level: AgencyLevel
    parent_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    successors: tuple[Successor, ...] = ()
    basis: str = ""  # legal basis of the ending (căn cứ pháp lý), copied into succession events

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise InvalidValue("agency code must not be empty")
        if self.successors:
            if self.valid_to is None:
                raise InvalidValue(f"agency {self.code}: only an agency that ends (valid_to) has successors")
            codes = [s.code for s in self.successors]
            if self.code in codes:
                raise InvalidValue(f"agency {self.code} cannot succeed itself")
            if len(set(codes)) != len(codes):
                raise InvalidValue(f"agency {self.code}: a successor is named twice")
            if any(s.valid_from <= self.valid_to for s in self.successors):
                raise InvalidValue(f"agency {self.code}: a successor starts on or before valid_to")
            if sum(s.share or 0.0 for s in self.successors) > 1 + _SHARE_EPSILON:
                raise InvalidValue(f"agency {self.code}: successors' shares sum to more than 1")
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

    def ended_version(self, code: str, day: date) -> Agency | None:
        """The version of `code` that had ended before `day` and names successors, if any
        (the latest such version: an agency may end, be re-created and end again)."""
        for agency in reversed(self._versions.get(code, ())):
            if agency.valid_to is not None and agency.valid_to < day and agency.successors:
                return agency
        return None

    def successor_on(self, code: str, day: date) -> str:
        """The agency that acts for `code` on `day`: `code` itself while it is in force (or
        when it names no successor), else its default heir on that day, following chains
        (A ended -> B, B ended -> C gives C). Cycles are cut."""
        return self.heir_on(code, day)

    def heir_on(self, code: str, day: date, prefer: Iterable[str] = ()) -> str:
        """`successor_on`, choosing among several successors the first of `prefer` that is
        one of them (e.g. the heir of the dossier's receiving desk), else the first named."""
        preferred = list(prefer)
        seen = {code}
        current = code
        while self.on(current, day) is None:
            ended = self.ended_version(current, day)
            if ended is None:
                break
            heirs = [s.code for s in ended.successors if s.valid_from <= day]
            if not heirs:
                break
            chosen = next((p for p in preferred if p in heirs), heirs[0])
            if chosen in seen:
                break
            current = chosen
            seen.add(current)
        return current

    def successors_of(self, code: str) -> list[Successor]:
        """Every successor any version of `code` names, in order."""
        return [s for version in self._versions.get(code, ()) for s in version.successors]

    def _succeeded_by(self, default_heir_only: bool) -> dict[str, set[str]]:
        """successor code -> the agencies it directly succeeded (every version read once)."""
        direct: dict[str, set[str]] = {}
        for agency in self:
            named = agency.successors[:1] if default_heir_only else agency.successors
            for successor in named:
                direct.setdefault(successor.code, set()).add(agency.code)
        return direct

    @staticmethod
    def _chain(direct: dict[str, set[str]], code: str) -> set[str]:
        result: set[str] = set()
        todo = [code]
        while todo:
            for predecessor in direct.get(todo.pop(), ()):
                if predecessor not in result and predecessor != code:
                    result.add(predecessor)
                    todo.append(predecessor)
        return result

    def predecessors_ever(self, code: str, default_heir_only: bool = False) -> set[str]:
        """Agencies that were succeeded by `code`, directly or through a chain; with
        `default_heir_only`, only those whose default heir (first successor) it is, so that
        each ended agency rolls up under exactly one successor."""
        return self._chain(self._succeeded_by(default_heir_only), code)

    def predecessors_of_any(self, codes: Iterable[str], default_heir_only: bool = False) -> set[str]:
        """`predecessors_ever` of each of `codes`, together. The successions are read once, not
        once per code: a province's subtree has hundreds of codes, the country ~14,000 versions."""
        direct = self._succeeded_by(default_heir_only)
        found: set[str] = set()
        for code in codes:
            found |= self._chain(direct, code)
        return found

    def rollup_ever(self, root: str) -> set[str]:
        """`subtree_ever(root)` and the ended agencies whose default heir is in it (directly or
        by chain): what a supervisor of `root` sees, each ended agency under one successor."""
        found = self.subtree_ever(root)
        return found | self.predecessors_of_any(found, default_heir_only=True)

    def cutover_days(self) -> list[date]:
        """Every day on which some agency hands over to a successor, in order."""
        return sorted({s.valid_from for a in self for s in a.successors})

    def with_version(self, agency: Agency) -> Hierarchy:
        """A new hierarchy with `agency` added, replacing a version with the same valid_from."""
        kept = [a for a in self if not (a.code == agency.code and a.valid_from == agency.valid_from)]
        return Hierarchy([*kept, agency])
