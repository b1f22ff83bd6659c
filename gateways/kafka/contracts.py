"""Typed message contracts of the Kafka topics (API.md "Kafka messages").

They document the wire format in the AsyncAPI document and validate inbound
commands; the events themselves are written by the event store as bytes, never
re-encoded on the way.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateways.application.commands import COMMANDS, RECEIVE


class Actor(BaseModel):
    agency_code: str
    user: str
    role: str


class EventEnvelope(BaseModel):
    """`<prefix>.dossier-events.v1`, key = dossier id; header `notification_id`."""

    event_id: str
    dossier_id: str
    seq: int = Field(
        ge=1, description="position in the dossier's stream; consumers deduplicate by (dossier_id, seq)"
    )
    type: str = Field(
        description="event class name, e.g. HandedOff; `payload` is the schema `<type>Payload` "
        "(skip a type you do not know: a newer release may add one)"
    )
    occurred_at: str = Field(
        json_schema_extra={"format": "date-time"},
        description="when it happened, RFC 3339 with the UTC offset it was stated in (the service time "
        "zone's, +07:00, unless an integration or an imported log stated another)",
    )
    recorded_at: str = Field(
        json_schema_extra={"format": "date-time"}, description="when the event store recorded it, in UTC"
    )
    agency_code: str
    actor: Actor
    payload: dict[str, Any]
    prev_hash: str = Field(description="the hash of the dossier's previous event (64 zeros for seq 1)")
    hash: str = Field(
        description="hex SHA-256 of prev_hash's ASCII bytes followed by the envelope without `hash` as "
        "compact JSON (no spaces), keys sorted at every level, UTF-8 and not \\u-escaped"
    )
    schema_version: int
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="the command that recorded it: {idempotency_key, subject} (absent when it had no key)",
    )


IDEMPOTENCY_KEY_MAX = 200  # characters


class CommandMessage(BaseModel):
    """`<prefix>.dossier-commands.v1`, key = dossier id (or the idempotency key for a new dossier).
    A field it does not declare is refused: a misspelt `expected_version` would skip the check."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX)
    token: str = Field(min_length=1, description="the same JWT as over HTTP; keep it short-lived")
    command: str = Field(
        description="the HTTP command's name; another gets a 422 problem result",
        json_schema_extra={"enum": [RECEIVE, *COMMANDS]},
    )
    dossier_id: str | None = Field(default=None, max_length=100)
    expected_version: int | None = Field(default=None, ge=0)
    body: dict[str, Any] = Field(default_factory=dict, description="the same JSON as the HTTP body")


class CommandResult(BaseModel):
    """`<prefix>.command-results.v1`, key as the command; header `correlation_id` the command
    record's `correlation_id` header, or without one its idempotency key."""

    idempotency_key: str
    status: int = Field(description="the HTTP status the command would have had")
    dossier: dict[str, Any] | None = Field(
        default=None,
        description="on success: the dossier as the HTTP command answers it (schema `Dossier` of the "
        "API's /openapi.json, but never the citizen's `lookup_secret`: a receive's result says why in "
        "`lookup_secret_note`; send `lookup_secret_hash` instead), `version` its seq",
    )
    problem: dict[str, Any] | None = Field(
        default=None,
        description="on failure: an RFC 9457 problem {type, title, status, detail, errors?, "
        "retry_after?}, in English; branch on `type`",
    )
    omitted: str | None = Field(
        default=None,
        description="present when the result was over the topic's record limit (about 900 kB): what was "
        "cut (a problem's texts and field errors; a dossier but its id, version and receipt code) "
        "and where to read the rest",
    )
