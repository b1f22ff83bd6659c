"""The whole country in the catalogue: 34 provinces and their communes since 2025-07-01, and the
former provinces, districts and communes with their successors, for history."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from domain.agencies import Agency, AgencyLevel, Hierarchy
from gateways.bootstrap import bootstrap
from gateways.cli import app
from gateways.country.divisions import load_country
from gateways.seed.demo import demo_catalogue, load_whole_country

BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)


def agency_from_demo(a: dict[str, Any]) -> Agency:
    return Agency(
        code=a["code"],
        name=a["name"],
        level=AgencyLevel(a["level"]),
        parent_code=a["parent_code"],
        valid_from=date.fromisoformat(a["valid_from"]) if a["valid_from"] else None,
        valid_to=date.fromisoformat(a["valid_to"]) if a["valid_to"] else None,
    )


def _in_force(catalogue: Any, level: AgencyLevel, day: date) -> dict[str, str]:
    hierarchy = catalogue.hierarchy
    found: dict[str, str] = {}
    for code in hierarchy.codes():
        version = hierarchy.on(code, day)
        if version is not None and version.level == level:
            found[code] = version.name
    return found


def test_the_catalogue_holds_34_provinces_after_the_reform_and_63_before(
    make_container: Any, backend_url: str
) -> None:
    catalogue = make_container(backend_url).catalogue
    load_whole_country(catalogue)
    after = _in_force(catalogue, AgencyLevel.PROVINCE, AFTER)
    assert len(after) == 34
    assert after["79"] == "Ủy ban nhân dân Thành phố Hồ Chí Minh"
    assert after["01"] == "Ủy ban nhân dân Thành phố Hà Nội"
    assert len(_in_force(catalogue, AgencyLevel.PROVINCE, BEFORE)) == 63
    assert len(_in_force(catalogue, AgencyLevel.COMMUNE, AFTER)) == 3321
    assert _in_force(catalogue, AgencyLevel.DISTRICT, AFTER) == {}  # the district level is gone


def test_every_commune_of_ho_chi_minh_city_after_the_reform(make_container: Any) -> None:
    catalogue = make_container().catalogue
    load_whole_country(catalogue)
    subtree = catalogue.hierarchy.subtree_on("79", AFTER) - {"79"}
    names = {catalogue.hierarchy.on(code, AFTER).name for code in subtree}
    # The package's list, read here on its own, is the expected list (168: 113 wards, 54
    # communes and the special zone of Côn Đảo).
    listed = orjson.loads(
        resources.files("vietnam_provinces").joinpath("data/nested-divisions.json").read_bytes()
    )
    hcmc = next(p for p in listed if p["code"] == 79)
    expected = {f"79.{w['code']:05d}" for w in hcmc["wards"]}
    assert subtree == expected
    assert len(subtree) == 168
    kinds = [name.removeprefix("Ủy ban nhân dân ").split()[0] for name in names]
    assert (kinds.count("phường"), kinds.count("xã"), kinds.count("đặc")) == (113, 54, 1)
    assert {"Ủy ban nhân dân phường Sài Gòn", "Ủy ban nhân dân phường Thủ Dầu Một"} <= names
    assert "Ủy ban nhân dân đặc khu Côn Đảo" in names
    # The communes of the former Bình Dương and Bà Rịa–Vũng Tàu are now under the city.
    assert catalogue.hierarchy.on("74", BEFORE).name == "Ủy ban nhân dân tỉnh Bình Dương"
    assert catalogue.hierarchy.on("74", AFTER) is None


def test_every_former_district_of_ho_chi_minh_city_has_a_successor_commune(make_container: Any) -> None:
    catalogue = make_container().catalogue
    load_whole_country(catalogue)
    hierarchy = catalogue.hierarchy
    country = load_country()
    merged = {"79", "74", "77"}  # Hồ Chí Minh City, Bình Dương, Bà Rịa–Vũng Tàu
    districts = [d for d in country.former_districts if d.parent_code in merged]
    assert len(districts) == 22 + 9 + 7
    for district in districts:
        assert hierarchy.on(district.code, BEFORE) is not None
        assert hierarchy.on(district.code, AFTER) is None
        assert district.successors, district.name
        assert sum(s.share or 0 for s in district.successors) == pytest.approx(1.0, abs=1e-3)
        for successor in district.successors:
            assert successor.valid_from == AFTER
            assert hierarchy.is_within(successor.code, "79", AFTER), (district.name, successor.code)
    quan_1 = next(d for d in districts if d.name == "Quận 1")
    heirs = {hierarchy.on(s.code, AFTER).name for s in quan_1.successors}
    assert heirs == {
        "Ủy ban nhân dân phường Sài Gòn",
        "Ủy ban nhân dân phường Tân Định",
        "Ủy ban nhân dân phường Bến Thành",
        "Ủy ban nhân dân phường Cầu Ông Lãnh",
    }
    binh_duong = next(p for p in country.former_provinces if p.code == "74")
    assert [(s.code, s.share) for s in binh_duong.successors] == [("79", 1.0)]
    # Every former commune of the country names where it went, and that commune exists.
    communes_after = {c.code for c in country.communes}
    for commune in country.former_communes:
        assert commune.successors and commune.successors[0].code in communes_after, commune.code


def test_seed_a_province_other_than_ho_chi_minh_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    runner = CliRunner()
    seeded = runner.invoke(app, ["seed", "--province", "04", "--dossiers", "12", "--seed", "3"])
    assert seeded.exit_code == 0, seeded.output
    assert "seeded:" in seeded.output
    catalogue = runner.invoke(
        app,
        [
            "report",
            "sla",
            "--group-by",
            "agency",
            "--agency",
            "04",
            "--include-children",
            "--from",
            "2025-07-01",
            "--to",
            "2030-12-31",
            "--format",
            "json",
        ],
    )
    assert catalogue.exit_code == 0, catalogue.output
    body = json.loads(catalogue.stdout)
    received = {
        item["group"]: item["received"]["total"] for item in body["items"] if item["received"]["total"]
    }
    assert sum(received.values()) > 0
    # Every desk that received a dossier is a commune or department of Cao Bằng (04).
    assert all(code.startswith("04.") for code in received), received
    # Among the hundred top agencies, the dashboard and the demo sign-in start on Cao Bằng's.
    container = bootstrap()
    try:
        assert container.catalogue.home() == "04"
    finally:
        container.close()
    unknown = runner.invoke(app, ["seed", "--province", "63", "--dossiers", "1"])
    assert unknown.exit_code == 2
    assert "no province with code '63'" in unknown.output


def test_the_country_as_catalogue_json_with_successors_and_provenance(tmp_path: Path) -> None:
    out = tmp_path / "country.json"
    done = CliRunner().invoke(app, ["country", "--out", str(out)])
    assert done.exit_code == 0, done.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["source"] == {"vietnam-provinces": "2025.10.1", "vietnamadminunits": "1.0.4"}
    versions = {(a["code"], a["valid_from"]): a for a in data["agencies"]}
    binh_duong = versions[("74", None)]
    assert binh_duong["valid_to"] == "2025-06-30"
    assert binh_duong["successors"] == [{"code": "79", "valid_from": "2025-07-01", "share": 1.0}]
    assert "202/2025/QH15" in binh_duong["basis"]
    quan_1 = versions[("79.760", None)]
    shares = [s["share"] for s in quan_1["successors"]]
    assert shares == sorted(shares, reverse=True)  # the first, the default heir, took the most
    assert {s["code"] for s in quan_1["successors"]} <= {code for code, _ in versions}
    hcmc = [a for (code, _), a in versions.items() if code == "79"]
    assert [(a["valid_from"], a["valid_to"]) for a in hcmc] == [(None, "2025-06-30"), ("2025-07-01", None)]
    assert "successors" not in hcmc[0]  # the city goes on under its own code


@pytest.mark.parametrize("province", [p.code for p in load_country().provinces])
def test_the_demo_of_every_province_routes_through_that_provinces_own_agencies(province: str) -> None:
    data = demo_catalogue(province)
    hierarchy = Hierarchy([*load_country().agencies(), *(agency_from_demo(a) for a in data["agencies"])])
    root = "000.00.00.H29" if province == "79" else province  # HCMC's demo keeps its own codes
    for procedure in data["procedures"]:
        # The demo walks the "-2025" procedures after the reform, the others in early 2025.
        day = AFTER if procedure["code"].endswith("-2025") else date(2025, 2, 1)
        for step in procedure["route"]:
            code = step["agency_code"]
            assert hierarchy.on(code, day) is not None, (province, procedure["code"], code, day)
            assert hierarchy.is_within(code, root, day), (province, procedure["code"], code)
