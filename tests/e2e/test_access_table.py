"""The access table drives this test: every operation of the OpenAPI document × every role
(and no token) × a resource of the caller's own scope and one of another agency.

Expected, from gateways/http/access.py alone: no 5xx; 401 without a token on a non-public
route; 403 for a role the table leaves out, and for `own` on another agency's resource;
never 401/403 where the table allows; never another agency's dossier in a 200.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateways.auth import ROLES, issue_token
from gateways.http import access
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.serving import serve

SECRET = "test-secret-of-at-least-thirty-two-bytes"
# P.79 > D.1 > W.01 (ours), P.79 > D.2 > W.02 (another agency's)
OWN_WARD, OTHER_WARD = "W.01", "W.02"
AGENCY_OF = {"officer": OWN_WARD, "supervisor": "D.1"}
APPLICANT = {"name": "Trần Thị Bình", "id_number": "079300004321"}


class World:
    def __init__(self, http: httpx.Client, clock: FakeClock) -> None:
        self.http = http
        self.clock = clock
        self.ids: dict[str, str] = {}
        self.receipts: dict[str, str] = {}

    def headers(self, role: str) -> dict[str, str]:
        if role == access.ANONYMOUS:
            return {}
        token = issue_token(
            SECRET,
            role=role,
            sub=f"{role}-test",
            agency_code=AGENCY_OF.get(role),
            now=self.clock(),
            ttl=timedelta(days=3650),
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(make_container: Any, clock: FakeClock) -> Iterator[World]:
    container = make_container()
    with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=30) as http:
        w = World(http, clock)
        admin = w.headers("admin")
        agencies = [
            ("P.79", "province", None),
            ("D.1", "district", "P.79"),
            ("D.2", "district", "P.79"),
            (OWN_WARD, "commune", "D.1"),
            (OTHER_WARD, "commune", "D.2"),
        ]
        for code, level, parent in agencies:
            body = {"name": f"UBND {code}", "level": level, "parent_code": parent}
            http.put(f"/api/v1/agencies/{code}", json=body, headers=admin).raise_for_status()
        for scope, ward in (("own", OWN_WARD), ("other", OTHER_WARD)):
            procedure = {
                "name": f"Thủ tục {ward}",
                "deadline_working_hours": 16,
                "route": [{"agency_code": ward, "budget_working_hours": 16}],
            }
            http.put(f"/api/v1/procedures/P.{ward}", json=procedure, headers=admin).raise_for_status()
            officer = issue_token(
                SECRET, role="officer", sub="desk", agency_code=ward, now=clock(), ttl=timedelta(days=3650)
            )
            r = http.post(
                "/api/v1/dossiers",
                json={"procedure_code": f"P.{ward}", "channel": "direct", "applicant": APPLICANT},
                headers={"Authorization": f"Bearer {officer}"},
            )
            assert r.status_code == 201, r.text
            w.ids[scope], w.receipts[scope] = r.json()["id"], r.json()["receipt_code"]
        container.checkpoints.checkpoint(clock())
        yield w


def _operations(http: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = http.get("/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


def _request(world: World, path: str, op: dict[str, Any], scope: str) -> tuple[str, dict[str, str]]:
    values = {
        "dossier_id": world.ids[scope],
        "code": OWN_WARD if scope == "own" else OTHER_WARD,
        "agency_code": OWN_WARD if scope == "own" else OTHER_WARD,
        "kind": "control-sheet",
        "receipt_code": world.receipts[scope],
        "seq": "1",
        "n": "1",
    }
    url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)
    query: dict[str, str] = {}
    for param in op.get("parameters", []):
        if param["in"] != "query":
            continue
        name = param["name"]
        if name == "agency_code":
            query[name] = values["code"]
        elif name == "dossier_id":
            query[name] = values["dossier_id"]
        elif name == "secret":
            query[name] = "wrong"
    return url, query


def _expectation(policy: access.Policy, role: str, scope: str) -> str:
    if policy.public:
        return "allowed"
    if role == access.ANONYMOUS:
        return "401"
    rule = policy.rule(role)
    if rule is None:
        return "403"
    if rule is access.Rule.OWN and scope == "other" and policy.scope is not access.Scope.NONE:
        return "403"
    return "allowed"


def test_every_operation_is_in_the_table(world: World) -> None:
    missing = [
        (m, p) for m, p, _ in _operations(world.http) if (m, p) not in access.TABLE and p.startswith("/api/")
    ]
    assert not missing, f"operations without an access rule: {missing}"


def test_every_operation_role_and_scope_answers_as_the_table_says(world: World) -> None:
    operations = _operations(world.http)
    assert len(operations) > 30
    failures: list[str] = []
    checked = 0
    for method, path, op in operations:
        policy = access.policy_for(method, path)
        for role in (*ROLES, access.ANONYMOUS):
            for scope in ("own", "other"):
                url, query = _request(world, path, op, scope)
                headers = {**world.headers(role), "If-Match": '"999999"'}
                want = _expectation(policy, role, scope)
                if path.endswith("/events/stream"):
                    with world.http.stream("GET", url, params=query, headers=headers) as r:
                        status, text = r.status_code, ""
                else:
                    body = {} if method in ("POST", "PUT") else None
                    r = world.http.request(method, url, params=query, headers=headers, json=body)
                    status, text = r.status_code, r.text
                checked += 1
                where = f"{method} {path} as {role} ({scope}): {status}"
                if status >= 500:
                    failures.append(f"{where} server error {text[:200]}")
                elif want in ("401", "403") and str(status) != want:
                    failures.append(f"{where}, the table says {want}")
                elif want == "allowed" and status in (401, 403):
                    failures.append(f"{where}, the table allows it: {text[:200]}")
                if (
                    status == 200
                    and role in AGENCY_OF
                    and (world.ids["other"] in text or world.receipts["other"] in text)
                ):
                    failures.append(f"{where} shows another agency's dossier")
    assert checked > 400
    assert not failures, "\n".join(failures)


def test_a_supervisor_never_verifies_or_proves_another_subtree(world: World) -> None:
    supervisor = world.headers("supervisor")
    other, own = world.ids["other"], world.ids["own"]
    r = world.http.get("/api/v1/audit/verify", params={"dossier_id": other}, headers=supervisor)
    assert r.status_code == 403, r.text
    assert world.receipts["other"] not in r.text
    r = world.http.get(f"/api/v1/dossiers/{other}/events/1/proof", headers=supervisor)
    assert r.status_code == 403, r.text
    # The whole store names other agencies' dossiers: a supervisor names one of its own.
    assert world.http.get("/api/v1/audit/verify", headers=supervisor).status_code == 403
    r = world.http.get("/api/v1/audit/verify", params={"dossier_id": own}, headers=supervisor)
    assert r.status_code == 200 and r.json()["ok"], r.text
    r = world.http.get(f"/api/v1/dossiers/{own}/events/1/proof", headers=supervisor)
    assert r.status_code == 200, r.text
    # The supervisor of one ward, as #16 found it.
    ward = issue_token(
        SECRET,
        role="supervisor",
        sub="ward-chief",
        agency_code=OWN_WARD,
        now=world.clock(),
        ttl=timedelta(days=3650),
    )
    ward_chief = {"Authorization": f"Bearer {ward}"}
    r = world.http.get("/api/v1/audit/verify", params={"dossier_id": other}, headers=ward_chief)
    assert r.status_code == 403, r.text
    assert world.http.get(f"/api/v1/dossiers/{other}/events/1/proof", headers=ward_chief).status_code == 403
    assert world.http.get(f"/api/v1/dossiers/{own}/events/1/proof", headers=ward_chief).status_code == 200
    # search and inbox: never another subtree's rows
    r = world.http.get(
        "/api/v1/dossiers", params={"receipt_code": world.receipts["other"]}, headers=supervisor
    )
    assert r.status_code == 200 and r.json()["items"] == []


def test_an_officer_of_another_agency_learns_nothing_from_a_command(world: World) -> None:
    stranger = world.headers("officer")  # W.01, no part in the other dossier
    for extra in ({}, {"If-Match": '"1"'}, {"If-Match": '"7"'}):
        r = world.http.post(
            f"/api/v1/dossiers/{world.ids['other']}/result-ready", json={}, headers={**stranger, **extra}
        )
        assert r.status_code == 403, r.text
        assert world.receipts["other"] not in r.text and '"version"' not in r.text


def test_the_catalogue_refuses_a_parent_cycle(world: World) -> None:
    admin = world.headers("admin")
    put = world.http.put
    assert (
        put("/api/v1/agencies/Z", json={"name": "Z", "level": "district"}, headers=admin).status_code == 201
    )
    r = put("/api/v1/agencies/Y", json={"name": "Y", "level": "commune", "parent_code": "Z"}, headers=admin)
    assert r.status_code == 201, r.text
    r = put("/api/v1/agencies/Z", json={"name": "Z", "level": "district", "parent_code": "Y"}, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("parent-cycle") and "Z -> Y -> Z" in r.json()["detail"]
    r = put("/api/v1/agencies/Z", json={"name": "Z", "level": "district", "parent_code": "Z"}, headers=admin)
    assert r.status_code == 422, r.text
    r = world.http.get("/api/v1/agencies/Z", headers=admin)
    assert r.json()["parent_code"] is None
