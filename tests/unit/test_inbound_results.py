"""What an inbound command is answered (gateways/kafka/inbound): a result always small enough to be
published, and no field of the command dropped without a word."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest
from faststream.kafka import TestKafkaBroker

from gateways.application.service import secret_hash
from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.limits import MAX_EVENT_BYTES
from gateways.kafka import inbound
from gateways.kafka.app import build_stream
from gateways.kafka.contracts import CommandResult
from gateways.kafka.inbound import bounded
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from tests.unit.test_kafka_fake import capture


class Desk(NamedTuple):
    container: Container
    token: str  # a ward officer's


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A store with the demo's catalogue, read by an inbound consumer, and a ward officer's token."""
    secret = "test-secret-of-at-least-thirty-two-bytes"
    container = bootstrap(
        Settings(data_dir=tmp_path / "var", kafka_bootstrap="127.0.0.1:1", jwt_secret=secret)
    )
    load_catalogue(container.catalogue)
    token = issue_token(
        secret,
        role="officer",
        sub="o@ward",
        agency_code="000.21.99.H29",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    yield Desk(container, token)
    container.close()


def test_a_result_that_fits_is_published_as_it_is() -> None:
    result = {"idempotency_key": "k", "status": 200, "dossier": {"id": "d", "version": 3}, "problem": None}
    assert bounded(result, limit=1000) is result


def test_a_dossier_over_the_limit_keeps_what_matches_it() -> None:
    dossier = {
        "id": "d-1",
        "version": 7,
        "receipt_code": "R-1",
        "steps": ["x" * 500] * 20,
    }
    result = {"idempotency_key": "k", "status": 201, "dossier": dossier, "problem": None}
    short = bounded(result, limit=2000)
    assert len(orjson.dumps(short)) <= 2000
    assert short["status"] == 201 and short["problem"] is None
    assert short["dossier"] == {"id": "d-1", "version": 7, "receipt_code": "R-1"}
    assert "GET /api/v1/dossiers/d-1" in short["omitted"]


def test_the_documented_shortened_dossier_is_what_a_shortened_result_keeps() -> None:
    """The AsyncAPI document said a shortened dossier keeps its lookup secret: a result never
    carries one (decision 212), and an integrator looked for it there."""
    described = CommandResult.model_fields["omitted"].description or ""
    dossier = {"id": "d-1", "version": 1, "receipt_code": "R-1", "lookup_secret_note": "n", "x": "y" * 5000}
    kept = bounded({"idempotency_key": "k", "status": 201, "dossier": dossier, "problem": None}, limit=2000)
    assert all(name.replace("_", " ") in described for name in kept["dossier"])
    assert "secret" not in described


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


def test_a_receive_naming_a_dossier_id_or_a_version_is_refused_not_given_another_id(desk: Desk) -> None:
    """An agency system sending its own dossier_id with `receive` got a 201 for a dossier of
    another id, under a result keyed by its own id; a version was dropped the same way."""
    container = desk.container
    token = desk.token
    body = {
        "procedure_code": "DD.01-2025",
        "channel": "direct",
        "applicant": {"name": "A", "id_number": "1"},
    }

    def receive(key: str, **extra: object) -> bytes:
        return orjson.dumps(
            {"idempotency_key": key, "token": token, "command": "receive", "body": body, **extra}
        )

    outcomes = inbound.execute_batch(
        container,
        [
            receive("own-id", dossier_id="case-2026-17"),
            receive("versioned", expected_version=3),
            receive("new", expected_version=0),
        ],
    )
    [(_, own), (_, versioned), (_, new)] = outcomes
    assert own["status"] == 422 and "dossier_id" in own["problem"]["detail"]
    assert versioned["status"] == 422 and "expected_version" in versioned["problem"]["detail"]
    assert new["status"] == 201
    assert container.store.max_notification_id() == 1


def test_a_command_on_a_dossier_keyed_by_anything_but_its_id_is_refused(desk: Desk) -> None:
    """Keyed by its idempotency key, an `accept` went to another partition than its `handoff`
    and, read by another consumer, ran first: 403 "has no part in this dossier", at random."""
    container = desk.container
    ward = desk.token
    body = {
        "procedure_code": "DD.01-2025",
        "channel": "direct",
        "applicant": {"name": "A", "id_number": "1"},
    }
    receive = {"idempotency_key": "rx", "token": ward, "command": "receive", "body": body}
    [(_, received)] = inbound.execute_batch(container, [orjson.dumps(receive)])
    dossier = received["dossier"]["id"]

    def handoff(key: str) -> bytes:
        return orjson.dumps(
            {
                "idempotency_key": key,
                "token": ward,
                "command": "handoff",
                "dossier_id": dossier,
                "body": {"to_agency_code": "000.00.21.H29"},
            }
        )

    side = build_stream(container, views=["-none-"], with_relay=False)
    results = capture(side, side.topics.results)

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish(handoff("ho-own-key"), topic=side.topics.commands, key=b"ho-own-key")
            await broker.publish(handoff("ho-1"), topic=side.topics.commands, key=dossier.encode())

    asyncio.run(deliver())
    refused, ran = (orjson.loads(r.value) for r in results)
    assert refused["status"] == 422 and "ho-own-key" in refused["problem"]["detail"]
    assert ran["status"] == 200 and ran["dossier"]["pending_handoff_to"] == "000.00.21.H29"
    assert [e.type for e in container.store.load(dossier)] == ["DossierReceived", "HandedOff"]


def test_a_command_on_a_dossier_without_a_record_key_is_refused(desk: Desk) -> None:
    """A keyless record goes to whichever partition the producer picks: a dossier's `handoff`
    sent so could run after its later `accept` sent by the dossier's id. A receive may come
    without a key (API.md: a new dossier has no id to key by yet). The records' keys as the
    consumer reads them from aiokafka (None for no key; the in-memory broker gives b"")."""
    container = desk.container
    body = {
        "procedure_code": "DD.01-2025",
        "channel": "direct",
        "applicant": {"name": "A", "id_number": "1"},
    }
    receive = {"idempotency_key": "rx", "token": desk.token, "command": "receive", "body": body}
    [(_, received)] = inbound.execute_batch(container, [orjson.dumps(receive)], [None])
    assert received["status"] == 201, received
    dossier = received["dossier"]["id"]

    def handoff(key: str) -> bytes:
        message = {
            "idempotency_key": key,
            "token": desk.token,
            "command": "handoff",
            "dossier_id": dossier,
            "body": {"to_agency_code": "000.00.21.H29"},
        }
        return orjson.dumps(message)

    [(refused_key, refused), (_, ran)] = inbound.execute_batch(
        container, [handoff("ho-keyless"), handoff("ho-1")], [None, dossier.encode()]
    )
    assert refused["idempotency_key"] == "ho-keyless" and refused["status"] == 422
    assert refused["problem"]["type"].endswith("/invalid-command")
    assert "no key" in refused["problem"]["detail"] and "dossier_id" in refused["problem"]["detail"]
    assert refused_key == dossier.encode()  # the answer goes where the dossier's answers go
    assert ran["status"] == 200 and ran["dossier"]["pending_handoff_to"] == "000.00.21.H29"
    assert [e.type for e in container.store.load(dossier)] == ["DossierReceived", "HandedOff"]


def test_the_results_topic_never_carries_a_citizen_s_lookup_secret(desk: Desk) -> None:
    """Every agency system reads the results topic: a receive's secret in clear there let any of
    them look the dossier up and fetch the citizen's result. The sender gives a hash instead."""
    container = desk.container
    token = desk.token
    body = {
        "procedure_code": "DD.01-2025",
        "channel": "direct",
        "applicant": {"name": "A", "id_number": "1"},
    }
    own = "drawn-by-the-agency-system-9d41"
    digest = hashlib.sha256(b"lienthong-lookup:" + own.encode()).hexdigest()

    def receive(key: str, **fields: object) -> bytes:
        message = {
            "idempotency_key": key,
            "token": token,
            "command": "receive",
            "body": {**body, **fields},
        }
        return orjson.dumps(message)

    plain, again, hashed = inbound.execute_batch(
        container, [receive("plain"), receive("plain"), receive("hashed", lookup_secret_hash=digest)]
    )
    for _key, result in (plain, again):
        assert result["status"] == 201
        assert "lookup_secret" not in result["dossier"]
        assert result["dossier"]["lookup_secret_note"] == inbound.SECRET_NOT_SENT
    assert hashed[1]["status"] == 201
    assert "lookup_secret" not in hashed[1]["dossier"] and "lookup_secret_note" not in hashed[1]["dossier"]
    # The citizen's own secret opens the dossier the sender received.
    state = container.service.load(hashed[1]["dossier"]["id"]).state
    assert state is not None and state.lookup_secret_hash == secret_hash(own)


def test_a_receipt_too_large_for_the_events_topic_is_answered_413_and_the_batch_goes_on(desk: Desk) -> None:
    """A procedure whose route is long enough (an admin may write one where the body limit was
    raised) made a receipt past MAX_EVENT_BYTES: stored, it stopped the relay for good."""
    container = desk.container
    ordinary = container.catalogue.procedure("DD.01-2025")
    assert ordinary is not None
    budget = 2**-10  # exact in binary: the budgets sum to the deadline exactly
    steps = tuple(replace(step, budget_working_hours=budget) for step in ordinary.route)
    route = steps * (MAX_EVENT_BYTES // (35 * len(steps)))  # some 45 bytes a step
    container.catalogue.put_procedure(
        replace(ordinary, code="BIG-2025", route=route, deadline_working_hours=len(route) * budget)
    )
    token = desk.token

    def receive(key: str, procedure: str) -> bytes:
        body = {
            "procedure_code": procedure,
            "channel": "direct",
            "applicant": {"name": "A", "id_number": "1"},
        }
        return orjson.dumps({"idempotency_key": key, "token": token, "command": "receive", "body": body})

    [(_, big), (_, small)] = inbound.execute_batch(
        container, [receive("big", "BIG-2025"), receive("small", "DD.01-2025")]
    )
    assert big["status"] == 413 and big["dossier"] is None
    assert big["problem"]["type"].endswith("/event-too-large")
    assert big["problem"]["limit_bytes"] < MAX_EVENT_BYTES < big["problem"]["event_bytes"]
    assert small["status"] == 201
    assert container.store.max_notification_id() == 1  # only the ordinary receipt
