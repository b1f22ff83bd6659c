"""A dead letter always fits in a record, whatever the record it tells of holds
(gateways/kafka/projector.py `publish_dead_letter`): a dead letter the producer refuses escapes
the consumer's handler, and the batch is read again for ever, blocking its partition."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from gateways.kafka.projector import publish_dead_letter

LIMIT = 1024 * 1024  # the producer's default max_request_size


class SizedBroker:
    """Takes what a producer with the default request size takes; keeps what it took."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        size = len(value) + len(key or b"") + sum(len(k) + len(v.encode()) for k, v in headers.items())
        if size > LIMIT:
            raise MessageSizeTooLargeError(f"{size} bytes")
        self.sent.append({"value": value, "topic": topic, "key": key, "headers": headers})


def _record(value: bytes, headers: list[tuple[str, bytes]], key: bytes | None = b"portal") -> Any:
    return SimpleNamespace(
        topic="p.dossier-commands.v1", partition=0, offset=41, key=key, value=value, headers=headers
    )


def test_a_record_with_a_header_named_like_the_dead_letters_own_still_gets_one() -> None:
    """A sender's header named `x-…` of about 1 MB (the record itself fits the broker) was kept
    as one of the dead letter's own: even its last, shortest form was over the limit."""
    broker = SizedBroker()
    record = _record(b"not json", [("x-trace", b"t" * 1_047_000)])
    asyncio.run(publish_dead_letter(broker, "p.dlq.v1", record, "not a command: " + "e" * 3000, "g"))  # type: ignore[arg-type]
    [dead] = broker.sent
    headers = dead["headers"]
    assert "x-trace" not in headers and headers["x-headers-omitted"].endswith(" bytes")
    assert headers["x-value-omitted"] == f"{len(record.value)} bytes" and dead["value"] == b""
    assert (headers["x-source-topic"], headers["x-source-offset"]) == (record.topic, "41")
    assert len(headers["x-error"]) == 2000


def test_a_record_that_fits_with_its_headers_keeps_them() -> None:
    broker = SizedBroker()
    record = _record(b"not json", [("x-trace", b"abc"), ("correlation_id", b"c-1")])
    asyncio.run(publish_dead_letter(broker, "p.dlq.v1", record, "not a command", "g"))  # type: ignore[arg-type]
    [dead] = broker.sent
    assert dead["value"] == b"not json" and dead["key"] == b"portal"
    assert dead["headers"]["x-trace"] == "abc" and dead["headers"]["correlation_id"] == "c-1"
    assert "x-value-omitted" not in dead["headers"]
