"""Vietnam's provinces and communes, before and after the 2025-07-01 reform, with successors.

Read at seed time from two pinned packages (see docs/decisions.md):

- `vietnam-provinces` — the current units: 34 provinces and 3,321 communes, with the codes
  and names of the national statistics office's list (mã đơn vị hành chính).
- `vietnamadminunits` — the former units (63 provinces, their districts and communes, as they
  stood before the reform) and which new commune each former commune went to: a former
  commune that went whole to one new commune, or was split between several, with the one the
  package names as the default.

Agency codes are the statistics codes, dotted by era so a former unit never shares a code with
its successor (the office reused some codes): a province is `79`; before the reform a
district is `79.760` and a commune `79.760.26734`; after it a commune is `79.26734`.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import metadata, resources
from typing import Any

import orjson

from domain.agencies import Agency, AgencyLevel, Successor
from gateways.catalogue import successors_to_json

REFORM_DAY = date(2025, 7, 1)  # the district level ends; 34 provinces
# The National Assembly's resolution that merged the provinces (of 12 June 2025). The communes
# were rearranged by one resolution of its Standing Committee per province, which the packages
# do not name: those endings carry no basis.
PROVINCES_BASIS = "Nghị quyết số 202/2025/QH15 của Quốc hội về sắp xếp đơn vị hành chính cấp tỉnh"
LAST_DAY_BEFORE = REFORM_DAY - timedelta(days=1)
SOURCES = ("vietnam-provinces", "vietnamadminunits")


@dataclass(frozen=True)
class Unit:
    """One version of one administrative unit, with its successors when it ends."""

    code: str
    name: str
    level: AgencyLevel
    parent_code: str | None
    valid_from: date | None
    valid_to: date | None
    statistics_code: str
    successors: tuple[Successor, ...] = ()
    basis: str = ""  # legal basis of the ending, where it is known (căn cứ pháp lý)

    @property
    def agency_name(self) -> str:
        """The agency is the unit's People's Committee (Ủy ban nhân dân)."""
        return f"Ủy ban nhân dân {inline_name(self.name)}"

    def catalogue_json(self) -> dict[str, Any]:
        """This version in the catalogue's JSON format for agencies with successors (the
        `succession` branch's seed files and `PUT /api/v1/agencies/{code}`)."""
        body: dict[str, Any] = {
            "code": self.code,
            "name": self.agency_name,
            "level": self.level.value,
            "parent_code": self.parent_code,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
        }
        if self.successors:
            body["successors"] = successors_to_json(self.successors)
            body["basis"] = self.basis
        return body

    def agency(self) -> Agency:
        return Agency(
            code=self.code,
            name=self.agency_name,
            level=self.level,
            parent_code=self.parent_code,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            successors=self.successors,
            basis=self.basis,
        )


@dataclass
class Country:
    """Every unit version, by kind, and lookups the demo and the tests need."""

    provinces: list[Unit] = field(default_factory=list)  # after the reform (34)
    communes: list[Unit] = field(default_factory=list)  # after the reform (3,321)
    former_provinces: list[Unit] = field(default_factory=list)  # before it (63)
    former_districts: list[Unit] = field(default_factory=list)
    former_communes: list[Unit] = field(default_factory=list)

    def units(self) -> Iterator[Unit]:
        yield from self.former_provinces
        yield from self.provinces
        yield from self.former_districts
        yield from self.former_communes
        yield from self.communes

    def agencies(self) -> Iterator[Agency]:
        for unit in self.units():
            yield unit.agency()

    def catalogue_json(self) -> dict[str, Any]:
        """Every version, with successors, and where the data came from."""
        return {
            "source": {name: metadata.version(name) for name in SOURCES},
            "agencies": [unit.catalogue_json() for unit in self.units()],
        }

    def province(self, code: str) -> Unit | None:
        return next((p for p in self.provinces if p.code == code), None)


def inline_name(name: str) -> str:
    """'Phường Sài Gòn' -> 'phường Sài Gòn' after a noun; 'Quận 1' and 'Thành phố …' (a city
    under the central government) keep their capital, as the committees write them."""
    words = name.split()
    if name.startswith("Thành phố") and len(words) > 2 and not words[2][:1].islower():
        return name
    if len(words) > 1 and words[-1].isdigit():
        return name
    return name[:1].lower() + name[1:]


def province_code(text: str) -> str:
    return f"{int(text):02d}"


def _fold(name: str) -> str:
    """A name without accents, case or spacing: the packages place some tone marks differently."""
    text = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in text.lower() if ch.isalnum() and not unicodedata.combining(ch))


def _current() -> list[dict[str, Any]]:
    data = resources.files("vietnam_provinces").joinpath("data/nested-divisions.json").read_bytes()
    provinces: list[dict[str, Any]] = orjson.loads(data)
    return provinces


def _converter() -> dict[str, Any]:
    data = resources.files("vietnamadminunits").joinpath("data/converter_2025.json").read_bytes()
    converter: dict[str, Any] = orjson.loads(data)
    return converter


def _rows(sql: str) -> list[sqlite3.Row]:
    path = resources.files("vietnamadminunits").joinpath("data/dataset.db")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()


def _province_name(division_type: str, name: str) -> str:
    return name if name.lower().startswith(("tỉnh", "thành phố")) else f"{division_type.capitalize()} {name}"


@cache
def load_country() -> Country:
    """The whole country as the pinned packages hold it (read once per process)."""
    country = Country()
    current = _current()
    # vietnamadminunits' keys of the new communes, to the statistics codes of vietnam-provinces.
    by_name: dict[tuple[str, str], str] = {}
    by_fold: dict[tuple[str, str], list[str]] = {}
    new_province_code: dict[str, str] = {}
    for p in current:
        code = province_code(p["code"])
        name = _province_name(p["division_type"], p["name"])
        country.provinces.append(Unit(code, name, AgencyLevel.PROVINCE, None, REFORM_DAY, None, code))
        for w in p["wards"]:
            ward = f"{int(w['code']):05d}"
            country.communes.append(
                Unit(f"{code}.{ward}", w["name"], AgencyLevel.COMMUNE, code, REFORM_DAY, None, ward)
            )
            by_name[(code, w["name"])] = ward
            by_fold.setdefault((code, _fold(w["name"])), []).append(ward)
    key_to_code: dict[tuple[str, str], str] = {}  # (new province key, new ward key) -> agency code
    for r in _rows("SELECT provinceKey, provinceCode, ward, wardKey, wardCode FROM admin_units"):
        code = province_code(r["provinceCode"])
        new_province_code[r["provinceKey"]] = code
        found = by_name.get((code, r["ward"]))
        if found is None:
            folded = by_fold.get((code, _fold(r["ward"])), [])
            found = folded[0] if len(folded) == 1 else (r["wardCode"] if r["wardCode"] in folded else None)
        if found is None:
            raise LookupError(f"{r['ward']} ({code}) of vietnamadminunits is not in vietnam-provinces")
        key_to_code[(r["provinceKey"], r["wardKey"])] = f"{code}.{found}"

    converter = _converter()
    old_to_new_province = {
        old: new_province_code[new] for new, olds in converter["DICT_PROVINCE"].items() for old in olds
    }
    # Former commune key "province_district_ward" -> [(new commune code, is default)]
    heirs: dict[str, list[tuple[str, bool]]] = {}
    for new_province, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward, olds in wards.items():
            for old in olds:
                heirs[old] = [(key_to_code[(new_province, new_ward)], True)]
    for new_province, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in olds.items():
            ranked = sorted(parts, key=lambda part: not part["isDefaultNewWard"])
            heirs[old] = [
                (key_to_code[(new_province, part["newWardKey"])], part["isDefaultNewWard"]) for part in ranked
            ]

    legacy = _rows(
        "SELECT province, provinceKey, provinceCode, district, districtKey, districtCode, "
        "ward, wardKey, wardCode FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    )
    surviving = {p.code: p for p in country.provinces}
    seen_provinces: set[str] = set()
    district_heirs: dict[str, Counter[str]] = {}
    district_rows: dict[str, sqlite3.Row] = {}
    for r in legacy:
        old_province = province_code(r["provinceCode"])
        if old_province not in seen_provinces:
            seen_provinces.add(old_province)
            heir = old_to_new_province[r["provinceKey"]]
            country.former_provinces.append(
                Unit(
                    old_province,
                    r["province"],
                    AgencyLevel.PROVINCE,
                    None,
                    None,
                    LAST_DAY_BEFORE,
                    old_province,
                    () if old_province in surviving else (Successor(heir, REFORM_DAY, 1.0),),
                    "" if old_province in surviving else PROVINCES_BASIS,
                )
            )
        district = f"{old_province}.{r['districtCode']}"
        district_rows.setdefault(district, r)
        counter = district_heirs.setdefault(district, Counter())
        key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
        parts = heirs.get(key)
        if parts is None:
            raise LookupError(f"no successor for {key} in vietnamadminunits")
        counter[parts[0][0]] += 1
        if r["wardCode"] is None:
            continue  # an island district without communes, now a special zone (đặc khu)
        share = 1.0 if len(parts) == 1 else None
        country.former_communes.append(
            Unit(
                f"{district}.{r['wardCode']}",
                r["ward"],
                AgencyLevel.COMMUNE,
                district,
                None,
                LAST_DAY_BEFORE,
                r["wardCode"],
                tuple(Successor(code, REFORM_DAY, share) for code, _ in parts),
            )
        )
    for district, counter in district_heirs.items():
        r = district_rows[district]
        total = sum(counter.values())
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        country.former_districts.append(
            Unit(
                district,
                r["district"],
                AgencyLevel.DISTRICT,
                district.split(".")[0],
                None,
                LAST_DAY_BEFORE,
                r["districtCode"],
                tuple(Successor(code, REFORM_DAY, n / total) for code, n in ranked),
            )
        )
    return country
