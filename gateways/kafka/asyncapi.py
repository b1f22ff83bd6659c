"""What the AsyncAPI document says beyond what FastStream derives from the handlers: the payload
of the topics the subscribers read as raw bytes, each message's record key and headers, and a
correlation id only where the records carry one.

FastStream documents a subscriber by its handler's argument (raw bytes here: an empty payload)
and gives every message a `correlation_id` header; the relay and the dead-letter publisher send
their own headers. An integrator generates a client from this document, so it states what the
records really hold (tests/unit/test_asyncapi_contract.py compares it with what is sent).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from domain.events import EVENT_TYPES
from gateways.eventstore.limits import NOTIFICATION_HEADER
from gateways.kafka.topics import Topics

_TEXT = {"type": "string"}


def _headers(required: dict[str, str], optional: dict[str, str] | None = None) -> dict[str, Any]:
    properties = {
        name: {**_TEXT, "description": text} for name, text in {**required, **(optional or {})}.items()
    }
    if "content-type" in properties:
        properties["content-type"]["const"] = "application/json"
    return {"type": "object", "properties": properties, "required": sorted(required)}


def _contract(topics: Topics) -> dict[str, dict[str, Any]]:
    """Per topic: its payload schema, record key, headers, and whether a correlation id is carried."""
    json_type = {"content-type": "application/json"}
    return {
        topics.events: {
            "payload": "EventEnvelope",
            "key": "the dossier id (UTF-8): one dossier's events are in order on one partition",
            "headers": _headers(
                {
                    **json_type,
                    NOTIFICATION_HEADER: "the event's position in the event store's notification log "
                    "(decimal digits); consumers deduplicate by (dossier_id, seq), never by it",
                    "event-type": "the envelope's `type` (e.g. HandedOff), to filter without decoding",
                }
            ),
            "correlated": False,
        },
        topics.commands: {
            "payload": "CommandMessage",
            "key": "the dossier id for a command on a dossier (another key or none: 422, the commands of one "
            "dossier must share a partition to keep their order); any key or none, e.g. the "
            "idempotency key, for `receive`",
            "headers": _headers(
                {},
                {
                    "correlation_id": "optional: given back on the command's result (without it "
                    "the result carries the idempotency key)"
                },
            ),
            "correlated": True,
        },
        topics.results: {
            "payload": "CommandResult",
            "key": "the command record's own key (up to 200 bytes), else its dossier_id, else its "
            "idempotency key",
            "headers": _headers(
                {
                    **json_type,
                    "correlation_id": "the command record's correlation_id header, else its idempotency key",
                }
            ),
            "correlated": True,
        },
        topics.dlq: {
            "payload": None,
            "key": "the original record's key",
            "headers": _headers(
                {
                    "x-error": "why the record could not be taken (at most 2,000 characters)",
                    "x-source-topic": "the topic the record was read from",
                    "x-source-partition": "its partition (decimal digits)",
                    "x-source-offset": "its offset there (decimal digits)",
                    "x-consumer-group": "the consumer group that gave it up",
                },
                {
                    "x-value-omitted": "present when the value was left out to fit the topic: its "
                    "size ('N bytes'); the source topic keeps the record",
                    "x-headers-omitted": "present when the original record's headers were left out "
                    "too (then the key is cut to 1,000 bytes): their size ('N bytes')",
                },
            ),
            "correlated": False,
        },
    }


_ENVELOPE_FIELDS = ("occurred_at", "actor")  # an event's fields the envelope carries, not its payload


def _event_payloads(schemas: dict[str, Any]) -> None:
    """A schema `<Type>Payload` per event type (its fields as the event store encodes them: the
    dataclass's fields but the envelope's), and the envelope's `payload` tied to its `type`."""
    ties = []
    for name, cls in sorted(EVENT_TYPES.items()):
        schema = TypeAdapter(cls).json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        for shared, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(shared, definition)
        for field in _ENVELOPE_FIELDS:
            schema.get("properties", {}).pop(field, None)
        schema["required"] = [f for f in schema.get("required", []) if f not in _ENVELOPE_FIELDS]
        schema["title"] = f"{name} payload"
        schemas[f"{name}Payload"] = schema
        ties.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": {"payload": {"$ref": f"#/components/schemas/{name}Payload"}}},
            }
        )
    envelope = schemas.get("EventEnvelope")
    if envelope is not None:
        # A type not listed here is one a newer release added: a consumer skips what it does not know.
        envelope["allOf"] = ties


def complete(document: dict[str, Any], topics: Topics) -> dict[str, Any]:
    """Fill in `document` (FastStream's AsyncAPI 3 document as JSON) in place; also returned."""
    _event_payloads(document.setdefault("components", {}).setdefault("schemas", {}))
    contract = _contract(topics)
    messages = document.get("components", {}).get("messages", {})
    for channel in document.get("channels", {}).values():
        spec = contract.get(channel.get("address", ""))
        if spec is None:
            continue
        for ref in channel.get("messages", {}).values():
            message = messages.get(ref["$ref"].rsplit("/", 1)[-1])
            if message is None:
                continue
            if spec["payload"]:
                message["payload"] = {"$ref": f"#/components/schemas/{spec['payload']}"}
            else:
                message["payload"] = {
                    "description": "the original record's value, as it came (any bytes; empty when "
                    "x-value-omitted says it was left out)"
                }
            message["headers"] = spec["headers"]
            message["bindings"] = {
                "kafka": {"key": {**_TEXT, "description": spec["key"]}, "bindingVersion": "0.4.0"}
            }
            if not spec["correlated"]:
                message.pop("correlationId", None)
    schemas = document.get("components", {}).get("schemas", {})
    used = orjson.dumps([document.get("channels"), messages, schemas]).decode()
    for name in [n for n in schemas if f'"#/components/schemas/{n}"' not in used]:
        if name == "EmptyPayload" or name.endswith(":Payload"):  # FastStream's, now unused
            del schemas[name]
    return document
