"""A result of an inbound command is always small enough to be published (gateways/kafka/inbound)."""

from __future__ import annotations

import orjson

from gateways.kafka.inbound import bounded


def test_a_result_that_fits_is_published_as_it_is() -> None:
    result = {"idempotency_key": "k", "status": 200, "dossier": {"id": "d", "version": 3}, "problem": None}
    assert bounded(result, limit=1000) is result


def test_a_dossier_over_the_limit_keeps_what_matches_it_and_the_applicant_s_secret() -> None:
    dossier = {
        "id": "d-1",
        "version": 7,
        "receipt_code": "R-1",
        "lookup_secret": "S",
        "steps": ["x" * 500] * 20,
    }
    result = {"idempotency_key": "k", "status": 201, "dossier": dossier, "problem": None}
    short = bounded(result, limit=2000)
    assert len(orjson.dumps(short)) <= 2000
    assert short["status"] == 201 and short["problem"] is None
    assert short["dossier"] == {"id": "d-1", "version": 7, "receipt_code": "R-1", "lookup_secret": "S"}
    assert "GET /api/v1/dossiers/d-1" in short["omitted"]


def test_a_problem_over_the_limit_keeps_its_type_and_status_and_its_first_field_errors() -> None:
    errors = [
        {"name": f"body.{'f' * 300}{n}", "reason": "Extra inputs are not permitted"} for n in range(400)
    ]
    problem = {
        "type": "https://lienthong.gov.vn/problems/invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": "; ".join(e["name"] for e in errors),
        "errors": errors,
    }
    short = bounded(
        {"idempotency_key": "k", "status": 422, "dossier": None, "problem": problem}, limit=20_000
    )
    assert len(orjson.dumps(short)) <= 20_000
    assert short["problem"]["type"] == problem["type"] and short["problem"]["status"] == 422
    assert len(short["problem"]["errors"]) == 50 and "400" in short["omitted"]
    assert len(short["problem"]["detail"]) < 1100
