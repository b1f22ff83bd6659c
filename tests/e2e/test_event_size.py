"""A command whose event would not fit one record of the Kafka events topic is refused with 413
problem+json naming the limit, and nothing is recorded.

With the default body limit (256 KiB) no command comes near it. An operator who raises
LIENTHONG_MAX_BODY_BYTES lets an admin give a procedure a route long enough that its snapshot
in every receipt passes MAX_EVENT_BYTES; stored, such a receipt would stop the relay before it
for good (decision 207).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.limits import MAX_EVENT_BYTES
from gateways.http.app import create_app
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, DEPT, WARD, Api, _provisioned, assert_problem

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def container(tmp_path: Path, clock: FakeClock) -> Iterator[Container]:
    settings = Settings(
        data_dir=tmp_path / "var",
        event_store_url=f"sqlite:///{tmp_path / 'events.sqlite'}",
        jwt_secret=SECRET,
        max_body_bytes=4 * MAX_EVENT_BYTES,
    )
    made = bootstrap(settings, clock=clock)
    yield made
    made.close()


@pytest.fixture
def api(container: Container, clock: FakeClock) -> Iterator[Api]:
    api = Api("http://testserver", SECRET, clock)
    api.http.close()
    api.http = TestClient(create_app(container), headers={"Accept-Language": "en"})
    yield from _provisioned(api)


def test_a_receipt_too_large_for_the_events_topic_gets_413_and_nothing_is_recorded(
    api: Api, container: Container, clock: FakeClock
) -> None:
    clock.set("2026-08-28T09:00:00+07:00")
    budget = 2**-10  # exact in binary: the budgets sum to the deadline exactly
    steps = (
        RouteStep(agency_code=WARD, budget_working_hours=budget),
        RouteStep(agency_code=DEPT, budget_working_hours=budget),
    )
    # More than 100 bytes per pair of steps in the receipt's route: past the limit. The API
    # refuses a route of more than 20 steps (decision 219); a catalogue loaded otherwise (a seed
    # file, an older catalogue) is held to nothing of the kind, and the store is the last guard.
    route = steps * (MAX_EVENT_BYTES // 100)
    container.catalogue.put_procedure(
        Procedure(
            code="BIG.01",
            name="Một thủ tục dài",
            field="Đất đai",
            deadline_working_hours=len(route) * budget,
            supplement_policy=SupplementPolicy.RESTART,
            route=route,
        )
    )
    body: dict[str, Any] = {
        "name": "Một thủ tục dài",
        "field": "Đất đai",
        "deadline_working_hours": len(route) * budget,
        "route": [{"agency_code": s.agency_code, "budget_working_hours": budget} for s in route],
    }
    refused_route = api.http.put("/api/v1/procedures/BIG.02", json=body, headers=api.token("admin"))
    assert refused_route.status_code == 422 and "at most 20 steps" in refused_route.text
    before = container.store.max_notification_id()

    receive = {"procedure_code": "BIG.01", "channel": "direct", "applicant": APPLICANT}
    refused = api.post("/api/v1/dossiers", receive)
    assert refused.status_code == 413, refused.text[:300]
    problem = assert_problem(refused, 413)
    assert problem["type"].endswith("/event-too-large")
    assert f"at most {MAX_EVENT_BYTES} bytes" in problem["detail"]
    assert problem["event_bytes"] > problem["limit_bytes"]
    assert MAX_EVENT_BYTES - 2048 < problem["limit_bytes"] < MAX_EVENT_BYTES
    assert container.store.max_notification_id() == before  # nothing recorded

    # The writer goes on: a receipt of a procedure of ordinary size is recorded.
    ordinary = api.post("/api/v1/dossiers", {**receive, "procedure_code": "DD.01"})
    assert ordinary.status_code == 201, ordinary.text
    assert container.store.max_notification_id() > before
