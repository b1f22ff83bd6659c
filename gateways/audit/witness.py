"""Kafka as an external witness of the event store (`lienthong audit verify --against-kafka`).

The relay publishes every stored envelope byte for byte, and each envelope carries its
`seq`, `prev_hash` and `hash`: the last record of a dossier on the events topic is that
stream's chain head as it was published. Someone who rewrites stored events (re-hashing
the chain) or cuts the end of a stream after the last signed checkpoint cannot also
rewrite what the broker already acknowledged, so:

- an event published with seq s and hash h must be stored with the same hash at seq s
  (the chain then vouches for every earlier event of that stream);
- a stream must hold at least as many events as were published.

One pass over the topic keeps the head per dossier (memory grows with the number of
dossiers, not events); one pass over the store compares; only dossiers found wrong are
read again event by event, to name the first event that differs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from gateways.audit.chains import examine
from gateways.eventstore.store import EventStore
from gateways.kafka.topics import servers


class NoWitness(Exception):
    """The events topic cannot be read."""


@dataclass(frozen=True)
class Published:
    dossier_id: str
    seq: int
    hash: str
    partition: int
    offset: int


@dataclass
class WitnessResult:
    published_events: int = 0
    published_dossiers: int = 0
    checked_events: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults

    @property
    def first_bad(self) -> dict[str, Any] | None:
        return self.faults[0] if self.faults else None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "published_events": self.published_events,
            "published_dossiers": self.published_dossiers,
            "checked_events": self.checked_events,
            "faults": self.faults,
        }


async def read_published(
    bootstrap: str, topic: str, only: set[str] | None = None, timeout_s: float = 60.0
) -> list[Published] | dict[str, Published]:
    """Heads per dossier (only=None), or every record of the dossiers in `only`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers(bootstrap), enable_auto_commit=False, request_timeout_ms=15000
    )
    await consumer.start()
    heads: dict[str, Published] = {}
    every: list[Published] = []
    try:
        numbers = consumer.partitions_for_topic(topic) or set()
        if not numbers:
            await consumer._client.force_metadata_update()  # a fresh client may not know the topic yet
            numbers = consumer.partitions_for_topic(topic) or set()
        if not numbers:
            # No witness is not a clean witness: say so rather than pass.
            raise NoWitness(f"topic {topic} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(numbers)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        waiting = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while waiting:
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f} s")
            got = await consumer.getmany(*waiting, timeout_ms=1000, max_records=5000)
            for tp, messages in got.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        continue
                    item = _published(message.value, tp.partition, message.offset)
                    if item is None:
                        continue
                    if only is not None:
                        if item.dossier_id in only:
                            every.append(item)
                        continue
                    known = heads.get(item.dossier_id)
                    if known is None or item.seq >= known.seq:
                        heads[item.dossier_id] = item
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return every if only is not None else heads


def _published(value: bytes | None, partition: int, offset: int) -> Published | None:
    try:
        envelope = orjson.loads(value or b"")
        return Published(
            str(envelope["dossier_id"]), int(envelope["seq"]), str(envelope["hash"]), partition, offset
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def compare_heads(
    store: EventStore, heads: dict[str, Published], result: WitnessResult, batch: int = 1000
) -> set[str]:
    """One pass over the store in append order; the dossiers that differ from the witness."""
    result.published_dossiers = len(heads)
    seen_head: set[str] = set()
    suspects: set[str] = set()
    position = 0
    while notes := store.recorder.select_notifications(position, batch, inclusive_of_start=False):
        for note in notes:
            result.checked_events += 1
            dossier_id, seq = str(note.originator_id), int(note.originator_version)
            head = heads.get(dossier_id)
            if head is None or seq != head.seq:
                continue
            seen_head.add(dossier_id)
            if examine(bytes(note.state)).digest != head.hash:
                suspects.add(dossier_id)
        position = notes[-1].id
    suspects.update(set(heads) - seen_head)
    return suspects


def name_faults(
    store: EventStore, records: Iterable[Published], suspects: set[str], result: WitnessResult
) -> None:
    """The first event of each suspect dossier whose stored form differs from the published one."""
    published: dict[str, dict[int, Published]] = {}
    for item in records:
        published.setdefault(item.dossier_id, {}).setdefault(item.seq, item)
    for dossier_id in sorted(suspects):
        stored = {
            int(r.originator_version): examine(bytes(r.state)).digest
            for r in store.recorder.select_events(uuid.UUID(dossier_id))
        }
        for seq in sorted(published.get(dossier_id, {})):
            item = published[dossier_id][seq]
            where = f"published to Kafka at partition {item.partition}, offset {item.offset}"
            if seq not in stored:
                result.faults.append(
                    _fault(dossier_id, seq, f"deleted: {where}, no longer stored (cut)", item)
                )
                break
            if stored[seq] != item.hash:
                result.faults.append(
                    _fault(dossier_id, seq, f"rewritten: the stored event differs from the one {where}", item)
                )
                break


def _fault(dossier_id: str, seq: int, reason: str, item: Published) -> dict[str, Any]:
    return {
        "dossier_id": dossier_id,
        "seq": seq,
        "reason": reason,
        "partition": item.partition,
        "offset": item.offset,
    }


async def verify_against_kafka(store: EventStore, bootstrap: str, topic: str) -> WitnessResult:
    result = WitnessResult()
    heads = await read_published(bootstrap, topic)
    assert isinstance(heads, dict)
    result.published_events = sum(h.seq for h in heads.values())
    suspects = await asyncio.to_thread(compare_heads, store, heads, result)
    if suspects:
        records = await read_published(bootstrap, topic, only=suspects)
        assert isinstance(records, list)
        await asyncio.to_thread(name_faults, store, records, suspects, result)
    return result
