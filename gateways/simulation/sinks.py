"""Where generated histories go: the event store (through the writer, many streams per
transaction), a file of envelopes (JSON lines), or a Kafka topic.

The envelopes are the event store's own (`{event_id, dossier_id, seq, type, occurred_at,
recorded_at, agency_code, actor, payload, prev_hash, hash, schema_version}`, hash-chained
per dossier). In the store, `recorded_at` is the time of the run, as for any backfill;
in a file or a topic it is the event's own time, so the same seed writes the same bytes.
Applicant data is never written in clear: the store sink seals it with the PII vault
(keys kept in `dossier_keys`), the others with a per-dossier key derived from the master
key, so their output is reproducible.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.events import DossierEvent
from gateways.application.writer import GroupCommitWriter
from gateways.eventstore.recorders import Row
from gateways.eventstore.store import GENESIS_HASH, StreamAppend, encode
from gateways.pii import PiiVault
from gateways.simulation.engine import History


def encode_stream(
    dossier_id: str, events: Sequence[DossierEvent], recorded_at: datetime | None
) -> list[bytes]:
    """A new stream's events as the store records them (`recorded_at` None: each event's time)."""
    return [r.raw for r in encode(StreamAppend(dossier_id, 0, GENESIS_HASH, events), recorded_at).records]


class DerivedSeal:
    """AES-256-GCM under a per-dossier key and nonce derived from the master key: one message
    per dossier, so the derived nonce is never reused, and the ciphertext is reproducible."""

    def __init__(self, master_key: bytes) -> None:
        self._master = master_key

    def _derive(self, label: bytes, dossier_id: str) -> bytes:
        return hmac.new(self._master, label + dossier_id.encode(), hashlib.sha256).digest()

    def __call__(self, dossier_id: str, applicant: dict[str, Any]) -> dict[str, Any]:
        key = self._derive(b"simulated-applicant-key:", dossier_id)
        nonce = self._derive(b"simulated-applicant-nonce:", dossier_id)[:12]
        ciphertext = AESGCM(key).encrypt(nonce, orjson.dumps(applicant), dossier_id.encode())
        return {
            "alg": "AES-256-GCM",
            "kid": f"derived:{dossier_id}",
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        }


class Sink(Protocol):
    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> Mapping[str, Any]:
        """The applicant's data as it may be written (never in clear)."""
        ...

    def write(self, history: History) -> None: ...

    def close(self) -> int:
        """Flush what is buffered; the number of events written in all."""
        ...


class StoreSink:
    """New streams into the event store through the process's writer, `batch` dossiers per
    transaction (with the new dossiers' data keys)."""

    def __init__(
        self,
        writer: GroupCommitWriter,
        vault: PiiVault,
        recorded_at: Callable[[], datetime],
        batch: int = 500,
    ) -> None:
        self._writer = writer
        self._vault = vault
        self._recorded_at = recorded_at
        self._batch = batch
        self._pending: list[History] = []
        self._rows: list[Row] = []
        self.written = 0

    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> Mapping[str, Any]:
        new_key = self._vault.new_key(dossier_id)
        self._rows.append(new_key.row)
        return self._vault.seal_with(new_key.key, dossier_id, applicant)

    def write(self, history: History) -> None:
        if history.events:
            self._pending.append(history)
            if len(self._pending) >= self._batch:
                self.flush()

    def flush(self) -> None:
        if not self._pending and not self._rows:
            return
        appends = [StreamAppend(h.dossier_id, 0, GENESIS_HASH, h.events) for h in self._pending]
        self._writer.write(appends, self._recorded_at(), self._rows)
        self.written += sum(len(h.events) for h in self._pending)
        self._pending.clear()
        self._rows = []

    def close(self) -> int:
        self.flush()
        return self.written


class FileSink:
    """One envelope per line (JSON lines), streams one after the other."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._seal = DerivedSeal(master_key)
        self._part = path.with_name(path.name + ".part")
        self._out: IO[bytes] = self._part.open("wb")
        self.written = 0

    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> Mapping[str, Any]:
        return self._seal(dossier_id, applicant)

    def write(self, history: History) -> None:
        for raw in encode_stream(history.dossier_id, history.events, None):
            self._out.write(raw + b"\n")
            self.written += 1

    def close(self) -> int:
        self._out.close()
        self._part.replace(self.path)
        return self.written


class TopicSink:
    """Envelopes onto a Kafka topic (key: dossier id; partition as the relay chooses)."""

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, master_key: bytes, batch: int = 2000
    ) -> None:
        from aiokafka import AIOKafkaProducer

        from gateways.kafka.topics import servers

        self.topic = topic
        self.partitions = partitions
        self._seal = DerivedSeal(master_key)
        self._loop = asyncio.new_event_loop()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=servers(bootstrap), enable_idempotence=True, acks="all", linger_ms=5
        )
        self._loop.run_until_complete(self._producer.start())
        self._batch = batch
        self._pending: list[tuple[str, bytes]] = []
        self.written = 0

    def seal(self, dossier_id: str, applicant: dict[str, Any]) -> Mapping[str, Any]:
        return self._seal(dossier_id, applicant)

    def write(self, history: History) -> None:
        for raw in encode_stream(history.dossier_id, history.events, None):
            self._pending.append((history.dossier_id, raw))
        if len(self._pending) >= self._batch:
            self._loop.run_until_complete(self._send())

    async def _send(self) -> None:
        from gateways.kafka.topics import partition_for

        futures = [
            await self._producer.send(
                self.topic,
                value=raw,
                key=dossier_id.encode(),
                partition=partition_for(dossier_id, self.partitions),
                headers=[("content-type", b"application/json")],
            )
            for dossier_id, raw in self._pending
        ]
        await asyncio.gather(*futures)
        self.written += len(self._pending)
        self._pending.clear()

    def close(self) -> int:
        try:
            self._loop.run_until_complete(self._send())
            self._loop.run_until_complete(self._producer.stop())
        finally:
            self._loop.close()
        return self.written
