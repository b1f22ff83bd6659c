"""The event store: one stream per dossier, on the `eventsourcing` package's recorders.

Each stored record's bytes are the orjson envelope that also travels on Kafka:
`{event_id, dossier_id, seq, type, occurred_at, recorded_at, agency_code, actor,
payload, prev_hash, hash, schema_version}`. `hash` is SHA-256 over the previous
hash and the canonical bytes of the envelope without `hash`, so any edit of a
stored event breaks the chain from there on. The recorder's unique
(stream, version) constraint gives optimistic concurrency; its notification log
is the outbox the relay and the in-process feed follow.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
)

from domain.events import DossierEvent
from gateways.eventstore.codec import DecodeError, decode_event, event_payload, to_jsonable

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64


class ConcurrencyConflict(Exception):
    """Someone else appended to the stream first (HTTP 409)."""


def canonical_bytes(envelope: dict[str, Any]) -> bytes:
    body = {k: v for k, v in envelope.items() if k != "hash"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, envelope: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(envelope)).hexdigest()


@dataclass(frozen=True)
class RecordedEvent:
    """One stored event: its envelope, and the notification id once known."""

    envelope: dict[str, Any]
    raw: bytes
    notification_id: int | None = None

    @property
    def dossier_id(self) -> str:
        return str(self.envelope["dossier_id"])

    @property
    def seq(self) -> int:
        return int(self.envelope["seq"])

    @property
    def type(self) -> str:
        return str(self.envelope["type"])

    @property
    def hash(self) -> str:
        return str(self.envelope["hash"])

    def to_domain(self) -> DossierEvent:
        e = self.envelope
        return decode_event(e["type"], e["occurred_at"], e["actor"], e["payload"])

    @classmethod
    def from_bytes(cls, raw: bytes, notification_id: int | None = None) -> RecordedEvent:
        try:
            envelope = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc}") from exc
        if not isinstance(envelope, dict) or "seq" not in envelope or "type" not in envelope:
            raise DecodeError("not an event envelope")
        return cls(envelope=envelope, raw=raw, notification_id=notification_id)


@dataclass(frozen=True)
class Outgoing:
    """A stored event as the relay sends it: the envelope bytes and what the record needs."""

    raw: bytes
    dossier_id: str
    type: str
    notification_id: int


def recorder_env(url: str) -> dict[str, str]:
    """Environment for eventsourcing's InfrastructureFactory from a database URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if parts.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "lienthong",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "lienthong"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "8",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_CONNECT_TIMEOUT": "10",
        }
    raise ValueError(f"unsupported event store URL scheme '{parts.scheme}' (use sqlite:/// or postgresql://)")


class EventStore:
    """Append and read dossier streams; follow the notification log."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._factory = InfrastructureFactory.construct(recorder_env(url))
        self.recorder: ApplicationRecorder = self._factory.application_recorder()

    def close(self) -> None:
        self._factory.close()

    def load(self, dossier_id: str, *, upto_seq: int | None = None) -> list[RecordedEvent]:
        records = self.recorder.select_events(uuid.UUID(dossier_id), lte=upto_seq)
        return [RecordedEvent.from_bytes(bytes(r.state)) for r in records]

    def append(
        self,
        dossier_id: str,
        expected_version: int,
        prev_hash: str,
        events: Sequence[DossierEvent],
        recorded_at: datetime,
        metadata: dict[str, Any] | None = None,
    ) -> list[RecordedEvent]:
        """Append after `expected_version` (0 for a new stream), or ConcurrencyConflict."""
        envelopes = []
        stored = []
        for offset, event in enumerate(events, start=1):
            seq = expected_version + offset
            envelope: dict[str, Any] = {
                "event_id": str(uuid.uuid5(uuid.UUID(dossier_id), str(seq))),
                "dossier_id": dossier_id,
                "seq": seq,
                "type": type(event).__name__,
                "occurred_at": to_jsonable(event.occurred_at),
                "recorded_at": to_jsonable(recorded_at),
                "agency_code": event.actor.agency_code,
                "actor": to_jsonable(event.actor),
                "payload": event_payload(event),
                "prev_hash": prev_hash,
                "schema_version": SCHEMA_VERSION,
            }
            if metadata:
                envelope["metadata"] = metadata
            envelope["hash"] = prev_hash = chain_hash(prev_hash, envelope)
            raw = orjson.dumps(envelope)
            envelopes.append((envelope, raw))
            stored.append(
                StoredEvent(
                    originator_id=uuid.UUID(dossier_id),
                    originator_version=seq,
                    topic=envelope["type"],
                    state=raw,
                )
            )
        try:
            ids = self.recorder.insert_events(stored)
        except IntegrityError as exc:
            raise ConcurrencyConflict(
                f"dossier {dossier_id} changed since version {expected_version}"
            ) from exc
        notification_ids: list[int | None] = list(ids) if ids else [None] * len(stored)
        return [
            RecordedEvent(envelope=env, raw=raw, notification_id=nid)
            for (env, raw), nid in zip(envelopes, notification_ids, strict=True)
        ]

    def notifications(self, after: int, limit: int = 1000) -> list[RecordedEvent]:
        """Events in append order with notification id > `after`."""
        rows = self.recorder.select_notifications(after, limit, inclusive_of_start=False)
        return [RecordedEvent.from_bytes(bytes(n.state), n.id) for n in rows]

    def outbox(self, after: int, limit: int = 1000) -> list[Outgoing]:
        """Like `notifications`, without decoding the envelopes: what the relay publishes."""
        rows = self.recorder.select_notifications(after, limit, inclusive_of_start=False)
        return [Outgoing(bytes(n.state), str(n.originator_id), n.topic, n.id) for n in rows]

    def max_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0

    def is_reachable(self) -> bool:
        try:
            self.recorder.max_notification_id()
        except Exception:
            return False
        return True
