"""The OpenAPI document tells clients the truth: which operations need a bearer token, and
that every error is an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from gateways.http import access, report_schemas, schemas
from gateways.http.app import create_app
from tests.conftest import PG_URL, FakeClock
from tests.e2e.test_api import DEPT, WARD, Api, _provisioned, _receive
from tests.serving import serve

SECRET = "test-secret-of-at-least-thirty-two-bytes"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(make_container: Any, clock: FakeClock) -> Iterator[Api]:
    with serve(create_app(make_container())) as base:
        yield from _provisioned(Api(base, SECRET, clock))


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method.upper(), path, operation


def test_the_document_declares_the_bearer_scheme_where_a_token_is_needed(api: Api) -> None:
    document = api.http.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "a token from `lienthong token --role ROLE [--agency CODE]`",
    }
    checked = 0
    for method, path, operation in _operations(document):
        public = access.policy_for(method, path).public
        assert ("security" in operation) is not public, (method, path)
        checked += 1
    assert checked > 30
    lookup = document["paths"]["/api/v1/lookup/{receipt_code}"]["get"]
    assert "security" not in lookup  # the citizen needs no token


def test_every_operation_declares_its_problems_and_the_server_answers_them(api: Api) -> None:
    document = api.http.get("/openapi.json").json()
    schema = document["components"]["schemas"]["Problem"]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        for status in ("422", "503"):
            assert responses[status]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
        if not access.policy_for(method, path).public:
            assert {"401", "403"} <= set(responses), (method, path)
    # What the server sends for an error has the declared shape.
    answer = api.get("/api/v1/dossiers/00000000-0000-4000-8000-000000000000")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert set(schema["required"]) <= set(body)
    assert all(isinstance(body[k], str) for k in ("type", "title", "detail")) and body["status"] == 404


def _problem_in(api: Api, language: str | None, path: str, body: Any) -> tuple[dict[str, Any], str]:
    headers = {**api.token("officer", WARD), "Accept-Language": language or ""}
    if language is None:
        del headers["Accept-Language"]
        r = httpx.post(str(api.http.base_url.join(path)), json=body, headers=headers)
    else:
        r = api.http.post(path, json=body, headers=headers)
    assert r.headers["content-type"].startswith(PROBLEM), r.text
    assert "Accept-Language" in r.headers["vary"]
    return {"status": r.status_code, **r.json()}, r.headers["content-language"]


def test_the_same_refused_request_in_vietnamese_and_in_english(api: Api) -> None:
    dossier = _receive(api).json()["id"]
    path = f"/api/v1/dossiers/{dossier}/result-returned"
    en, en_language = _problem_in(api, "en-US,en;q=0.9", path, {})
    vi, vi_language = _problem_in(api, "vi-VN,vi;q=0.9,en;q=0.5", path, {})
    default, default_language = _problem_in(api, None, path, {})
    assert en["status"] == vi["status"] == 409 and en["type"] == vi["type"]
    assert (en["title"], en["detail"], en_language) == (
        "Dossier state does not allow this",
        "the result is not ready",
        "en",
    )
    assert (vi["title"], vi["detail"], vi_language) == (
        "Trạng thái hồ sơ không cho phép thao tác này",
        "chưa có kết quả",
        "vi",
    )
    assert (default["title"], default["detail"], default_language) == (vi["title"], vi["detail"], "vi")
    # A body the API cannot take: the field errors are told in the language too.
    en, _ = _problem_in(api, "en", f"/api/v1/dossiers/{dossier}/handoffs", {"note": "x"})
    vi, _ = _problem_in(api, "vi", f"/api/v1/dossiers/{dossier}/handoffs", {"note": "x"})
    assert en["status"] == vi["status"] == 422
    assert (en["title"], en["detail"]) == ("Invalid request", "to_agency_code: Field required")
    assert (vi["title"], vi["detail"]) == ("Yêu cầu không hợp lệ", "to_agency_code: bắt buộc")
    assert en["errors"] == vi["errors"]  # the machine-readable part does not change


def _declared(api: Api, method: str, path: str, status: str = "200") -> type[BaseModel]:
    """The model the document declares for an operation's answer."""
    document = api.http.get("/openapi.json").json()
    ref = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"][
        "$ref"
    ]
    return _model(ref.rsplit("/", 1)[1])


def _model(name: str) -> type[BaseModel]:
    """A declared model by its OpenAPI name (the report models live in their own module)."""
    model: type[BaseModel] = getattr(schemas, name, None) or getattr(report_schemas, name)
    return model


def assert_conforms(http: httpx.Client, response: httpx.Response, method: str, template: str) -> None:
    """`response` has exactly the shape the document declares for its operation and status: a
    JSON body validates against the (closed) model, another body has a declared media type.
    The feature tests call it on answers Schemathesis rarely reaches (files, ratings)."""
    document = http.get("/openapi.json").json()
    declared = document["paths"][template][method.lower()]["responses"][str(response.status_code)]
    media = response.headers["content-type"].split(";")[0].strip()
    assert media in declared["content"], (method, template, response.status_code, media)
    if media == "application/json":
        name = declared["content"][media]["schema"]["$ref"].rsplit("/", 1)[1]
        _model(name).model_validate(response.json())


def test_real_answers_have_exactly_the_declared_shape(api: Api, clock: FakeClock) -> None:
    """Commands and reads on a real walk, checked against the models the document declares
    (closed: an undeclared field fails), beside the generated cases of test_schemathesis."""
    made = _receive(api)
    dossier = made.json()["id"]
    checked = [(made, "post", "/api/v1/dossiers", "201")]
    walk = [
        ("handoffs", {"to_agency_code": DEPT, "note": "xin chuyển"}, "officer", WARD),
        ("handoffs/accept", {}, "officer", DEPT),
        ("decision", {"outcome": "approved", "decision_number": "12/QĐ"}, "officer", DEPT),
    ]
    for command, body, role, agency in walk:
        r = api.post(f"/api/v1/dossiers/{dossier}/{command}", body, role, agency)
        assert r.status_code == 200, r.text
        checked.append((r, "post", f"/api/v1/dossiers/{{dossier_id}}/{command}", "200"))
    for template, concrete in (
        ("/api/v1/dossiers/{dossier_id}", f"/api/v1/dossiers/{dossier}"),
        ("/api/v1/dossiers/{dossier_id}/events", f"/api/v1/dossiers/{dossier}/events"),
        ("/api/v1/dossiers/{dossier_id}/control-sheet", f"/api/v1/dossiers/{dossier}/control-sheet"),
        ("/api/v1/dossiers", "/api/v1/dossiers"),
        ("/api/v1/agencies/{code}/inbox", f"/api/v1/agencies/{DEPT}/inbox"),
        ("/api/v1/agencies", "/api/v1/agencies"),
        ("/api/v1/agencies/{code}", f"/api/v1/agencies/{WARD}"),
        ("/api/v1/procedures", "/api/v1/procedures"),
    ):
        checked.append((api.get(concrete), "get", template, "200"))
    for response, method, template, status in checked:
        assert str(response.status_code) == status, response.text
        _declared(api, method, template, status).model_validate(response.json())
    assert len(checked) == 12


def test_every_operation_declares_the_body_of_its_success(api: Api) -> None:
    """A route added without a response model fails here (and its answers are then checked by
    test_schemathesis against the model it declares)."""
    document = api.http.get("/openapi.json").json()
    components = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        successes = {s: a for s, a in operation["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, answer in successes.items():
            content = answer.get("content") or {}
            assert content, (method, path, status)
            for media, declared in content.items():
                schema = declared.get("schema") or {}
                if media == "application/json":
                    ref = schema.get("$ref", "")
                    name = ref.rsplit("/", 1)[-1]
                    assert name in components, f"{method} {path} {status}: no response model ({schema})"
                    assert components[name].get("additionalProperties") is False, name
                else:
                    assert schema.get("type") == "string", (method, path, media)
    # A status a route answers with its own body keeps it beside the problem: /readyz's 503.
    unready = document["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert unready["application/json"]["schema"]["$ref"].endswith("/Readiness") and PROBLEM in unready


@pytest.mark.postgres
@pytest.mark.integration
def test_a_value_postgresql_cannot_store_is_a_422_not_a_500(
    make_container: Any, clock: FakeClock, pg_database: Callable[..., str]
) -> None:
    """Found probing with generated values: a NUL character in a path, a query or a body reached
    PostgreSQL (which refuses it in text) and answered 500, and the server then dropped the
    keep-alive connection (the client's next request on it was reset)."""
    if not PG_URL:
        pytest.fail("LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`")
    with serve(create_app(make_container(pg_database()))) as base:
        api = Api(base, SECRET, clock)
        answers = [
            api.http.put(
                "/api/v1/agencies/%00", json={"name": "x", "level": "commune"}, headers=api.token("admin")
            ),
            api.http.put(
                "/api/v1/agencies/A.1",
                json={"name": "x\x00y", "level": "commune"},
                headers=api.token("admin"),
            ),
            api.get("/api/v1/dossiers", receipt_code="\x00"),
            api.http.get("/api/v1/lookup/%00", params={"secret": "x"}),
        ]
        for r in answers:
            assert r.status_code == 422, r.text
            body = r.json()
            # Refused before any store sees it; a catalogue code or name says which field.
            assert body["type"].endswith(("/invalid-value", "/invalid-request")), body
            assert "NUL" in body["detail"] or "U+0000" in body["detail"], body
        api.http.close()
