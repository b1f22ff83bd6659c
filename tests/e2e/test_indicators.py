"""Service indicators through real HTTP: the citizen's rating, and hand-computed indicators of
a small batch per agency and per level."""

from __future__ import annotations

from typing import Any

from tests.conftest import FakeClock
from tests.e2e.test_api import APPLICANT, Api
from tests.e2e.test_contract import assert_conforms
from tests.e2e.test_reports import OTHER, WARD, _at, _problem, api

__all__ = ["api"]  # the fixture, provisioned as for the SLA reports

PATH = "/api/v1/reports/indicators"


def _batch(api: Api, clock: FakeClock) -> dict[str, Any]:
    """At the ward: A direct, resolved early, returned and rated by the citizen; B online, open.
    At the other ward: C direct, withdrawn. Now is Mon 2 Mar 2026 11:00."""
    new = {"procedure_code": "DD.01", "applicant": APPLICANT}
    a = _at(api, clock, "2026-03-02T08:00:00+07:00", "/api/v1/dossiers", {**new, "channel": "direct"})
    b = _at(api, clock, "2026-03-02T08:30:00+07:00", "/api/v1/dossiers", {**new, "channel": "online"})
    _at(
        api,
        clock,
        "2026-03-02T09:00:00+07:00",
        f"/api/v1/dossiers/{a['id']}/decision",
        {"outcome": "approved"},
    )
    ready = _at(api, clock, "2026-03-02T09:30:00+07:00", f"/api/v1/dossiers/{a['id']}/result-ready", {})
    assert ready["timeliness"] == "early"
    _at(api, clock, "2026-03-02T10:00:00+07:00", f"/api/v1/dossiers/{a['id']}/result-returned", {})
    c = _at(
        api,
        clock,
        "2026-03-03T08:00:00+07:00",
        "/api/v1/dossiers",
        {**new, "channel": "direct", "receiving_agency_code": OTHER},
        OTHER,
    )
    _at(
        api,
        clock,
        "2026-03-03T09:00:00+07:00",
        f"/api/v1/dossiers/{c['id']}/withdrawal",
        {"reason": "rút"},
        OTHER,
    )
    clock.set("2026-03-03T10:00:00+07:00")
    return {"a": a, "b": b, "c": c}


def test_the_citizen_rates_once_after_the_result_was_returned(api: Api, clock: FakeClock) -> None:
    d = _batch(api, clock)
    a, b = d["a"], d["b"]
    rate = {"receipt_code": a["receipt_code"], "secret": a["lookup_secret"], "rating": "very_satisfied"}
    wrong = api.http.post("/api/v1/lookup/satisfaction", json={**rate, "secret": "guess"})
    _problem(wrong, 404)
    _problem(api.http.post("/api/v1/lookup/satisfaction", json={**rate, "rating": "5 stars"}), 422)
    r = api.http.post("/api/v1/lookup/satisfaction", json=rate)  # no token: the secret is the proof
    assert r.status_code == 201, r.text
    assert_conforms(api.http, r, "POST", "/api/v1/lookup/satisfaction")
    assert r.json() == {
        "receipt_code": a["receipt_code"],
        "rating": "very_satisfied",
        "recorded_at": "2026-03-03T10:00:00+07:00",
    }
    assert "already recorded" in _problem(api.http.post("/api/v1/lookup/satisfaction", json=rate), 409)
    # The desk cannot rate it again either; nor rate B, whose result was not returned.
    again = api.post(f"/api/v1/dossiers/{a['id']}/satisfaction", {"rating": "satisfied"})
    assert "already recorded" in _problem(again, 409)
    early = api.post(f"/api/v1/dossiers/{b['id']}/satisfaction", {"rating": "satisfied"})
    assert "once the result was returned" in _problem(early, 409)
    rated = api.get(f"/api/v1/dossiers/{a['id']}/events").json()["items"][-1]
    assert rated["type"] == "SatisfactionRecorded" and rated["agency_code"] == WARD
    assert rated["actor"]["role"] == "citizen" and rated["payload"]["rating"] == "very_satisfied"


def test_indicators_hand_computed_per_agency_and_level(api: Api, clock: FakeClock) -> None:
    d = _batch(api, clock)
    # The ward's officer takes the rating at the desk.
    clock.set("2026-03-03T10:30:00+07:00")
    rated = api.post(f"/api/v1/dossiers/{d['a']['id']}/satisfaction", {"rating": "not_satisfied"})
    assert rated.status_code == 200, rated.text
    assert_conforms(api.http, rated, "POST", "/api/v1/dossiers/{dossier_id}/satisfaction")
    answered = api.get(PATH, group_by="agency", period="2026-03")
    assert_conforms(api.http, answered, "GET", PATH)
    body = answered.json()
    assert (body["from"], body["to"], body["period"]) == ("2026-02-15", "2026-03-14", "2026-03")
    by = {row["group"]: row for row in body["rows"]}
    assert set(by) == {WARD, OTHER}

    def values(row: dict[str, Any]) -> dict[str, tuple[int, int, float | None]]:
        return {k: (i["numerator"], i["denominator"], i["value"]) for k, i in row["indicators"].items()}

    assert values(by[WARD]) == {
        "on_time_rate": (1, 1, 1.0),  # A, early
        "resolved_per_received": (1, 2, 0.5),  # A of A and B
        "online_rate": (1, 2, 0.5),  # B
        "satisfaction_rate": (0, 1, 0.0),  # A: not satisfied
        "rating_coverage": (1, 1, 1.0),
        "digitization_rate": (0, 2, 0.0),  # no files attached
        "result_digitization_rate": (0, 1, 0.0),
    }
    assert values(by[OTHER]) == {
        "on_time_rate": (0, 0, None),  # nothing resolved: no value, not 0 %
        "resolved_per_received": (0, 1, 0.0),
        "online_rate": (0, 1, 0.0),
        "satisfaction_rate": (0, 0, None),
        "rating_coverage": (0, 0, None),
        "digitization_rate": (0, 1, 0.0),
        "result_digitization_rate": (0, 0, None),
    }
    assert by[OTHER]["counts"]["closed_without_result"] == 1
    assert (
        body["total"]["counts"]["received"] == 3
        and body["total"]["indicators"]["online_rate"]["value"] == 0.333333
    )
    assert body["composite_score"] is None
    assert {m["group"] for m in body["not_measurable"]} == {"online_payment", "publicity"}
    assert body["view_position"] > 0 and body["lag"] == 0
    levels = api.get(PATH, group_by="level", period="2026-03").json()["rows"]
    assert [(row["group"], row["counts"]["received"], row["counts"]["resolved"]) for row in levels] == [
        ("commune", 3, 1)
    ]
    # One day only: the other ward's dossier came on 3 March.
    day = api.get(PATH, **{"from": "2026-03-02", "to": "2026-03-02"}).json()
    assert [row["group"] for row in day["rows"]] == [WARD]


def test_who_may_read_and_bad_parameters(api: Api, clock: FakeClock) -> None:
    _batch(api, clock)
    mine = api.get(PATH, role="officer", agency=WARD, period="2026-03").json()
    assert [row["group"] for row in mine["rows"]] == [WARD]
    assert "own agency" in _problem(api.get(PATH, role="officer", agency=WARD, agency_code=OTHER), 403)
    _problem(api.get(PATH, role="integration", period="2026-03"), 403)
    assert "per local day" in _problem(
        api.get(PATH, **{"from": "2026-03-01T08:00:00+07:00", "to": "2026-03-02"}), 422
    )
    assert "YYYY-MM" in _problem(api.get(PATH, period="2026-13"), 422)
    _problem(api.get(PATH, group_by="procedure"), 422)
