"""The API's default JSON response: orjson's bytes, without the framework's deprecation warning."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from fastapi.exceptions import FastAPIDeprecationWarning
from fastapi.testclient import TestClient

from gateways.bootstrap import Container
from gateways.http.app import create_app
from gateways.http.responses import OrjsonResponse


def test_routes_answer_json_without_a_deprecation_warning(make_container: Callable[[], Container]) -> None:
    app = create_app(make_container())
    with warnings.catch_warnings():
        warnings.simplefilter("error", FastAPIDeprecationWarning)
        with TestClient(app) as client:
            health = client.get("/healthz")
            missing = client.get("/api/v1/dossiers/00000000-0000-0000-0000-000000000000")
    assert health.status_code == 200 and health.headers["content-type"] == "application/json"
    assert health.content == b'{"status":"ok"}'  # orjson's compact bytes
    assert missing.status_code in (401, 404)  # an error still answers problem+json
    assert missing.headers["content-type"] == "application/problem+json"


def test_non_string_keys_are_written_as_before() -> None:
    assert OrjsonResponse({1: "a", "b": [1.5, None]}).body == b'{"1":"a","b":[1.5,null]}'
