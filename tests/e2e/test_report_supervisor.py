"""A province's supervisor sends the periodic Biểu 06 and reads what it counts, through real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateways.bootstrap import Container
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, Api
from tests.e2e.test_reports import SECRET, WARD, _at, _problem, _provisioned
from tests.serving import serve


@pytest.fixture
def office(make_container: Any, clock: FakeClock) -> Iterator[tuple[Api, Container]]:
    container: Container = make_container()
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            yield api, container


def test_a_period_that_has_not_begun_is_refused_not_filled_with_todays_open_dossiers(
    office: tuple[Api, Container], clock: FakeClock
) -> None:
    api, _ = office
    # One dossier received Mon 2 Mar 2026, still open; now is Tue 10 Mar, in period 2026-03.
    _at(
        api,
        clock,
        "2026-03-02T08:00:00+07:00",
        "/api/v1/dossiers",
        {"procedure_code": "DD.01", "applicant": APPLICANT, "channel": "direct"},
    )
    clock.set("2026-03-10T09:00:00+07:00")
    # Period 2026-04 starts on 15 Mar: nothing of it has happened. It was answered 200 with the
    # open dossier "carried over from the previous period" and overdue, judged before it began.
    for path, extra in (
        ("/api/v1/reports/bieu06", {"agency_code": WARD}),
        ("/api/v1/reports/bieu06/form", {"agency_code": WARD}),
        ("/api/v1/reports/sla", {}),
    ):
        detail = _problem(api.get(path, period="2026-04", **extra), 422)
        assert "2026-03-15T00:00:00+07:00" in detail and "after now" in detail
    late = api.get(
        "/api/v1/reports/bieu06",
        agency_code=WARD,
        **{"from": "2026-03-10T09:00:01+07:00", "to": "2026-03-11"},
    )
    assert "after now" in _problem(late, 422)
    # In Vietnamese by default, like every problem.
    vi = api.http.get(
        "/api/v1/reports/bieu06",
        params={"agency_code": WARD, "period": "2027"},
        headers={**api.token("inspector"), "Accept-Language": "vi"},
    )
    assert "chưa có số liệu để báo cáo" in _problem(vi, 422)
    # The running period is still judged now.
    body = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-03").json()
    assert body["received"]["total"] == 1 and body["judged_at"] == "2026-03-10T09:00:00+07:00"
