"""The OpenAPI document tells clients the truth: which operations need a bearer token, and
that every error is an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateways.http import access
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.e2e.test_api import Api, _provisioned
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
