"""The 2025-07-01 cutover on the demo HCMC catalogue, through HTTP and the CLI, on the real stores.

Thảo Điền ward (000.01.62.H29) and Thủ Đức city (000.00.63.H29) end on 2025-06-30; An Khánh
ward (000.21.99.H29) succeeds the ward; the city's land registration branch (002.00.63.H29)
is succeeded by the Department of Agriculture and Environment (000.00.21.H29); the labour
department ended on 2025-02-28 and NCC.01 has a version from 2025-03-01 through the Department
of Home Affairs (000.00.03.H29).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.application.cutover import cutover
from gateways.auth import issue_token
from gateways.bootstrap import Container
from gateways.cli import app
from gateways.http.app import create_app
from gateways.seed.demo import load_catalogue
from projections import sla
from tests.conftest import FakeClock
from tests.e2e.test_contract import assert_conforms
from tests.serving import serve

THAO_DIEN = "000.01.62.H29"
AN_KHANH = "000.21.99.H29"
THU_DUC = "000.00.63.H29"
LAND_BRANCH = "002.00.63.H29"
AGRI_DEPT = "000.00.21.H29"
HOME_AFFAIRS = "000.00.03.H29"
SECRET = "test-secret-of-at-least-thirty-two-bytes"
APPLICANT = {"name": "Nguyễn Văn An", "id_number": "079200001234"}


@dataclass
class Office:
    """Officers of each agency acting on the server's clock, set to the day they act."""

    http: httpx.Client
    clock: FakeClock
    container: Container

    def act(self, at: str, agency: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        self.clock.set(at + "+07:00")
        token = issue_token(
            SECRET,
            role="officer",
            sub=f"u@{agency}",
            agency_code=agency,
            now=self.clock(),
            ttl=timedelta(days=3650),
        )
        return self.http.post(path, json=body or {}, headers={"Authorization": f"Bearer {token}"})

    def ok(self, at: str, agency: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.act(at, agency, path, body)
        assert r.status_code in (200, 201), r.text
        result: dict[str, Any] = r.json()
        return result

    def receive(self, at: str, agency: str, procedure: str) -> dict[str, Any]:
        body = {"procedure_code": procedure, "channel": "direct", "applicant": APPLICANT}
        return self.ok(at, agency, "/api/v1/dossiers", body)

    def read(self, path: str) -> httpx.Response:
        token = issue_token(
            SECRET, role="inspector", sub="i", agency_code=None, now=self.clock(), ttl=timedelta(days=3650)
        )
        return self.http.get(path, headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str) -> dict[str, Any]:
        r = self.read(path)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture
def office(backend_url: str, make_container: Any, clock: FakeClock) -> Iterator[Office]:
    container: Container = make_container(backend_url)
    load_catalogue(container.catalogue)
    with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield Office(http, clock, container)


def _walk_to_june_30(o: Office) -> tuple[str, str]:
    """A: NCC.01 at Thủ Đức city's desk, in transit to the department on 06-30.
    B: DD.01 held by Thủ Đức's land registration branch on 06-30."""
    a = o.receive("2025-06-10T08:00", THAO_DIEN, "NCC.01")["id"]
    o.ok("2025-06-13T10:00", THAO_DIEN, f"/api/v1/dossiers/{a}/handoffs", {"to_agency_code": THU_DUC})
    o.ok("2025-06-13T14:00", THU_DUC, f"/api/v1/dossiers/{a}/handoffs/accept")
    o.ok("2025-06-30T10:00", THU_DUC, f"/api/v1/dossiers/{a}/handoffs", {"to_agency_code": HOME_AFFAIRS})
    b = o.receive("2025-06-23T08:00", THAO_DIEN, "DD.01")["id"]
    o.ok("2025-06-23T10:00", THAO_DIEN, f"/api/v1/dossiers/{b}/handoffs", {"to_agency_code": LAND_BRANCH})
    o.ok("2025-06-23T13:00", LAND_BRANCH, f"/api/v1/dossiers/{b}/handoffs/accept")
    return a, b


def _bieu06(o: Office, agency: str, first: date, last: date, **kw: Any) -> sla.Bieu06:
    return o.container.sla.bieu06(agency, first, last, now=o.clock(), **kw).form


def test_a_dossier_in_transit_at_the_cutover_returns_to_the_successor_ward(office: Office) -> None:
    o = office
    a, b = _walk_to_june_30(o)
    received = {d: o.get(f"/api/v1/dossiers/{d}") for d in (a, b)}
    o.clock.set("2025-07-01T07:00+07:00")
    o.container.feed.catch_up()
    moves = cutover(o.container.service, o.container.index, date(2025, 7, 1), dry_run=False)
    assert sorted((m.dossier_id, m.from_agency_code, m.to_agency_code, m.parts) for m in moves) == sorted(
        [
            # Thủ Đức city gave A away (its step is closed): the holding moves to the heir that
            # serves A's own desk (An Khánh), not the city's default heir (phường Thủ Đức).
            (a, THU_DUC, AN_KHANH, ("holder",)),
            (a, THAO_DIEN, AN_KHANH, ("desk",)),
            (b, LAND_BRANCH, AGRI_DEPT, ("holder",)),
            (b, THAO_DIEN, AN_KHANH, ("desk",)),
        ]
    )
    assert all(m.at.isoformat() == "2025-07-01T00:00:00+07:00" for m in moves)
    # The ended agencies may no longer act; the return leg addressed to the old ward (as the
    # route says) goes to An Khánh and closes the route's last step.
    o.ok("2025-07-01T08:00", HOME_AFFAIRS, f"/api/v1/dossiers/{a}/handoffs/accept")
    o.ok("2025-07-04T09:00", HOME_AFFAIRS, f"/api/v1/dossiers/{a}/decision", {"outcome": "approved"})
    sent = o.ok(
        "2025-07-04T10:00", HOME_AFFAIRS, f"/api/v1/dossiers/{a}/handoffs", {"to_agency_code": THAO_DIEN}
    )
    assert sent["pending_handoff_to"] == AN_KHANH
    assert o.act("2025-07-04T14:00", THAO_DIEN, f"/api/v1/dossiers/{a}/handoffs/accept").status_code == 403
    o.ok("2025-07-04T14:00", AN_KHANH, f"/api/v1/dossiers/{a}/handoffs/accept")
    o.ok("2025-07-07T09:00", AN_KHANH, f"/api/v1/dossiers/{a}/result-ready")
    o.ok("2025-07-07T10:00", AN_KHANH, f"/api/v1/dossiers/{a}/result-returned")
    # B: the department finishes the branch's step with what was left of its budget.
    o.ok("2025-07-02T09:00", AGRI_DEPT, f"/api/v1/dossiers/{b}/decision", {"outcome": "approved"})
    o.ok("2025-07-02T10:00", AGRI_DEPT, f"/api/v1/dossiers/{b}/handoffs", {"to_agency_code": THAO_DIEN})
    o.ok("2025-07-02T14:00", AN_KHANH, f"/api/v1/dossiers/{b}/handoffs/accept")
    o.ok("2025-07-02T16:00", AN_KHANH, f"/api/v1/dossiers/{b}/result-ready")
    o.ok("2025-07-03T09:00", AN_KHANH, f"/api/v1/dossiers/{b}/result-returned")

    for d in (a, b):
        state = o.container.service.load(d).state
        assert state is not None and state.status.value == "returned"
        assert state.done_route_indices() == set(range(len(state.route)))  # every step closed
        assert o.get(f"/api/v1/dossiers/{d}")["due_at"] == received[d]["due_at"]  # never moved
    assert o.container.service.load(a).state.route[2].agency_code == HOME_AFFAIRS  # type: ignore[union-attr]
    answered = o.read(f"/api/v1/dossiers/{b}/control-sheet")
    assert_conforms(o.http, answered, "GET", "/api/v1/dossiers/{dossier_id}/control-sheet")
    sheet = answered.json()["rows"]
    assert [
        (r["from_agency_code"], r["to_agency_code"], r["step_timeliness"], r["succession"]) for r in sheet
    ] == [
        (THAO_DIEN, LAND_BRANCH, "on_time", False),
        # 06-23 13:00-17:00 and 06-24..06-30: 44 of 72 h, its step due on 07-04: early.
        (LAND_BRANCH, AGRI_DEPT, "early", True),
        (AGRI_DEPT, AN_KHANH, "early", False),
    ]
    assert sheet[1]["step_used_working_hours"] == 44

    o.clock.set("2025-07-20T08:00+07:00")  # the supervisor reads the reports later
    o.container.feed.catch_up()
    may, june = (date(2025, 5, 15), date(2025, 6, 14)), (date(2025, 6, 15), date(2025, 7, 14))
    # By hand. A: received 06-10, due 07-08 08:00 (160 working hours), result 07-07: early.
    # B: received 06-23, due 07-07 08:00 (80 working hours), result 07-02: early.
    assert _bieu06(o, THAO_DIEN, *may) == sla.Bieu06(direct=1, within_due=1)
    assert _bieu06(o, THAO_DIEN, *june) == sla.Bieu06(direct=1, carried_over=1, early=2)
    # Time before the cutover stays with the ended ward; its successor shows it in its subtree.
    assert _bieu06(o, AN_KHANH, *june) == sla.Bieu06()
    assert _bieu06(o, AN_KHANH, *june, include_children=True) == sla.Bieu06(direct=1, carried_over=1, early=2)
    # Steps: Thủ Đức's step of A (40 h from 06-13 14:00) was late before the cutover: charged
    # to Thủ Đức; the branch's part of B closed early at the cutover, the department's began.
    assert _bieu06(o, THU_DUC, *june, scope="handled") == sla.Bieu06(carried_over=1, late=1)
    assert _bieu06(o, LAND_BRANCH, *june, scope="handled") == sla.Bieu06(direct=1, early=1)
    assert _bieu06(o, AGRI_DEPT, *june, scope="handled") == sla.Bieu06(direct=1, early=1)

    # Bottlenecks: the branch's work before the cutover rolls up under the department that
    # succeeded it (and, for a supervisor of An Khánh, the old ward's under An Khánh).
    hierarchy = o.container.catalogue.hierarchy
    assert {LAND_BRANCH, AGRI_DEPT} <= hierarchy.rollup_ever(AGRI_DEPT)
    assert THAO_DIEN in hierarchy.rollup_ever(AN_KHANH) and THU_DUC not in hierarchy.rollup_ever(AN_KHANH)
    rows = o.container.bottlenecks.bottlenecks(*june, agencies=hierarchy.rollup_ever(AGRI_DEPT))["agencies"]
    assert {row["agency_code"] for row in rows} == {LAND_BRANCH, AGRI_DEPT}

    # Bottleneck view: the branch's stay ended at the cutover, the department's began there.
    def stays(agency: str, day: date) -> list[tuple[str | None, str | None]]:
        items = o.container.bottlenecks.stays(agency, day, day, o.clock())["items"]
        return [(i["entered_at"], i["left_at"]) for i in items if i["dossier_id"] == b]

    assert [left[:16] for _, left in stays(LAND_BRANCH, date(2025, 7, 1)) if left] == ["2025-07-01T00:00"]
    assert [entered[:16] for entered, _ in stays(AGRI_DEPT, date(2025, 7, 2)) if entered] == [
        "2025-07-01T00:00"
    ]


def test_cutover_dry_run_lists_and_a_second_run_moves_nothing(
    make_container: Any, clock: FakeClock, tmp_path: Path
) -> None:
    container: Container = make_container()
    load_catalogue(container.catalogue)
    with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=30) as http:
        a, b = _walk_to_june_30(Office(http, clock, container))
    container.close()
    env = {"LIENTHONG_DATA_DIR": str(tmp_path / "var"), "LIENTHONG_ENV_FILE": "/nonexistent.env"}
    runner = CliRunner()

    def run(*args: str) -> list[dict[str, Any]]:
        done = runner.invoke(app, ["catalogue", "cutover", "--at", "2025-07-01", *args], env=env)
        assert done.exit_code == 0, done.output
        return [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    listed = run("--dry-run")
    assert {(m["receipt_code"][:13], m["from"], m["to"]) for m in listed} == {
        (THAO_DIEN, THU_DUC, AN_KHANH),
        (THAO_DIEN, THAO_DIEN, AN_KHANH),
        (THAO_DIEN, LAND_BRANCH, AGRI_DEPT),
    }
    assert {m["dossier_id"] for m in listed} == {a, b} and len(listed) == 4
    assert all(m["basis"] for m in listed)  # the legal basis is recorded
    assert run("--dry-run") == listed  # a dry run records nothing
    assert run() == listed
    assert run() == []  # idempotent: nothing left to move
    assert run("--dry-run") == []


def test_a_dossier_keeps_the_procedure_version_it_was_received_under(office: Office) -> None:
    o = office
    justice, police = "000.00.04.H29", "000.00.31.H29"

    def version(valid_from: date | None, dept: str, fee: int) -> Procedure:
        route = (RouteStep(AN_KHANH, 4), RouteStep(dept, 16), RouteStep(AN_KHANH, 4))
        return Procedure(
            "TEST.01", "Thủ tục thử", "Hộ tịch", 24, SupplementPolicy.RESTART, route, valid_from, fee
        )

    o.container.catalogue.put_procedure(version(None, justice, 0))
    o.container.catalogue.put_procedure(version(date(2025, 8, 1), police, 10_000))  # the route changes
    before = o.receive("2025-07-31T08:00", AN_KHANH, "TEST.01")["id"]
    after = o.receive("2025-08-01T08:00", AN_KHANH, "TEST.01")["id"]
    assert [s["agency_code"] for s in o.get(f"/api/v1/dossiers/{before}")["route"]] == [
        AN_KHANH,
        justice,
        AN_KHANH,
    ]
    assert [s["agency_code"] for s in o.get(f"/api/v1/dossiers/{after}")["route"]] == [
        AN_KHANH,
        police,
        AN_KHANH,
    ]
    payloads = {d: o.get(f"/api/v1/dossiers/{d}/events")["items"][0]["payload"] for d in (before, after)}
    assert (payloads[before]["procedure_version"], payloads[after]["procedure_version"]) == (
        None,
        "2025-08-01",
    )
    # After the change, the dossier received before it still goes to the old route's agency, on route.
    sent = o.ok(
        "2025-08-04T08:00", AN_KHANH, f"/api/v1/dossiers/{before}/handoffs", {"to_agency_code": justice}
    )
    assert sent["pending_handoff_to"] == justice
    assert o.container.service.load(before).state.pending_route_step == 1  # type: ignore[union-attr]
    assert o.get("/api/v1/procedures/TEST.01?on=2025-07-31")["route"][1]["agency_code"] == justice
    assert o.get("/api/v1/procedures/TEST.01")["fee_vnd"] == 10_000
    # NCC.01 received on 2025-04-01 follows its 2025-03-01 version (the labour department had
    # ended on 2025-02-28): no more 422.
    ncc = o.receive("2025-04-01T08:00", THAO_DIEN, "NCC.01")["id"]
    assert o.get(f"/api/v1/dossiers/{ncc}")["route"][2]["agency_code"] == HOME_AFFAIRS
    # HT.04 names Thủ Đức's justice office (ended): received after the cutover at the old
    # ward's successor, the office's step falls to the ward, one step with both budgets.
    ht = o.receive("2025-07-02T08:00", AN_KHANH, "HT.04")["id"]
    assert o.get(f"/api/v1/dossiers/{ht}")["route"] == [{"agency_code": AN_KHANH, "budget_working_hours": 24}]


def test_successors_are_put_and_read_through_the_catalogue_api(office: Office) -> None:
    o = office
    token = issue_token(
        SECRET, role="admin", sub="admin", agency_code=None, now=o.clock(), ttl=timedelta(days=3650)
    )
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "name": "Ủy ban nhân dân phường Bình Khánh",
        "level": "commune",
        "parent_code": "000.00.62.H29",
        "valid_to": "2020-12-31",
        "successors": [{"code": "000.04.62.H29", "valid_from": "2021-01-01", "share": 1}],
        "basis": "Thành lập thành phố Thủ Đức",
    }
    r = o.http.put("/api/v1/agencies/000.05.62.H29", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert_conforms(o.http, r, "PUT", "/api/v1/agencies/{code}")
    assert r.json()["successors"] == [{"code": "000.04.62.H29", "valid_from": "2021-01-01", "share": 1.0}]
    assert o.get("/api/v1/agencies/000.05.62.H29")["basis"] == "Thành lập thành phố Thủ Đức"
    assert o.container.catalogue.hierarchy.successor_on("000.05.62.H29", date(2025, 7, 2)) == AN_KHANH
    for wrong, status in (
        ({"successors": [{"code": "NO.SUCH", "valid_from": "2021-01-01"}]}, 422),  # unknown agency
        ({"successors": [{"code": AN_KHANH, "valid_from": "2020-12-31"}]}, 422),  # before it ended
        ({"valid_to": None}, 422),  # an agency that does not end has no successors
    ):
        r = o.http.put("/api/v1/agencies/000.05.62.H29", json={**body, **wrong}, headers=headers)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), (
            r.text
        )
