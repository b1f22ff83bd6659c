"""What an agency system integrating over Kafka relies on, on the real broker: every command gets
a result it can publish and match, whatever the command holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord

from gateways.bootstrap import Container
from gateways.kafka.app import build_stream
from gateways.kafka.inbound import RESULT_LIMIT_BYTES
from gateways.kafka.topics import Topics, ensure_topics
from gateways.settings import Settings
from tests.integration.kafka_support import (
    APPLICANT,
    DEPT,
    PROCEDURE,
    WARD,
    StreamThread,
    header,
    inbound_setup,
    read_topic,
    token,
    wait_for,
)


def _results(kafka_bootstrap: str, topics: Topics, keys: set[str]) -> dict[str, ConsumerRecord[Any, Any]]:
    def enough() -> dict[str, ConsumerRecord[Any, Any]] | None:
        got = {
            orjson.loads(r.value)["idempotency_key"]: r
            for r in asyncio.run(read_topic(kafka_bootstrap, topics.results))
        }
        return got if keys <= set(got) else None

    found: dict[str, ConsumerRecord[Any, Any]] = wait_for(enough, 60, f"results of {sorted(keys)}", every=0.3)
    return found


def test_a_command_whose_result_would_be_over_the_record_limit_gets_a_shortened_one_and_blocks_nothing(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """A misspelt field is echoed in the problem (detail and errors): a 600 kB field name made a
    1.2 MB result the producer refused, the batch was read again for ever, and the commands after
    it on the partition never got an answer. Same for a dossier id or key of that length."""
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}
    long_name = "x" * 600_000

    def command(key: str, **fields: Any) -> bytes:
        return orjson.dumps({"idempotency_key": key, "token": ward, "command": "receive", **fields})

    records = [
        command("big-field", body={**body, long_name: 1}),
        command("big-id", dossier_id="d" * 900_000, body=body),
        orjson.dumps({"idempotency_key": "k" * 900_000, "command": "receive"}),
        command("after", body=body),
    ]

    async def send() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=200)
        await producer.start()
        try:
            sent = [await producer.send(topics.commands, r, key=b"portal", partition=0) for r in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        got = _results(kafka_bootstrap, topics, {"big-field", "big-id", "after", ""})
    for key in ("big-field", "big-id", "", "after"):
        assert len(got[key].value) + len(got[key].key or b"") < RESULT_LIMIT_BYTES + 1000, key
    big = orjson.loads(got["big-field"].value)
    assert big["status"] == 422 and big["problem"]["status"] == 422
    assert big["problem"]["type"].endswith("/invalid-request") and "omitted" in big
    assert orjson.loads(got["big-id"].value)["status"] == 422
    assert orjson.loads(got[""].value)["status"] == 422  # a key beyond the contract is no key
    assert orjson.loads(got["after"].value)["status"] == 201
    assert container.store.max_notification_id() == 1


def test_a_result_carries_its_command_s_correlation_id_as_the_asyncapi_document_says(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """The AsyncAPI document gives every message a correlationId in the `correlation_id` header;
    the results carried a fresh random one, so a sender could not match a result by it."""
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}

    def receive(key: str) -> bytes:
        return orjson.dumps({"idempotency_key": key, "token": ward, "command": "receive", "body": body})

    async def send() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.commands,
                receive("with-corr"),
                key=b"with-corr",
                headers=[("correlation_id", b"case-77")],
            )
            await producer.send_and_wait(topics.commands, receive("no-corr"), key=b"case-2026-17")
            await producer.send_and_wait(
                topics.commands, b"not json", key=b"junk", headers=[("correlation_id", b"case-78")]
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        got = _results(kafka_bootstrap, topics, {"with-corr", "no-corr", ""})
    assert header(got["with-corr"], "correlation_id") == "case-77"
    assert header(got["no-corr"], "correlation_id") == "no-corr"
    # "key as the command": a receive keyed by the sender's own case id is answered under it.
    assert got["no-corr"].key == b"case-2026-17" and got["with-corr"].key == b"with-corr"
    # A record that is no command has no key to match, but its own correlation id still does.
    assert header(got[""], "correlation_id") == "case-78"
    assert got[""].key == b"junk"  # and its key, as the command's (it had none: no key at all)


def test_a_record_whose_key_or_headers_are_as_large_as_the_broker_takes_still_gets_its_results(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """A result carries the command's correlation_id header, and a record that is not a command
    gets its result under the record's own key and a dead letter with its headers: copied as they
    came, a header or key of 1 MB made records the producer refused, and the batch was read again
    for ever."""
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}
    huge = b"c" * 1_047_800  # the command record just fits under the 1 MiB a record may take

    def receive(key: str) -> bytes:
        return orjson.dumps({"idempotency_key": key, "token": ward, "command": "receive", "body": body})

    records = [
        (b"portal", receive("long-corr"), [("correlation_id", huge)]),
        (b"portal", b"not json", [("correlation_id", huge)]),
        (b"k" * 1_047_800, b"not json either", []),
        # A header of the sender's named like a dead letter's own (x-…), the record at the limit.
        (b"portal", b"not json at all", [("x-trace", b"t" * 1_048_350)]),
        (b"portal", receive("after"), []),
    ]

    async def send() -> None:
        await ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=200)
        await producer.start()
        try:
            sent = [
                await producer.send(topics.commands, value, key=key, partition=0, headers=headers)
                for key, value, headers in records
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        got = _results(kafka_bootstrap, topics, {"long-corr", "after"})

        def three_dead() -> list[Any] | None:
            dead = asyncio.run(read_topic(kafka_bootstrap, topics.dlq))
            return dead if len(dead) >= 3 else None

        dead = wait_for(three_dead, 60, f"three dead letters on {topics.dlq}", every=0.3)
    assert orjson.loads(got["long-corr"].value)["status"] == 201
    assert header(got["long-corr"], "correlation_id") == "long-corr"  # the header was too long to give back
    assert orjson.loads(got["after"].value)["status"] == 201
    assert all(header(d, "x-source-topic") == topics.commands for d in dead)


def test_a_keyless_command_on_a_dossier_is_refused_and_a_keyless_receive_taken(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """A record sent without a key lands on a partition of the producer's choosing, away from
    the dossier's other commands: a `handoff` so sent was taken, and its order with the dossier's
    keyed commands left to chance. A new dossier has no id to key by: its receive may be keyless."""
    settings, container, topics = inbound_setup(containers, tmp_path, kafka_bootstrap, prefix)
    ward = token("officer", WARD)
    body = {"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT}

    async def send(*records: tuple[bytes | None, dict[str, Any]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for key, message in records:
                await producer.send_and_wait(
                    topics.commands, orjson.dumps({"token": ward, **message}), key=key
                )
        finally:
            await producer.stop()

    asyncio.run(ensure_topics(kafka_bootstrap, topics, settings.kafka_event_partitions))
    with StreamThread(build_stream(container, views=["-none-"], with_relay=False)):
        asyncio.run(send((None, {"idempotency_key": "rx-keyless", "command": "receive", "body": body})))
        received = orjson.loads(_results(kafka_bootstrap, topics, {"rx-keyless"})["rx-keyless"].value)
        assert received["status"] == 201, received
        dossier = received["dossier"]["id"]
        handoff = {"command": "handoff", "dossier_id": dossier, "body": {"to_agency_code": DEPT}}
        asyncio.run(
            send(
                (None, {"idempotency_key": "ho-keyless", **handoff}),
                (dossier.encode(), {"idempotency_key": "ho-keyed", **handoff}),
            )
        )
        got = _results(kafka_bootstrap, topics, {"ho-keyless", "ho-keyed"})
    refused = orjson.loads(got["ho-keyless"].value)
    assert refused["status"] == 422 and refused["problem"]["type"].endswith("/invalid-command")
    assert "no key" in refused["problem"]["detail"]
    assert got["ho-keyless"].key == dossier.encode()
    assert orjson.loads(got["ho-keyed"].value)["status"] == 200
    assert [e.type for e in container.store.load(dossier)] == ["DossierReceived", "HandedOff"]
