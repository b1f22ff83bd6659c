"""A generated administrative world: a province, its departments (sở), its districts until
the 2025-07-01 reform and its communes (xã/phường), with a procedure catalogue whose
inter-level routes follow the hierarchy in force on the day a dossier arrives.

Before 2025-07-01 a commune's parent is its district and an inter-level route runs
commune → district → department → commune; from that day the district level is gone,
the same commune (a new version of its record) hangs under the province, and the routes
run commune → department → commune, or stay at the commune where the reform moved the
district's work down. Every route names real agencies, so the world keeps one route
variant per district before the reform and one after it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from domain.agencies import Agency, AgencyLevel
from domain.procedures import Procedure, RouteStep, SupplementPolicy

REFORM_DAY = date(2025, 7, 1)  # the district level was abolished on this day
LAST_DISTRICT_DAY = REFORM_DAY - timedelta(days=1)


class Reach(StrEnum):
    """How far up a procedure's route goes (before the reform)."""

    COMMUNE = "commune"  # decided at the commune's desk
    DISTRICT = "district"  # commune → district (decides) → commune
    DEPARTMENT = "department"  # commune → district → department (decides) → commune


@dataclass(frozen=True)
class FieldSpec:
    """A field of procedures (lĩnh vực): how many, how far up, deadlines, share of arrivals."""

    name: str
    procedures: int
    reach: Reach
    deadlines: tuple[float, ...]  # working hours, one picked per procedure
    weight: float  # share of the desk's arrivals
    department: str  # which department decides (Reach.DEPARTMENT) or is consulted
    policy: SupplementPolicy = SupplementPolicy.RESTART
    fee_vnd: int = 0  # a fee is asked for some dossiers of paying fields


# Fifteen fields and 88 procedures, as at the Thảo Điền one-stop desk; weights follow what a
# ward desk mostly does (certifications and civil status), with the land and building files
# that travel up the hierarchy a minority.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Chứng thực", 10, Reach.COMMUNE, (4, 8), 0.36, "Sở Tư pháp"),
    FieldSpec("Hộ tịch", 14, Reach.COMMUNE, (8, 16, 24, 40), 0.24, "Sở Tư pháp"),
    FieldSpec(
        "Đất đai",
        8,
        Reach.DEPARTMENT,
        (80, 120, 160, 240),
        0.05,
        "Sở Tài nguyên và Môi trường",
        SupplementPolicy.PAUSE,
        500_000,
    ),
    FieldSpec("Xây dựng", 6, Reach.DISTRICT, (80, 120, 160), 0.05, "Sở Xây dựng", fee_vnd=150_000),
    FieldSpec(
        "Đăng ký kinh doanh", 5, Reach.DISTRICT, (24, 40), 0.06, "Sở Kế hoạch và Đầu tư", fee_vnd=100_000
    ),
    FieldSpec(
        "Lao động - Thương binh và Xã hội",
        7,
        Reach.DEPARTMENT,
        (56, 80, 120),
        0.04,
        "Sở Lao động - Thương binh và Xã hội",
    ),
    FieldSpec("Bảo trợ xã hội", 7, Reach.DISTRICT, (40, 56, 80), 0.04, "Sở Lao động - Thương binh và Xã hội"),
    FieldSpec("Giáo dục và Đào tạo", 4, Reach.DISTRICT, (40, 56), 0.02, "Sở Giáo dục và Đào tạo"),
    FieldSpec("Y tế", 4, Reach.DEPARTMENT, (80, 120), 0.01, "Sở Y tế", fee_vnd=300_000),
    FieldSpec("Văn hóa - Thể thao", 4, Reach.DISTRICT, (40, 56), 0.02, "Sở Văn hóa và Thể thao"),
    FieldSpec("Tài chính", 3, Reach.COMMUNE, (24, 40), 0.03, "Sở Tài chính"),
    FieldSpec("Tư pháp", 5, Reach.DISTRICT, (24, 40, 80), 0.03, "Sở Tư pháp"),
    FieldSpec("Tôn giáo", 3, Reach.DISTRICT, (80, 160), 0.01, "Sở Nội vụ"),
    FieldSpec(
        "Giao thông vận tải", 4, Reach.DEPARTMENT, (40, 80), 0.02, "Sở Giao thông vận tải", fee_vnd=200_000
    ),
    FieldSpec("Tài nguyên - Môi trường", 4, Reach.DISTRICT, (56, 80), 0.02, "Sở Tài nguyên và Môi trường"),
)

DEPARTMENTS: tuple[str, ...] = tuple(dict.fromkeys(f.department for f in FIELDS))


@dataclass(frozen=True)
class Template:
    """One procedure of the catalogue, before it is given agencies."""

    code: str
    name: str
    field: FieldSpec
    deadline: float

    @property
    def weight(self) -> float:
        return self.field.weight / self.field.procedures


@dataclass
class World:
    """Agencies (every version) and procedures, plus what the simulator needs to pick routes."""

    province: str
    agencies: list[Agency] = field(default_factory=list)
    procedures: dict[str, Procedure] = field(default_factory=dict)
    templates: list[Template] = field(default_factory=list)
    departments: dict[str, str] = field(default_factory=dict)  # department name -> code
    districts: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    district_of: dict[str, str] = field(default_factory=dict)  # commune -> district (before 2025-07-01)
    commune_weight: dict[str, float] = field(default_factory=dict)  # share of arrivals per commune
    level: dict[str, AgencyLevel] = field(default_factory=dict)

    def procedure_for(self, template: Template, commune: str, day: date) -> Procedure:
        """The catalogued route variant a dossier of `template` received at `commune` on `day` follows."""
        if template.field.reach == Reach.COMMUNE:
            return self.procedures[template.code]
        if day < REFORM_DAY:
            return self.procedures[f"{template.code}@{self.district_of[commune]}"]
        return self.procedures[f"{template.code}-2025"]


def _split(total: float, shares: tuple[float, ...]) -> list[float]:
    """Budgets in whole working hours that sum to `total` (the last step takes the rounding)."""
    parts = [max(1.0, float(round(total * s))) for s in shares[:-1]]
    return [*parts, total - sum(parts)]


def _route_before(t: Template, desk: str, district: str, department: str) -> tuple[RouteStep, ...]:
    d = t.deadline
    agencies: tuple[str, ...]
    shares: tuple[float, ...]
    if t.field.reach == Reach.DISTRICT:
        agencies, shares = (desk, district, desk), (0.1, 0.8, 0.1)
    else:
        agencies, shares = (desk, district, department, desk), (0.05, 0.3, 0.6, 0.05)
    return tuple(RouteStep(a, b) for a, b in zip(agencies, _split(d, shares), strict=True))


def _route_after(t: Template, desk: str, department: str) -> tuple[RouteStep, ...]:
    if t.field.reach == Reach.DISTRICT:
        # The reform moved the district's work down to the commune (Decree 118/2025).
        return (RouteStep(desk, t.deadline),)
    agencies, shares = (desk, department, desk), (0.1, 0.8, 0.1)
    return tuple(RouteStep(a, b) for a, b in zip(agencies, _split(t.deadline, shares), strict=True))


def build_world(
    rng: random.Random,
    *,
    communes: int,
    districts: int,
    province: str = "MP",
    province_name: str = "Tỉnh Mô Phỏng",
) -> World:
    """A province with `districts` districts (until 2025-06-30) sharing `communes` communes."""
    if communes < 1 or districts < 1:
        raise ValueError("a world needs at least one commune and one district")
    districts = min(districts, communes)
    world = World(province=province)
    world.agencies.append(Agency(province, f"Ủy ban nhân dân {province_name}", AgencyLevel.PROVINCE))
    world.level[province] = AgencyLevel.PROVINCE
    for n, name in enumerate(DEPARTMENTS, start=1):
        code = f"{province}.S{n:02d}"
        world.departments[name] = code
        world.level[code] = AgencyLevel.PROVINCE_DEPARTMENT
        world.agencies.append(
            Agency(code, f"{name} {province_name}", AgencyLevel.PROVINCE_DEPARTMENT, province)
        )
    for n in range(1, districts + 1):
        code = f"{province}.H{n:02d}"
        world.districts.append(code)
        world.level[code] = AgencyLevel.DISTRICT
        world.agencies.append(
            Agency(
                code, f"Ủy ban nhân dân Quận {n}", AgencyLevel.DISTRICT, province, valid_to=LAST_DISTRICT_DAY
            )
        )
    for n in range(1, communes + 1):
        code = f"{province}.X{n:04d}"
        district = world.districts[(n - 1) % districts]
        name = f"Ủy ban nhân dân Phường {n}"
        world.communes.append(code)
        world.district_of[code] = district
        world.level[code] = AgencyLevel.COMMUNE
        world.agencies.append(Agency(code, name, AgencyLevel.COMMUNE, district, valid_to=LAST_DISTRICT_DAY))
        world.agencies.append(Agency(code, name, AgencyLevel.COMMUNE, province, valid_from=REFORM_DAY))
    # Communes differ in size: a few busy urban wards, a long tail of small ones.
    raw = [1.0 / (rank**0.6) for rank in range(1, communes + 1)]
    rng.shuffle(raw)
    total = sum(raw)
    world.commune_weight = {c: w / total for c, w in zip(world.communes, raw, strict=True)}
    _catalogue_procedures(rng, world)
    return world


def _catalogue_procedures(rng: random.Random, world: World) -> None:
    index = 0
    first_of = {d: next(c for c in world.communes if world.district_of[c] == d) for d in world.districts}
    for spec in FIELDS:
        for k in range(1, spec.procedures + 1):
            index += 1
            template = Template(
                code=f"MP.{index:03d}",
                name=f"Thủ tục {spec.name.lower()} số {k}",
                field=spec,
                deadline=float(rng.choice(spec.deadlines)),
            )
            world.templates.append(template)
            department = world.departments[spec.department]
            # The first step names one desk; any other commune receiving it takes that desk's place.
            routes: dict[str, tuple[RouteStep, ...]]
            if spec.reach == Reach.COMMUNE:
                routes = {template.code: (RouteStep(world.communes[0], template.deadline),)}
            else:
                routes = {
                    f"{template.code}@{d}": _route_before(template, first_of[d], d, department)
                    for d in world.districts
                }
                routes[f"{template.code}-2025"] = _route_after(template, world.communes[0], department)
            for code, route in routes.items():
                world.procedures[code] = Procedure(
                    code=code,
                    name=template.name,
                    field=spec.name,
                    deadline_working_hours=template.deadline,
                    supplement_policy=spec.policy,
                    route=route,
                )
