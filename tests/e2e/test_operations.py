"""What an operator relies on: metrics after a few commands, one JSON log line per request
(with its request id, without applicant data), 429 with Retry-After past a rate limit,
security headers, CORS from the settings only, `Allow` on 405."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateways.auth import issue_token
from gateways.bootstrap import bootstrap
from gateways.http.app import create_app
from gateways.logs import JsonFormatter
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.serving import serve

SECRET = "test-secret-of-at-least-thirty-two-bytes"
WARD = "W.01"
APPLICANT = {"name": "Lê Thị Hoa", "id_number": "079301112222", "phone": "0909333444"}


class Client:
    def __init__(self, http: httpx.Client, clock: FakeClock) -> None:
        self.http = http
        self.clock = clock

    def auth(self, role: str, agency: str | None = None, sub: str | None = None) -> dict[str, str]:
        token = issue_token(
            SECRET,
            role=role,
            sub=sub or f"{role}-ops",
            agency_code=agency,
            now=self.clock(),
            ttl=timedelta(days=3650),
        )
        return {"Authorization": f"Bearer {token}"}

    def receive(self, **headers: str) -> httpx.Response:
        return self.http.post(
            "/api/v1/dossiers",
            json={"procedure_code": "P.1", "channel": "direct", "applicant": APPLICANT},
            headers={**self.auth("officer", WARD), **headers},
        )


def _client(tmp_path: Any, clock: FakeClock, **settings: Any) -> Iterator[Client]:
    container = bootstrap(Settings(data_dir=tmp_path / "var", jwt_secret=SECRET, **settings), clock=clock)
    try:
        with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=30) as http:
            c = Client(http, clock)
            admin = c.auth("admin")
            http.put(
                f"/api/v1/agencies/{WARD}", json={"name": "UBND phường", "level": "commune"}, headers=admin
            ).raise_for_status()
            procedure = {
                "name": "Thủ tục",
                "deadline_working_hours": 16,
                "route": [{"agency_code": WARD, "budget_working_hours": 16}],
            }
            http.put("/api/v1/procedures/P.1", json=procedure, headers=admin).raise_for_status()
            yield c
    finally:
        container.close()


@pytest.fixture
def client(tmp_path: Any, clock: FakeClock) -> Iterator[Client]:
    yield from _client(tmp_path, clock)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_after_a_few_commands(client: Client) -> None:
    ids = [client.receive().json()["id"] for _ in range(3)]
    r = client.http.post(
        f"/api/v1/dossiers/{ids[0]}/result-ready", json={}, headers=client.auth("officer", WARD)
    )
    assert r.status_code in (200, 409), r.text
    stale = client.http.post(
        f"/api/v1/dossiers/{ids[1]}/withdrawal",
        json={"reason": "rút"},
        headers={**client.auth("officer", WARD), "If-Match": '"99"'},
    )
    assert stale.status_code == 409
    r = client.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = _samples(r.text)
    assert m[("lienthong_commands_total", (("command", "receive"), ("outcome", "ok")))] == 3
    assert m[("lienthong_commands_total", (("command", "withdraw"), ("outcome", "conflict")))] == 1
    assert m[("lienthong_command_duration_seconds_count", (("command", "receive"),))] == 3
    assert m[("lienthong_command_duration_seconds_sum", (("command", "receive"),))] > 0
    batches = m[("lienthong_writer_batch_size_count", ())]
    assert batches >= 4 and m[("lienthong_writer_batch_size_sum", ())] >= 5
    assert m[("lienthong_writer_jobs_total", ())] >= 5
    assert m[("lienthong_events_total", ())] >= 3
    lags = {k: v for k, v in m.items() if k[0] == "lienthong_projector_lag_events"}
    assert lags and all(v == 0 for v in lags.values()), lags  # embedded views follow at once
    assert ("lienthong_checkpoint_waiting_events", ()) in m
    route = (("method", "POST"), ("route", "/api/v1/dossiers"), ("status", "201"))
    assert m[("lienthong_http_requests_total", route)] == 3
    assert "lienthong_relay_lag_events" not in r.text  # no relay without Kafka
    assert APPLICANT["name"] not in r.text and APPLICANT["id_number"] not in r.text


def test_one_json_log_line_per_request_with_its_id_and_no_applicant_data(client: Client) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("lienthong.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        created = client.receive(**{"X-Request-ID": "req-abc.123"})
        assert created.headers["x-request-id"] == "req-abc.123"
        dossier = created.json()
        looked = client.http.get(
            f"/api/v1/lookup/{dossier['receipt_code']}", params={"secret": dossier["lookup_secret"]}
        )
        assert looked.status_code == 200
        read = client.http.get(f"/api/v1/dossiers/{dossier['id']}", headers=client.auth("inspector"))
        assert read.status_code == 200
        # The line is written once the response is sent, which may be just after the client has it.
        deadline = time.monotonic() + 20
        while len(stream.getvalue().splitlines()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        access.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    entries = [orjson.loads(line) for line in lines]
    first, lookup, inspector = entries
    assert first["request_id"] == "req-abc.123" and first["status"] == 201
    assert first["sub"] == "officer-ops" and first["role"] == "officer" and first["agency_code"] == WARD
    assert first["dossier_id"] == dossier["id"] and first["route"] == "/api/v1/dossiers"
    assert first["time"].endswith("+00:00") and first["level"] == "info"
    assert lookup["request_id"] != first["request_id"] and "sub" not in lookup
    assert inspector["dossier_id"] == dossier["id"] and inspector["role"] == "inspector"
    text = stream.getvalue()
    for secret in (dossier["lookup_secret"], APPLICANT["name"], APPLICANT["id_number"], APPLICANT["phone"]):
        assert secret not in text


def test_a_traceback_stays_on_one_line() -> None:
    logger = logging.getLogger("lienthong.test")
    record: logging.LogRecord | None = None
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logger.makeRecord("lienthong.test", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError" in orjson.loads(line)["exc"]


def test_429_with_retry_after_past_the_lookup_and_command_limits(tmp_path: Any, clock: FakeClock) -> None:
    for c in _client(
        tmp_path,
        clock,
        rate_lookups_per_address=0.01,
        rate_lookups_burst=5,
        rate_commands_per_token=0.01,
        rate_commands_burst=3,
    ):
        statuses = [
            c.http.get("/api/v1/lookup/NOPE-1", params={"secret": f"guess-{i}"}).status_code for i in range(8)
        ]
        assert statuses[:5] == [404] * 5 and statuses[5:] == [429] * 3
        r = c.http.get("/api/v1/lookup/NOPE-1", params={"secret": "again"})
        assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["retry-after"]) >= 1 and r.json()["type"].endswith("rate-limited")
        # commands: per token — another subject still passes
        answers = [c.receive().status_code for _ in range(4)]
        assert answers == [201, 201, 201, 429], answers
        other = c.http.post(
            "/api/v1/dossiers",
            json={"procedure_code": "P.1", "channel": "direct", "applicant": APPLICANT},
            headers=c.auth("officer", WARD, sub="another-officer"),
        )
        assert other.status_code == 201
        m = _samples(c.http.get("/metrics").text)
        assert m[("lienthong_rate_limited_total", (("limit", "lookup_per_address"),))] == 4
        assert m[("lienthong_rate_limited_total", (("limit", "commands_per_token"),))] == 1


def test_security_headers_cors_and_allow(client: Client) -> None:
    r = client.http.get("/api/v1/agencies", headers=client.auth("inspector"))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = client.http.get("/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # No origin is allowed unless the settings name it.
    r = client.http.options(
        "/api/v1/agencies",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.http.get(
        "/api/v1/agencies", headers={**client.auth("admin"), "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in r.headers
    # 405 names every method of the path (GET from one route, PUT from another).
    r = client.http.delete(f"/api/v1/agencies/{WARD}", headers=client.auth("admin"))
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "PUT"}


def test_cors_allow_list_from_the_settings(tmp_path: Any, clock: FakeClock) -> None:
    for c in _client(tmp_path, clock, cors_allow_origins=["https://portal.example.gov.vn"]):
        r = c.http.get(
            "/api/v1/agencies", headers={**c.auth("admin"), "Origin": "https://portal.example.gov.vn"}
        )
        assert r.headers["access-control-allow-origin"] == "https://portal.example.gov.vn"
        r = c.http.get("/api/v1/agencies", headers={**c.auth("admin"), "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
