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
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
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

from domain.events import Actor, DossierEvent
from gateways.eventstore.codec import (
    DecodeError,
    decode_event,
    event_payload,
    event_payload_uncopied,
    instant_text,
    plain_dump,
    to_jsonable,
)
from gateways.eventstore.limits import MAX_EVENT_BYTES, largest_envelope
from gateways.eventstore.recorders import POSTGRES_TOPIC, SQLITE_TOPIC, Row
from gateways.sql import schema_lock

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64


class ConcurrencyConflict(Exception):
    """Someone else appended to the stream first (HTTP 409)."""


class OversizedEvent(Exception):
    """An event whose stored envelope would make a record larger than the events topic takes
    (`gateways.eventstore.limits`): refused as it is encoded, so nothing of its append is
    written (the relay could never publish it, and would stop before it)."""

    def __init__(self, dossier_id: str, seq: int, event_type: str, size: int, limit: int) -> None:
        self.dossier_id, self.seq, self.event_type, self.size, self.limit = (
            dossier_id,
            seq,
            event_type,
            size,
            limit,
        )
        super().__init__(
            f"event {seq} ({event_type}) of dossier {dossier_id} would take {size:,} bytes, more "
            f"than the {limit:,} an event may take (the events topic takes records of at most "
            f"{MAX_EVENT_BYTES // (1024 * 1024)} MiB); nothing of it was recorded"
        )


def canonical_bytes(envelope: dict[str, Any]) -> bytes:
    body = {k: v for k, v in envelope.items() if k != "hash"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, envelope: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(envelope)).hexdigest()


def event_id(originator: uuid.UUID, seq: int) -> str:
    """`str(uuid.uuid5(originator, str(seq)))`, without building the UUID object (each
    stored event has one; imports write tens of thousands per second)."""
    return _event_id(originator.bytes, seq)


# The RFC 4122 variant bits set on the first hex digit of the fourth group.
_VARIANT = {d: "89ab"[int(d, 16) & 0x3] for d in "0123456789abcdef"}


def _event_id(originator: bytes, seq: int) -> str:
    """`event_id` from the originator's 16 bytes (read once per stream)."""
    return uuid5_text(originator, str(seq).encode())


def uuid5_text(namespace: bytes, name: bytes) -> str:
    """`str(uuid.uuid5(UUID(bytes=namespace), name))` for a name already encoded in UTF-8,
    without building the UUID objects."""
    h = hashlib.sha1(namespace + name).hexdigest()
    # Version 5 in the third group's first digit, the variant in the fourth's.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


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


@dataclass(frozen=True)
class StreamAppend:
    """New events for one stream, after `expected_version` whose last hash is `prev_hash`."""

    dossier_id: str
    expected_version: int
    prev_hash: str
    events: Sequence[DossierEvent]
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Encoded:
    """One append as stored: the records (notification ids unknown until committed) and
    the recorder's rows."""

    append: StreamAppend
    records: list[RecordedEvent]
    stored: list[StoredEvent]

    @property
    def last_hash(self) -> str:
        return self.records[-1].hash if self.records else self.append.prev_hash

    @property
    def version(self) -> int:
        return self.append.expected_version + len(self.records)


def encode(append: StreamAppend, recorded_at: datetime | None, *, copy: bool = True) -> Encoded:
    """Envelopes hash-chained from `prev_hash`. `recorded_at` None stamps each event with its
    own time (imported history). `copy` False: the envelopes share the events' mappings of JSON
    values (an imported event's attributes) instead of copies, for a caller whose events nothing
    changes (an import's, decided from what it read)."""
    records = []
    stored = []
    originator = uuid.UUID(append.dossier_id)
    for seq, envelope, raw in _envelopes(append, recorded_at, originator.bytes, copy=copy):
        records.append(RecordedEvent(envelope, raw))
        stored.append(StoredEvent(originator, seq, envelope["type"], raw))
    return Encoded(append, records, stored)


def encode_rows(append: StreamAppend, recorded_at: datetime | None) -> list[tuple[str, bytes]]:
    """The (type, stored bytes) of each event as `encode` stores them, for a caller that keeps
    only the bytes (the forked workers of an XES import): an event's mappings of JSON values
    (its attributes) are dumped as they are, not copied first, so nothing may change them
    while this runs (they are dumped twice: for the hash, then for the stored bytes); an
    event holding anything else is encoded as `encode` does."""
    originator = uuid.UUID(append.dossier_id)
    return [
        (envelope["type"], raw) for _seq, envelope, raw in _envelopes(append, recorded_at, originator.bytes)
    ]


def _envelopes(
    append: StreamAppend, recorded_at: datetime | None, originator: bytes, *, copy: bool = False
) -> Iterator[tuple[int, dict[str, Any], bytes]]:
    """Each event's seq, envelope and stored bytes. `copy`: the payload's mappings of JSON
    values are copies; else they are the event's own (for a caller that only keeps the
    bytes). Either way the envelope holds `append.metadata` itself."""
    prev_hash = append.prev_hash
    recorded = to_jsonable(recorded_at) if recorded_at is not None else None
    dossier_id = append.dossier_id
    metadata = append.metadata
    sort_keys = orjson.OPT_SORT_KEYS
    payload_of = event_payload if copy else event_payload_uncopied
    sha256 = hashlib.sha256
    # Events decided together often share one instant (a handoff and its acceptance): its
    # text is written once. Datetimes are immutable, so the same object gives the same text.
    last_instant: Any = None
    occurred: Any = None
    # An envelope plus its type's length may take this many bytes (its record then fits).
    room = largest_envelope(dossier_id)
    for seq, event in enumerate(append.events, start=append.expected_version + 1):
        if event.occurred_at is not last_instant:
            last_instant = event.occurred_at
            occurred = instant_text(last_instant)
        envelope: dict[str, Any] = {
            "event_id": _event_id(originator, seq),
            "dossier_id": dossier_id,
            "seq": seq,
            "type": type(event).__name__,
            "occurred_at": occurred,
            "recorded_at": recorded or occurred,
            "agency_code": event.actor.agency_code,
            "actor": _actor(event.actor),
            "payload": payload_of(event),
            "prev_hash": prev_hash,
            "schema_version": SCHEMA_VERSION,
        }
        if metadata:
            envelope["metadata"] = metadata
        # The canonical bytes (sorted keys, no "hash" yet) of `chain_hash`, without its copy.
        if copy:
            canonical = orjson.dumps(envelope, option=sort_keys)
        else:  # uncopied mappings of plain JSON dump as their copies would
            plain = plain_dump(envelope, sort_keys)
            if plain is None:  # something to convert: the copying way
                envelope["payload"] = event_payload(event)
                plain = orjson.dumps(envelope, option=sort_keys)
            canonical = plain
        envelope["hash"] = prev_hash = sha256(prev_hash.encode("ascii") + canonical).hexdigest()
        # The stored bytes keep the envelope's own key order (the payload's attributes in
        # the order the log gave them), so they are dumped apart from the sorted ones.
        raw = orjson.dumps(envelope)
        if len(raw) + len(envelope["type"]) > room:
            kind = envelope["type"]
            raise OversizedEvent(dossier_id, seq, kind, len(raw), largest_envelope(dossier_id, kind))
        yield seq, envelope, raw


def _actor(actor: Actor) -> Any:
    """`to_jsonable` of an event's actor (its fields in order), without the generic walk."""
    if type(actor) is Actor:
        return {"agency_code": actor.agency_code, "user": actor.user, "role": actor.role}
    return to_jsonable(actor)


def recorder_env(url: str, *, create_tables: bool = True) -> dict[str, str]:
    """Environment for eventsourcing's InfrastructureFactory from a database URL."""
    env = _recorder_env(url)
    env["CREATE_TABLE"] = "yes" if create_tables else "no"
    return env


def _recorder_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": SQLITE_TOPIC,
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if parts.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": POSTGRES_TOPIC,
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

    def __init__(self, url: str, *, create_tables: bool = True) -> None:
        """`create_tables=False` for readers started beside a process that already made them:
        PostgreSQL refuses concurrent CREATE TABLE IF NOT EXISTS ("tuple concurrently updated")."""
        self.url = url
        self._factory = InfrastructureFactory.construct(recorder_env(url, create_tables=create_tables))
        with schema_lock(url) if create_tables else nullcontext():
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
        batch = [StreamAppend(dossier_id, expected_version, prev_hash, events, metadata)]
        return self.commit(batch, recorded_at)[0]

    def commit(
        self, appends: Sequence[StreamAppend], recorded_at: datetime, rows: Sequence[Row] = ()
    ) -> list[list[RecordedEvent]]:
        """Several streams' appends and `rows` of other tables in ONE transaction."""
        return self.commit_encoded([encode(a, recorded_at) for a in appends], rows)

    def commit_encoded(
        self, batch: Sequence[Encoded], rows: Sequence[Row] = (), *, numbered: bool = True
    ) -> list[list[RecordedEvent]]:
        """All or nothing: if any stream moved past its expected version (or a row breaks a
        unique key), nothing is written and ConcurrencyConflict is raised. The committed
        records with their notification ids, or [] with `numbered=False` (nobody reads them)."""
        stored = [s for encoded in batch for s in encoded.stored]
        try:
            ids = self.recorder.insert_events(stored, rows=list(rows))
        except IntegrityError as exc:
            names = ", ".join(sorted({e.append.dossier_id for e in batch})[:3])
            raise ConcurrencyConflict(f"dossier {names} changed since it was read") from exc
        if not numbered:
            return []
        notification_ids = iter(list(ids) if ids else [None] * len(stored))
        return [
            [RecordedEvent(r.envelope, r.raw, next(notification_ids)) for r in encoded.records]
            for encoded in batch
        ]

    def load_after(self, dossier_id: str, version: int) -> list[RecordedEvent]:
        """The events of one stream after `version` (to bring a cached state up to date)."""
        records = self.recorder.select_events(uuid.UUID(dossier_id), gt=version)
        return [RecordedEvent.from_bytes(bytes(r.state)) for r in records]

    def existing(self, dossier_ids: Sequence[str], *, upto: int | None = None) -> set[str]:
        """Which of these streams exist (one query per 500 ids); with `upto`, which existed
        when the notification log ended at that id (their first event's id is not above it)."""
        found: set[str] = set()
        table = self.recorder.events_table_name  # type: ignore[attr-defined]
        postgres = self.url.startswith(("postgresql", "postgres"))
        for start in range(0, len(dossier_ids), 500):
            part = [uuid.UUID(d) for d in dossier_ids[start : start + 500]]
            mark = "%s" if postgres else "?"
            sql = (
                f"SELECT DISTINCT originator_id FROM {table} "
                f"WHERE originator_version = 1 AND originator_id IN ({','.join([mark] * len(part))})"
            )
            params: list[Any] = list(part) if postgres else [u.hex for u in part]
            if upto is not None:
                sql += f" AND {'notification_id' if postgres else 'rowid'} <= {mark}"
                params.append(upto)
            with self.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            found.update(str(uuid.UUID(str(row["originator_id"]))) for row in rows)
        return found

    def version(self, dossier_id: str) -> int:
        last = self.recorder.select_events(uuid.UUID(dossier_id), desc=True, limit=1)
        return last[0].originator_version if last else 0

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
