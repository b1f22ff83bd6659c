"""The AsyncAPI document says what the records on each topic really hold: payload, key, headers,
correlation id (gateways/kafka/asyncapi.py). Integrators generate their clients from it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import orjson
import pytest
from faststream.kafka import TestKafkaBroker

from domain.events import EVENT_TYPES
from gateways.application.errors import InvalidCommand
from gateways.auth import issue_token
from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.store import Outgoing
from gateways.kafka import inbound
from gateways.kafka.app import asyncapi_document, build_stream
from gateways.kafka.projector import publish_dead_letter
from gateways.kafka.relay import headers_for
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from tests.unit.test_dead_letter_size import SizedBroker
from tests.unit.test_kafka_fake import capture

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    settings = Settings(
        data_dir=tmp_path / "var", kafka_bootstrap="127.0.0.1:1", kafka_topic_prefix="unit", jwt_secret=SECRET
    )
    made = bootstrap(settings)
    yield made
    made.close()


def _messages(document: dict[str, Any], address: str) -> list[dict[str, Any]]:
    messages = document["components"]["messages"]
    return [
        messages[ref["$ref"].rsplit("/", 1)[-1]]
        for channel in document["channels"].values()
        if channel["address"] == address
        for ref in channel["messages"].values()
    ]


def _schema(document: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """The message's payload schema, resolvable on its own."""
    return {**message["payload"], "components": document["components"]}


def test_every_message_of_a_topic_documents_its_payload_not_an_empty_one(container: Container) -> None:
    side = build_stream(container, with_relay=False)
    document = orjson.loads(asyncapi_document(side))
    assert "EmptyPayload" not in document["components"]["schemas"]
    for address, schema in [
        (side.topics.commands, "CommandMessage"),
        (side.topics.events, "EventEnvelope"),
        (side.topics.results, "CommandResult"),
    ]:
        found = _messages(document, address)
        assert found and all(m["payload"] == {"$ref": f"#/components/schemas/{schema}"} for m in found), (
            address
        )


def test_the_documented_headers_and_correlation_ids_are_those_the_records_carry(container: Container) -> None:
    load_catalogue(container.catalogue)
    side = build_stream(container, views=["-none-"], with_relay=False)
    document = orjson.loads(asyncapi_document(side))
    officer = issue_token(
        SECRET,
        role="officer",
        sub="officer@000.21.99.H29",
        agency_code="000.21.99.H29",
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    command = {
        "idempotency_key": "portal-1",
        "token": officer,
        "command": "receive",
        "body": {
            "procedure_code": "DD.01-2025",
            "channel": "direct",
            "applicant": {"name": "Trần Thị Bình", "id_number": "079300004321"},
        },
    }
    [commands] = _messages(document, side.topics.commands)[:1]
    jsonschema.validate(command, _schema(document, commands))
    results = capture(side, side.topics.results)

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            await broker.publish(orjson.dumps(command), topic=side.topics.commands, key=b"portal-1")

    asyncio.run(deliver())
    [result] = results
    [declared] = _messages(document, side.topics.results)
    names = {k for k, _ in result.headers}
    assert set(declared["headers"]["required"]) <= names <= set(declared["headers"]["properties"])
    assert declared["correlationId"]["location"] == "$message.header#/correlation_id"
    jsonschema.validate(orjson.loads(result.value), _schema(document, declared))

    # The relay's records: the headers it sends and no correlation id.
    event = Outgoing(raw=b"{}", dossier_id="d-1", type="HandedOff", notification_id=7)
    for declared in _messages(document, side.topics.events):
        sent = {k for k, _ in headers_for(event)}
        assert set(declared["headers"]["required"]) == sent == set(declared["headers"]["properties"])
        assert "correlationId" not in declared
    for declared in _messages(document, side.topics.dlq):
        assert {"x-error", "x-source-topic", "x-source-offset"} <= set(declared["headers"]["required"])
        assert "correlationId" not in declared


def test_every_stored_event_decodes_with_the_payload_schema_of_its_type(container: Container) -> None:
    """The envelope's payload was an open object: an integrator mirroring dossiers had no schema
    to decode a HandedOff or a DossierReceived by. Each type now has one, and the events a year of
    simulated work records (and what the relay sends byte for byte) validate against them."""
    side = build_stream(container, with_relay=False)
    document = orjson.loads(asyncapi_document(side))
    schemas = document["components"]["schemas"]
    assert {f"{name}Payload" for name in EVENT_TYPES} <= set(schemas)
    envelope = jsonschema.Draft7Validator({"$ref": "#/components/schemas/EventEnvelope", **document})
    bulk_seed(container, 60)
    seen: set[str] = set()
    for record in container.store.notifications(0, limit=100_000):
        envelope.validate(orjson.loads(record.raw))
        seen.add(record.type)
    assert len(seen) >= 8, seen  # the walk covers the common types, so the check is not vacuous
    # The schema is really applied per type: a HandedOff whose payload lacks its addressee fails.
    handed = next(r for r in container.store.notifications(0, limit=100_000) if r.type == "HandedOff")
    broken = orjson.loads(handed.raw)
    del broken["payload"]["to_agency_code"]
    with pytest.raises(jsonschema.ValidationError):
        envelope.validate(broken)


def test_the_command_names_are_listed_and_each_is_one_the_consumer_runs(container: Container) -> None:
    """`command` was a free string described as "receive, handoff, accept, …": the names
    `satisfaction`, `intake` or `supplement_received` were nowhere in the document."""
    document = orjson.loads(asyncapi_document(build_stream(container, with_relay=False)))
    names = document["components"]["schemas"]["CommandMessage"]["properties"]["command"]["enum"]
    assert {"receive", "handoff", "satisfaction", "supplement_received"} <= set(names)
    for name in names:
        inbound._body_model(name)  # raises InvalidCommand for a name the consumer does not run
    with pytest.raises(InvalidCommand):
        inbound._body_model("teleport")


def test_every_header_a_dead_letter_may_carry_of_its_own_is_documented(container: Container) -> None:
    """A dead letter too large with the original headers goes without them and says so in
    `x-headers-omitted`: a header the document did not name."""
    side = build_stream(container, with_relay=False)
    document = orjson.loads(asyncapi_document(side))
    [declared] = _messages(document, side.topics.dlq)
    documented = set(declared["headers"]["properties"])
    broker = SizedBroker()
    for value, headers in [
        (b"x", [("sender", b"s")]),  # as it came
        (b"v" * 1_048_500, [("sender", b"s")]),  # without its value
        (b"v", [("sender", b"s" * 1_048_500)]),  # without its value and headers
    ]:
        record = SimpleNamespace(
            topic=side.topics.commands, partition=0, offset=1, key=b"k", value=value, headers=headers
        )
        asyncio.run(publish_dead_letter(broker, side.topics.dlq, record, "not a command", "g"))  # type: ignore[arg-type]
    assert len(broker.sent) == 3
    assert [d["headers"].get("x-value-omitted") is not None for d in broker.sent] == [False, True, True]
    for dead in broker.sent:
        own = {name for name in dead["headers"] if name != "sender"}
        assert set(declared["headers"]["required"]) <= own <= documented, own - documented
