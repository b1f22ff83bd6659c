"""Every JSON body the OpenAPI document lists, with one field replaced by something a client
should not send (text of any Unicode category, lone surrogates and NUL included, huge numbers,
the wrong type), as each caller who could send it: the answer is never a 5xx, and an error is
problem+json with a detail. Bounded (a fixed number of derandomized cases, in process); the
stateful cases (commands in every status, uploads, cursors) are in test_hostile_input.py."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.auth import issue_token
from gateways.bootstrap import Container
from gateways.http.app import create_app
from gateways.seed.demo import seed_demo
from tests.conftest import FakeClock

SECRET = "test-secret-of-at-least-thirty-two-bytes"
WARD = "000.21.99.H29"
LAND = "DD.01-2025"

# Each is sent in every field of every JSON body: text no store or answer can hold as such, text
# a header or a file name must not carry, sizes and numbers past any bound, the wrong type.
HOSTILE: list[Any] = [
    "",
    " ",
    "\x00",
    "\ud800",
    "a\udc00b",
    "\r\nX-Injected: 1",
    "\u202e\u200b\ufeff",
    "\U0010ffff",
    "../../etc/passwd",
    "2026-11-18T10:00:00",
    "x" * 5000,
    None,
    True,
    -1,
    0,
    1.5,
    2**63,
    10**30,
    [],
    {},
    ["\ud800"],
    {"a": "\x00"},
]
ODD_TEXT = st.text(
    st.characters(codec=None, categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Co"]), min_size=1, max_size=6
)


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    """A body that passes validation, from the schema's required fields (values known to fit)."""
    known: dict[str, Any] = {
        "procedure_code": LAND,
        "channel": "direct",
        "applicant": {"name": "Nguyễn Văn An", "id_number": "079200001234"},
        "to_agency_code": "000.00.21.H29",
        "agency_code": "000.00.21.H29",
        "reason": "r",
        "question": "q",
        "answer": "a",
        "new_due_at": "2027-01-30T10:00:00+07:00",
        "outcome": "approved",
        "amount_vnd": 1000,
        "rating": "satisfied",
        "receipt_code": "000.21.99.H29-261118-0001",
        "secret": "s",
        "name": "N",
        "level": "commune",
        "role": "officer",
        "deadline_working_hours": 8,
        "route": [{"agency_code": WARD, "budget_working_hours": 8}],
    }
    return {name: known.get(name, "x") for name in schema.get("required", [])}


def _operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    document = app.openapi()
    components = document["components"]["schemas"]
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = components[content["application/json"]["schema"]["$ref"].split("/")[-1]]
            found.append((method.upper(), path, schema))
    return found


@pytest.fixture
def closing() -> Iterator[contextlib.ExitStack]:
    """What the test opens, closed when it ends."""
    with contextlib.ExitStack() as stack:
        yield stack


def test_a_hostile_value_in_any_json_field_is_never_a_server_error(
    make_container: Callable[[], Container], clock: FakeClock, closing: contextlib.ExitStack
) -> None:
    container = make_container()
    container.settings = container.settings.model_copy(update={"demo_login": True})
    seed_demo(container.service, clock(), 3)
    app = create_app(container)
    # Opened once: a client used outside `with` starts an event loop and its thread again for
    # every request.
    client = closing.enter_context(TestClient(app, raise_server_exceptions=False))

    def bearer(role: str, agency: str | None = None) -> dict[str, str]:
        token = issue_token(
            SECRET,
            role=role,
            sub=f"hostile-{role}",
            agency_code=agency,
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        )
        return {"Authorization": f"Bearer {token}"}

    callers = {
        "officer": bearer("officer", WARD),
        "integration": bearer("integration"),
        "admin": bearer("admin"),
        "citizen": {},
    }
    made = client.post(
        "/api/v1/dossiers",
        json=_example({"required": ["procedure_code", "channel", "applicant"]}),
        headers=callers["officer"],
    )
    assert made.status_code == 201, made.text
    operations = _operations(app)
    assert len(operations) > 20

    def caller_of(path: str) -> str:
        if path.startswith(("/api/v1/agencies", "/api/v1/procedures", "/api/v1/privacy")):
            return "admin"
        if path.startswith(("/api/v1/lookup", "/api/v1/demo")):
            return "citizen"
        return "officer"

    def send(method: str, path: str, body: dict[str, Any], caller: str) -> None:
        url = path.replace("{dossier_id}", made.json()["id"]).replace("{code}", "HX.01")
        # Escaped as JSON writes them: a lone surrogate stays `\\ud800` on the wire.
        raw = json.dumps(body, ensure_ascii=True).encode()
        r = client.request(
            method, url, content=raw, headers={**callers[caller], "Content-Type": "application/json"}
        )
        assert r.status_code < 500, (method, path, caller, body, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
            assert r.json()["detail"].strip(), r.text

    sent = 0
    for method, path, schema in operations:
        for name in [*sorted(schema.get("properties", {})), "unexpected"]:
            for value in HOSTILE:
                for caller in (
                    {caller_of(path), "integration"}
                    if "occurred_at" in schema.get("properties", {})
                    else {caller_of(path)}
                ):
                    send(method, path, {**_example(schema), name: value}, caller)
                    sent += 1
    assert sent > 1000

    # And text of the odd categories drawn at random (bounded, the same cases each run).
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation=st.sampled_from(operations), data=st.data(), text=ODD_TEXT)
    def odd(operation: tuple[str, str, dict[str, Any]], data: st.DataObject, text: str) -> None:
        method, path, schema = operation
        name = data.draw(
            st.sampled_from(sorted(schema.get("properties", {})) or ["unexpected"]), label="field"
        )
        send(method, path, {**_example(schema), name: text}, caller_of(path))

    odd()
