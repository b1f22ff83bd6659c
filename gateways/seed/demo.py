"""The demo seeded by `make run`: the HCMC catalogue and dossiers walked through real paths.

Dossiers arrive in office hours over the 13 months up to `now` (plus a few in
early 2025 on the three-level hierarchy), and go through the application
service as the integration role with their historical times: handoffs with
transit, returns, consultations, supplements, fees, apologies, a slow
department, withdrawals — and some are still open today.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import orjson

from domain import commands as cmd
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier
from domain.errors import DomainError, InvalidValue
from domain.events import Actor, Channel, Outcome
from gateways.application.bulk import BufferedService
from gateways.application.service import DossierService
from gateways.catalogue import Catalogue, agency_from_json, procedure_from_json
from gateways.country.divisions import LAST_DAY_BEFORE, REFORM_DAY, Unit, inline_name, load_country

# A department that is slow, so the demo has a real bottleneck to find.
# (In another province's demo the department's code is "<province>.000.00.21".)
SLOW_AGENCIES = {"000.00.21": 1.6}
NAMES = [
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Hoàng Cường",
    "Phạm Thu Dung",
    "Hoàng Minh Đức",
    "Võ Thị Giang",
    "Đặng Quốc Huy",
    "Bùi Thị Lan",
    "Đỗ Văn Minh",
    "Ngô Thị Ngọc",
]


DEMO_PROVINCE = "79"  # the demo file's province (Ho Chi Minh City, document-system codes .H29)
# The demo file's territorial units, which another province's demo takes from the country data.
_DEMO_UNITS = {
    "province": ["000.00.00.H29"],
    "districts": ["000.00.62.H29", "000.00.63.H29"],  # Quận 2, then thành phố Thủ Đức
    "former_communes": ["000.01.62.H29", "000.02.62.H29", "000.03.62.H29", "000.04.62.H29"],
    "communes": ["000.01.99.H29", "000.21.99.H29", "000.22.99.H29", "000.23.99.H29", "000.30.99.H29"],
}


def _demo_file() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(
        resources.files("gateways.seed").joinpath("demo_catalogue.json").read_bytes()
    )
    return data


def demo_catalogue(province: str | None = None) -> dict[str, Any]:
    """The demo catalogue (agencies and procedures as JSON) for `province`.

    None or the demo file's own province: the file as it is. Any other province code (of the 34):
    the same departments, procedures and routes, with the file's wards and districts replaced by
    real units of that province from the country data — its largest former district, four of
    that district's former communes and five communes after the reform (the district's
    successors first) — and the departments renamed and re-coded under that province.
    """
    data = _demo_file()
    if province is None or province == DEMO_PROVINCE:
        return data
    country = load_country()
    unit = country.province(province)
    if unit is None:
        codes = ", ".join(p.code for p in country.provinces)
        raise InvalidValue(f"no province with code '{province}' after 2025-07-01 (codes: {codes})")
    # Every province code after the reform is one of the former provinces' codes: the demo's history
    # before the reform stays in that former province, so its routes never cross a province line.
    former = next(p for p in country.former_provinces if p.code == province)
    districts = [d for d in country.former_districts if d.parent_code == province]
    wards_of: dict[str, list[Unit]] = {}
    for ward in country.former_communes:
        wards_of.setdefault(ward.parent_code or "", []).append(ward)
    district = max(districts, key=lambda d: (len(wards_of.get(d.code, [])), d.code))
    communes = [c for c in country.communes if c.parent_code == province]
    heirs = [s.code for s in district.successors]
    ordered = heirs + sorted(c.code for c in communes if c.code not in heirs)
    units = {c.code: c for c in communes}
    code_map: dict[str, Unit] = {_DEMO_UNITS["province"][0]: unit}
    code_map.update(dict.fromkeys(_DEMO_UNITS["districts"], district))
    code_map.update(zip(_DEMO_UNITS["former_communes"], wards_of[district.code], strict=False))
    code_map.update(zip(_DEMO_UNITS["communes"], (units[c] for c in ordered), strict=False))
    hcmc, district_name = "Thành phố Hồ Chí Minh", "thành phố Thủ Đức"

    def code(old: str) -> str:
        return code_map[old].code if old in code_map else f"{province}.{old.removesuffix('.H29')}"

    agencies: list[dict[str, Any]] = [
        {
            "code": u.code,
            "name": u.agency_name,
            "level": u.level.value,
            "parent_code": u.parent_code,
            "valid_from": u.valid_from.isoformat() if u.valid_from else None,
            "valid_to": u.valid_to.isoformat() if u.valid_to else None,
        }
        for u in {id(u): u for u in code_map.values()}.values()
    ]
    for a in data["agencies"]:
        if a["code"] in code_map:
            continue
        ended_before = a["valid_to"] is not None and a["valid_to"] < REFORM_DAY.isoformat()
        place = inline_name(former.name) if ended_before else unit.name
        name = a["name"].replace(hcmc, place).replace(district_name, inline_name(district.name))
        valid_to = a["valid_to"]
        if a["parent_code"] in _DEMO_UNITS["districts"]:
            valid_to = valid_to or LAST_DAY_BEFORE.isoformat()
        agencies.append(
            {
                **a,
                "code": code(a["code"]),
                "name": name,
                "parent_code": code(a["parent_code"]) if a["parent_code"] else None,
                "valid_to": valid_to,
                # Successors (catalogue JSON with succession) follow the same re-coding.
                **(
                    {"successors": [{**s, "code": code(s["code"])} for s in a["successors"]]}
                    if a.get("successors")
                    else {}
                ),
            }
        )
    procedures = [
        {**p, "route": [{**step, "agency_code": code(step["agency_code"])} for step in p["route"]]}
        for p in data["procedures"]
    ]
    return {"province": province, "agencies": agencies, "procedures": procedures}


def load_catalogue(catalogue: Catalogue, province: str | None = None) -> int:
    """Put the demo catalogue of `province` (None: the demo file's) into `catalogue`."""
    data = demo_catalogue(province)
    for a in data["agencies"]:
        catalogue.put_agency(agency_from_json(a))
    for p in data["procedures"]:
        catalogue.put_procedure(procedure_from_json(p))
    return len(data["procedures"])


def load_whole_country(catalogue: Catalogue) -> int:
    """Every province and commune, before and after the 2025 reform; returns the versions written."""
    return catalogue.put_agencies(load_country().agencies())


@dataclass
class Walker:
    service: DossierService
    rng: random.Random
    now: datetime

    @property
    def cal(self) -> WorkingCalendar:
        return self.service.calendar

    def _actor(self) -> Actor:
        return Actor(agency_code="", user="demo-seed", role="integration")

    def _later(self, at: datetime, working_hours: float) -> datetime:
        return self.cal.add_working_hours(at, max(working_hours, 0.05))

    def _do(self, dossier_id: str, make: Any, at: datetime) -> Dossier | None:
        if at > self.now:
            return None
        return self.service.execute(dossier_id, lambda _s: make(self._actor(), at))

    def walk(self, procedure_code: str, arrival: datetime, dossier_id: str | None = None) -> Dossier | None:
        """Walk a new dossier (its id drawn from `rng` unless given) from `arrival`."""
        rng = self.rng
        # The version in force on the day it arrives (procedures are dated).
        day = arrival.astimezone(self.cal.tz).date()
        procedure = self.service.catalogue.procedure(procedure_code, day)
        assert procedure is not None
        dossier_id = dossier_id or _dossier_id(rng)
        channel = rng.choices([Channel.ONLINE, Channel.DIRECT, Channel.POSTAL], [55, 40, 5])[0]
        created = self.service.create(
            dossier_id=dossier_id,
            procedure_code=procedure_code,
            channel=channel,
            applicant={"name": rng.choice(NAMES), "id_number": f"0792{rng.randrange(10**8):08d}"},
            receiving_agency_code=None,
            actor=self._actor(),
            occurred_at=arrival,
        )
        state: Dossier | None = created.state
        at = arrival
        route = procedure.route
        late_step = rng.random() < 0.06
        for index in range(len(route)):
            assert state is not None
            step = route[index]
            slowness = _slowness(step.agency_code)
            share = rng.uniform(0.2, 0.9) * slowness
            if late_step and index == len(route) // 2:
                share = rng.uniform(1.2, 2.0)
            at = self._later(at, step.budget_working_hours * share)
            if index == 0 and rng.random() < 0.05:
                nxt = self._do(
                    dossier_id,
                    lambda a, t: cmd.RequestSupplement(
                        actor=a, occurred_at=t, reason="Thiếu bản sao giấy tờ tùy thân"
                    ),
                    at,
                )
                if nxt is None:
                    return state
                at = at + timedelta(days=rng.randint(1, 6))
                nxt = self._do(dossier_id, lambda a, t: cmd.ReceiveSupplement(actor=a, occurred_at=t), at)
                if nxt is None:
                    return state
                state = nxt
                at = self._later(at, step.budget_working_hours * 0.3)
            if rng.random() < 0.03 and len(route) > 1:
                other = route[(index + 1) % len(route)].agency_code
                if other != state.holder_agency_code:
                    nxt = self._do(
                        dossier_id,
                        lambda a, t, o=other: cmd.RequestConsultation(
                            actor=a, occurred_at=t, agency_code=o, question="Đề nghị cho ý kiến về hồ sơ"
                        ),
                        at,
                    )
                    if nxt is None:
                        return state
                    at = self._later(at, 2)
                    nxt = self._do(
                        dossier_id,
                        lambda a, t: cmd.AnswerConsultation(actor=a, occurred_at=t, answer="Thống nhất"),
                        at,
                    )
                    if nxt is None:
                        return state
                    state = nxt
            if state.due_at and late_step and index == len(route) // 2 and rng.random() < 0.5:
                apology_at = min(at, state.due_at - timedelta(hours=2))
                if apology_at > state.last_occurred_at:
                    nxt = self._do(
                        dossier_id,
                        lambda a, t, d=state.due_at: cmd.IssueApology(
                            actor=a,
                            occurred_at=t,
                            new_due_at=d + timedelta(days=5),
                            reason="Cần xác minh thêm tại cơ quan liên quan",
                        ),
                        apology_at,
                    )
                    state = nxt or state
            is_last = index == len(route) - 1
            decider = len(route) - 2 if len(route) > 1 else 0
            if index == decider:
                nxt = self._do(
                    dossier_id,
                    lambda a, t: cmd.DecideDossier(
                        actor=a,
                        occurred_at=t,
                        outcome=Outcome.APPROVED if rng.random() < 0.96 else Outcome.REJECTED,
                        decision_number=f"{rng.randint(100, 9999)}/QĐ-UBND",
                    ),
                    at,
                )
                if nxt is None:
                    return state
                state = nxt
            if is_last:
                nxt = self._do(dossier_id, lambda a, t: cmd.MarkResultReady(actor=a, occurred_at=t), at)
                if nxt is None:
                    return state
                at = self._later(at, rng.uniform(1, 16))
                return self._do(dossier_id, lambda a, t: cmd.ReturnResult(actor=a, occurred_at=t), at) or nxt
            if rng.random() < 0.01:
                nxt = self._do(
                    dossier_id,
                    lambda a, t: cmd.Withdraw(actor=a, occurred_at=t, reason="Công dân rút hồ sơ"),
                    at,
                )
                return nxt or state
            target = route[index + 1].agency_code
            nxt = self._do(
                dossier_id,
                lambda a, t, to=target: cmd.HandOff(
                    actor=a, occurred_at=t, to_agency_code=to, note="Chuyển xử lý theo quy trình liên thông"
                ),
                at,
            )
            if nxt is None:
                return state
            at = self._later(at, rng.uniform(0.1, 3))
            if rng.random() < 0.04:
                nxt = self._do(
                    dossier_id,
                    lambda a, t: cmd.ReturnHandoff(
                        actor=a, occurred_at=t, reason="Hồ sơ chưa đủ thành phần, đề nghị bổ sung"
                    ),
                    at,
                )
                if nxt is None:
                    return state
                at = self._later(at, rng.uniform(1, 4))
                nxt = self._do(
                    dossier_id,
                    lambda a, t, to=target: cmd.HandOff(
                        actor=a, occurred_at=t, to_agency_code=to, note="Gửi lại sau khi hoàn thiện"
                    ),
                    at,
                )
                if nxt is None:
                    return state
                at = self._later(at, rng.uniform(0.1, 2))
            nxt = self._do(dossier_id, lambda a, t: cmd.AcceptHandoff(actor=a, occurred_at=t), at)
            if nxt is None:
                return state
            state = nxt
        return state


def _slowness(code: str) -> float:
    bare = code.removesuffix(".H29")
    return next((factor for dept, factor in SLOW_AGENCIES.items() if bare.endswith(dept)), 1.0)


def _arrival(rng: random.Random, cal: WorkingCalendar, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    at = start + timedelta(seconds=rng.uniform(0, span))
    return cal.next_opening(at) + timedelta(minutes=rng.randint(0, 200))


def _dossier_id(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:]}"


_PRE_REFORM = ["DD.01", "DD.02", "HT.01", "HT.02", "HT.04", "BTXH.01", "CT.01"]


def _plan(
    rng: random.Random, cal: WorkingCalendar, now: datetime, dossiers: int, post: Callable[[], list[str]]
) -> Iterator[tuple[str, datetime, str]]:
    """(procedure, arrival, dossier id) of each demo dossier in the seed's order. The walk of
    each draws from the same `rng` before the next is drawn; `post` (the catalogue's
    procedures after the reform) is read when the first of them is drawn."""
    start = now - timedelta(days=396)
    early = (datetime(2025, 1, 6, 8, tzinfo=cal.tz), datetime(2025, 2, 20, 16, tzinfo=cal.tz))
    n_pre = max(1, dossiers // 15)
    codes: list[str] = []
    for i in range(dossiers):
        if i < n_pre:
            code, arrival = rng.choice(_PRE_REFORM), _arrival(rng, cal, *early)
        else:
            codes = codes or post()
            code, arrival = rng.choice(codes), _arrival(rng, cal, start, now)
        if arrival > now:
            continue
        yield code, arrival, _dossier_id(rng)


class AlreadySeeded(InvalidValue):
    """The store already holds this seed's demo dossiers: seeding it again would write them twice."""


def seed_demo(
    service: DossierService,
    now: datetime,
    dossiers: int = 400,
    seed: int = 2012,
    province: str | None = None,
    country: bool = False,
) -> dict[str, int]:
    """Seed the catalogue of `province` (None: the demo file's) and `dossiers` demo dossiers,
    with the whole country's units first when `country`; returns counts by final status.

    A seed always makes the same first dossier (whatever the province or the count): when the
    store already holds it, AlreadySeeded is raised before anything is written."""
    rng = random.Random(seed)
    catalogue = service.catalogue
    plan = _plan(
        rng,
        service.calendar,
        now,
        dossiers,
        lambda: [p.code for p in catalogue.procedures() if p.code.endswith("-2025")],
    )
    first = next(plan, None)
    if first is not None and service.exists(first[2]):
        raise AlreadySeeded(
            f"this store already holds the demo dossiers of seed {seed} (dossier {first[2]}); "
            "use another --seed or a fresh data directory"
        )
    if country or province not in (None, DEMO_PROVINCE):  # another province's demo stands on it
        load_whole_country(service.catalogue)
    load_catalogue(service.catalogue, province)
    service = BufferedService(service)  # decided in memory, appended in batches
    walker = Walker(service, rng, now)
    counts: dict[str, int] = {}
    for code, arrival, dossier_id in itertools.chain([first] if first else [], plan):
        with contextlib.suppress(DomainError):  # a step the rules refuse ends the walk there
            walker.walk(code, arrival, dossier_id)
        # Counted as recorded: where the walk ended (also when it stopped half-way, or on a
        # step whose follow-up lies after `now`), not the last state the walk returned.
        state = service.current(dossier_id)
        if state is None:
            continue
        status = state.status.value
        counts[status] = counts.get(status, 0) + 1
        if service.pending >= 100:
            service.flush()
    service.flush()
    service.wait()
    return counts
