"""An agency's inbox on each backend: the dossiers held elsewhere that wait for its opinion (until
it answers; a cutover passes them to the successor; a rebuild gives the same rows), and how many
open dossiers it holds when `limit` cut the list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from gateways.application.cutover import cutover
from gateways.bootstrap import Container
from gateways.http.app import create_app
from gateways.views.parallel import rebuild_in_parallel
from tests.conftest import FakeClock
from tests.e2e.test_api import DEPT, OTHER, WARD, Api, _provisioned, _receive
from tests.e2e.test_contract import assert_conforms
from tests.integration.test_succession import (
    AGRI_DEPT,
    AN_KHANH,
    LAND_BRANCH,
    SECRET,
    THAO_DIEN,
    Office,
    office,
)
from tests.serving import serve

__all__ = ["office"]  # the fixture, shared with the succession tests

pytestmark = pytest.mark.integration

INBOX = "/api/v1/agencies/{code}/inbox"


@pytest.fixture
def served(make_container: Any, backend_url: str, clock: FakeClock) -> Iterator[tuple[Api, Container]]:
    container: Container = make_container(backend_url)
    with serve(create_app(container)) as base:
        for api in _provisioned(Api(base, SECRET, clock)):
            yield api, container


def _inbox(api: Api, agency: str, **params: Any) -> dict[str, Any]:
    r = api.get(INBOX.format(code=agency), role="officer", agency=agency, **params)
    assert r.status_code == 200, r.text
    assert_conforms(api.http, r, "GET", INBOX)
    body: dict[str, Any] = r.json()
    return body


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def _searched(api: Api, agency: str) -> list[str]:
    r = api.get("/api/v1/dossiers", role="officer", agency=agency)
    assert r.status_code == 200, r.text
    return _ids(r.json()["items"])


def _consultation_rows(container: Container) -> list[tuple[str, str, str]]:
    rows = container.view_db.query("SELECT * FROM dossier_consultation")
    return sorted((r["dossier_id"], r["agency_code"], r["requested_at"]) for r in rows)


def test_the_consulted_agency_finds_the_dossier_in_its_inbox_until_it_answers(
    served: tuple[Api, Container], clock: FakeClock
) -> None:
    api, container = served
    asked, kept = _receive(api).json()["id"], _receive(api).json()["id"]
    clock.at += timedelta(hours=1)
    r = api.post(f"/api/v1/dossiers/{asked}/consultations", {"agency_code": DEPT, "question": "Ý kiến?"})
    assert r.status_code == 200, r.text

    dept = _inbox(api, DEPT)
    assert _ids(dept["consultations"]) == [asked] and dept["items"] == []
    assert dept["totals"] == {"incoming": 0, "active": 0, "sent": 0, "consultations": 1}
    assert dept["total"] == 0
    item = dept["consultations"][0]
    assert item["holder_agency_code"] == WARD and item["consultation_requested_at"] == clock().isoformat()
    answer = api.get(f"/api/v1/dossiers/{asked}", role="officer", agency=DEPT).json()["allowed_actions"]
    assert answer == ["answer"]
    assert _searched(api, DEPT) == [asked]  # the consulted agency finds it; another does not
    assert _searched(api, OTHER) == []
    ward = _inbox(api, WARD)  # the asking ward's inbox as before
    assert sorted(_ids(ward["items"])) == sorted([asked, kept]) and ward["consultations"] == []
    assert ward["total"] == 2 and ward["totals"]["consultations"] == 0

    live = _consultation_rows(container)
    assert [row[:2] for row in live] == [(asked, DEPT)]
    container.feed.rebuild()
    assert _consultation_rows(container) == live
    rebuild_in_parallel(container.settings, container.store, container.feed.log, ["dossier_index"], workers=2)
    assert _consultation_rows(container) == live

    clock.at += timedelta(hours=2)
    r = api.post(f"/api/v1/dossiers/{asked}/consultations/answer", {"answer": "Thống nhất"}, agency=DEPT)
    assert r.status_code == 200, r.text
    dept = _inbox(api, DEPT)
    assert dept["consultations"] == [] and dept["totals"]["consultations"] == 0
    assert _searched(api, DEPT) == []
    assert sorted(_ids(_inbox(api, WARD)["items"])) == sorted([asked, kept])
    assert _consultation_rows(container) == []
    container.feed.rebuild()
    assert _consultation_rows(container) == []


def test_a_limited_inbox_reports_how_many_open_dossiers_it_holds(
    served: tuple[Api, Container], clock: FakeClock
) -> None:
    api, _ = served
    received = []
    for _ in range(5):
        clock.at += timedelta(minutes=7)
        received.append(_receive(api).json()["id"])
    r = api.post(f"/api/v1/dossiers/{received[0]}/handoffs", {"to_agency_code": DEPT})
    assert r.status_code == 200, r.text
    whole = _inbox(api, WARD)
    assert whole["total"] == len(whole["items"]) == 5
    for limit in (1, 2, 4):
        part = _inbox(api, WARD, limit=limit)
        assert part["items"] == whole["items"][:limit]
        assert part["total"] == 5
        assert part["totals"] == {"incoming": 0, "active": 4, "sent": 1, "consultations": 0}
    dept = _inbox(api, DEPT, limit=1)
    assert _ids(dept["items"]) == [received[0]] and dept["items"][0]["incoming"]
    assert dept["total"] == 1 and dept["totals"]["incoming"] == 1


def test_a_cutover_passes_an_open_consultation_to_the_successor(office: Office) -> None:
    """Thảo Điền ward asks the land branch of Thủ Đức city; the branch ends on 2025-06-30 and
    the department that succeeds it finds the question in its inbox, asked when it was."""
    o = office
    dossier = o.receive("2025-06-23T08:00", THAO_DIEN, "DD.01")["id"]
    body = {"agency_code": LAND_BRANCH, "question": "Ý kiến về ranh giới thửa đất?"}
    o.ok("2025-06-24T09:00", THAO_DIEN, f"/api/v1/dossiers/{dossier}/consultations", body)
    o.clock.set("2025-07-01T07:00+07:00")
    o.container.feed.catch_up()
    moves = cutover(o.container.service, o.container.index, date(2025, 7, 1), dry_run=False)
    assert (dossier, LAND_BRANCH, AGRI_DEPT, ("consulted",)) in [
        (m.dossier_id, m.from_agency_code, m.to_agency_code, m.parts) for m in moves
    ]
    o.container.feed.catch_up()
    index = o.container.index
    asked, total = index.consulting(AGRI_DEPT, 10)
    assert [(row.dossier_id, at.isoformat()) for row, at in asked] == [
        (dossier, "2025-06-24T09:00:00+07:00")
    ] and total == 1
    assert index.consulting(LAND_BRANCH, 10) == ([], 0)
    live = _consultation_rows(o.container)
    o.container.feed.rebuild()
    assert _consultation_rows(o.container) == live
    o.ok(
        "2025-07-01T09:00", AGRI_DEPT, f"/api/v1/dossiers/{dossier}/consultations/answer", {"answer": "Đúng"}
    )
    o.container.feed.catch_up()
    assert index.consulting(AGRI_DEPT, 10) == ([], 0)
    assert [r.dossier_id for r in index.open_at(AN_KHANH)] == [dossier]  # the ward's heir holds it
