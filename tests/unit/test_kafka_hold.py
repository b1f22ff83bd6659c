"""The projector holds several Kafka batches and applies them in one transaction: when it holds
enough, when a batch comes back short (caught up), when the oldest has waited long enough, and
before its partitions are revoked. Fed through FastStream's TestKafkaBroker, or by calling the
projector with records as aiokafka hands them over, and compared with a rebuild from the store."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import TestKafkaBroker

from gateways.bootstrap import Container, bootstrap
from gateways.eventstore.store import RecordedEvent
from gateways.kafka.app import StreamSide, build_stream
from gateways.kafka.projector import KAFKA_FEED, ViewProjector, _SeekToStored, part_key
from gateways.kafka.relay import headers_for
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from gateways.views.runtime import STORE_PART
from tests.integration.kafka_support import rows, view_tables

SECRET = "test-secret-of-at-least-thirty-two-bytes"
TOPIC = "unit.events"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.sqlite'}"


@pytest.fixture
def container(tmp_path: Path, store_url: str) -> Iterator[Container]:
    # A Kafka bootstrap turns the in-process feed off: only the projector feeds the views.
    settings = Settings(
        data_dir=tmp_path / "var",
        event_store_url=store_url,
        view_store_url=f"sqlite:///{tmp_path / 'views.sqlite'}",
        kafka_bootstrap="127.0.0.1:1",
        kafka_topic_prefix="unit",
        jwt_secret=SECRET,
    )
    made = bootstrap(settings)
    yield made
    made.close()


@pytest.fixture
def rebuilt(tmp_path: Path, store_url: str) -> Iterator[Callable[[], Container]]:
    """The same event store's views rebuilt in a view store of their own."""
    made: list[Container] = []

    def make() -> Container:
        settings = Settings(
            data_dir=tmp_path / "rebuild",
            event_store_url=store_url,
            view_store_url=f"sqlite:///{tmp_path / 'rebuilt.sqlite'}",
            jwt_secret=SECRET,
        )
        made.append(bootstrap(settings))
        made[-1].feed.rebuild()
        return made[-1]

    yield make
    for c in made:
        c.close()


def assert_views_equal(live: Container, rebuilt: Container) -> None:
    assert len(rows(live.view_db, "dossier_index")) > 0
    for view, table in view_tables():
        assert rows(live.view_db, table) == rows(rebuilt.view_db, table), f"view {view}: {table} differs"
        seqs = ("WHERE view = ?", (view,))
        assert rows(live.view_db, "projection_seqs", *seqs) == rows(rebuilt.view_db, "projection_seqs", *seqs)


def history(container: Container, dossiers: int) -> list[RecordedEvent]:
    bulk_seed(container, dossiers)
    records = container.store.notifications(0, 100_000)
    assert len(records) > 3 * dossiers
    return records


def projector_of(
    container: Container, batch: int, hold: int, wait: float
) -> tuple[StreamSide, ViewProjector]:
    side = build_stream(container, with_inbound=False, with_relay=False)
    [projector] = side.projectors
    projector.batch, projector.hold, projector.wait = batch, hold, wait
    return side, projector


def stored(container: Container) -> dict[str, int]:
    return {r.name: sum(r.positions(KAFKA_FEED).values()) for r in container.runners}


async def until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Let the event loop run until `check` holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


def test_full_batches_are_held_and_a_short_one_applies_them_all_in_one_transaction(
    container: Container, rebuilt: Callable[[], Container]
) -> None:
    records = history(container, 12)
    batch = 10
    full, rest = divmod(len(records), batch)
    assert full >= 3 and rest, "the history must give full batches and a short one"
    side, projector = projector_of(container, batch=batch, hold=100_000, wait=3600)

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            for n in range(full):
                chunk = records[n * batch : (n + 1) * batch]
                await broker.publish_batch(*[r.raw for r in chunk], topic=side.topics.events)
            # Every batch was full: the consumer may have more to read, so nothing is applied yet.
            assert projector.holding == full * batch and projector.flushes == 0
            assert stored(container) == dict.fromkeys(projector.names, 0)
            await broker.publish_batch(*[r.raw for r in records[full * batch :]], topic=side.topics.events)
            await projector.close()

    asyncio.run(deliver())
    assert (projector.batches, projector.flushes, projector.holding) == (full + 1, 1, 0)
    assert projector.applied == dict.fromkeys(projector.names, len(records))
    assert_views_equal(container, rebuilt())


def test_holding_enough_applies_and_the_oldest_waiting_long_enough_applies_too(
    container: Container, rebuilt: Callable[[], Container]
) -> None:
    records = history(container, 12)
    batch = 10
    side, projector = projector_of(container, batch=batch, hold=3 * batch, wait=0.05)
    chunks = [records[n : n + batch] for n in range(0, len(records), batch)]
    full = [c for c in chunks if len(c) == batch]
    assert len(full) >= 4

    async def deliver() -> None:
        async with TestKafkaBroker(side.broker) as broker:
            for n, chunk in enumerate(full[:3]):
                await broker.publish_batch(*[r.raw for r in chunk], topic=side.topics.events)
                assert projector.flushes == (1 if n == 2 else 0)  # the third batch reaches `hold`
            assert projector.holding == 0 and projector.applied == dict.fromkeys(projector.names, 3 * batch)
            # One full batch and nothing after it: the consumer has gone idle, the timer applies it.
            await broker.publish_batch(*[r.raw for r in full[3]], topic=side.topics.events)
            await until(lambda: projector.flushes == 2, "the held batch to be applied once it has waited")
            assert projector.holding == 0
            for chunk in chunks[4:]:
                await broker.publish_batch(*[r.raw for r in chunk], topic=side.topics.events)
            await until(lambda: projector.holding == 0, "the rest to be applied")
            await projector.close()

    asyncio.run(deliver())
    assert projector.applied == dict.fromkeys(projector.names, len(records))
    assert_views_equal(container, rebuilt())


def kafka_records(records: list[RecordedEvent], partitions: int) -> list[ConsumerRecord[bytes, bytes]]:
    """The records as aiokafka hands them over: dossier by dossier on its partition, in order."""
    offsets = [0] * partitions
    out = []
    for record in records:
        partition = int(record.dossier_id[-1], 16) % partitions
        out.append(
            ConsumerRecord(
                TOPIC,
                partition,
                offsets[partition],
                0,
                0,
                record.dossier_id.encode(),
                record.raw,
                None,
                len(record.dossier_id),
                len(record.raw),
                headers_for(record),
            )
        )
        offsets[partition] += 1
    return out


def test_a_revoke_applies_what_is_held_first_and_nothing_of_the_partition_is_taken_after(
    container: Container, rebuilt: Callable[[], Container]
) -> None:
    records = history(container, 20)
    given = kafka_records(records, 2)
    parts = [part_key(TOPIC, 0), part_key(TOPIC, 1)]
    half = len(given) // 2
    first, second = given[:half], given[half:]
    _, projector = projector_of(container, batch=len(first), hold=100_000, wait=3600)
    applied_at_revoke: dict[str, dict[str, int]] = {}

    async def run() -> None:
        projector.take(dict.fromkeys(parts, 0))
        await projector.handle(first)  # a full batch: held
        assert projector.holding == len(first) and projector.flushes == 0
        await projector.release(parts)  # the rebalance: held records applied before the partitions go
        assert (projector.holding, projector.flushes, projector.released) == (0, 1, len(first))
        applied_at_revoke.update({r.name: r.positions(KAFKA_FEED) for r in container.runners})
        # A batch fetched before the revoke and handed over after it: not this process's any more.
        await projector.handle(second)
        assert projector.holding == 0 and projector.dropped == len(second)
        # Assigned again: each partition from the views' positions; what is below them is skipped.
        [starts] = {tuple(sorted(p.items())) for p in applied_at_revoke.values()}
        projector.take({part: offset for part, offset in starts if part != STORE_PART})
        await projector.handle(given)  # the whole log redelivered, as a full batch
        assert projector.holding == len(second) and projector.dropped == len(second) + len(first)
        await projector.flush()
        await projector.close()

    asyncio.run(run())
    for positions in applied_at_revoke.values():
        assert sum(v for k, v in positions.items() if k != STORE_PART) == len(first)
    assert projector.applied == dict.fromkeys(projector.names, len(records))
    assert projector.skipped == dict.fromkeys(projector.names, 0)  # nothing reached a view twice
    assert_views_equal(container, rebuilt())


def test_records_handed_over_before_any_assignment_are_taken(container: Container) -> None:
    """The test broker (and `lienthong stream` before a consumer group exists) assigns nothing."""
    records = history(container, 3)
    _, projector = projector_of(container, batch=10_000, hold=100_000, wait=3600)
    given: list[Any] = kafka_records(records, 1)

    async def run() -> None:
        await projector.handle(given)
        await projector.close()

    asyncio.run(run())
    assert projector.dropped == 0 and projector.applied == dict.fromkeys(projector.names, len(records))


def test_an_assignment_whose_positions_cannot_be_read_goes_on_from_the_committed_offsets(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = history(container, 3)
    _, projector = projector_of(container, batch=10_000, hold=100_000, wait=3600)
    given = kafka_records(records, 1)

    def unreadable(feed: str) -> dict[str, int]:
        raise RuntimeError("view store unavailable")

    async def run() -> None:
        with monkeypatch.context() as patched:
            patched.setattr(container.runners[0], "positions", unreadable)
            await _SeekToStored(projector, lambda: None).on_partitions_assigned([TopicPartition(TOPIC, 0)])
        await projector.handle(given)  # what the consumer reads from the committed offset on
        await projector.close()

    asyncio.run(run())
    assert projector.dropped == 0 and projector.applied == dict.fromkeys(projector.names, len(records))


def test_a_failed_transaction_reads_its_records_again_and_no_later_record_passes_them(
    container: Container, rebuilt: Callable[[], Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = history(container, 6)
    given = kafka_records(records, 2)
    _, projector = projector_of(container, batch=len(given) + 1, hold=100_000, wait=3600)

    async def failing(*args: Any) -> Any:
        raise RuntimeError("the dead-letter topic cannot be written")

    async def run() -> None:
        projector.take(dict.fromkeys([part_key(TOPIC, 0), part_key(TOPIC, 1)], 0))
        with monkeypatch.context() as patched:
            patched.setattr(projector, "_apply", failing)
            with pytest.raises(RuntimeError):
                await projector.handle(given)  # a short batch: applied at once, and that fails
        assert projector.holding == 0 and stored(container) == dict.fromkeys(projector.names, 0)
        # The consumer reads the partitions again from the first record not applied: taken, not dropped.
        await projector.handle(given)
        await projector.close()

    asyncio.run(run())
    assert projector.dropped == 0
    assert projector.applied == dict.fromkeys(projector.names, len(records))
    assert_views_equal(container, rebuilt())


class SeekingConsumer:
    """What the projector asks of aiokafka's consumer: seeks are recorded, commits accepted."""

    def __init__(self) -> None:
        self.seeks: dict[int, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp.partition] = offset

    async def commit(self, offsets: Any) -> None:
        return None


def test_a_dead_letter_that_cannot_be_sent_reads_it_and_the_rest_of_its_batch_again(
    container: Container, rebuilt: Callable[[], Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = history(container, 6)
    plain = kafka_records(records, 2)
    # A record that cannot be decoded in the middle of partition 0; later offsets there move up one.
    middle = len(plain) // 2
    at = 1 + max(r.offset for r in plain[:middle] if r.partition == 0)
    poison = dataclasses.replace(plain[middle], partition=0, offset=at, key=b"k", value=b"{not json")
    later = [dataclasses.replace(r, offset=r.offset + 1) if r.partition == 0 else r for r in plain[middle:]]
    given = [*plain[:middle], poison, *later]
    _, projector = projector_of(container, batch=len(given) + 1, hold=100_000, wait=3600)
    consumer = SeekingConsumer()
    projector._consumer = lambda: consumer
    sent: list[int] = []

    async def unavailable(record: Any, error: str) -> None:
        raise RuntimeError("the dead-letter topic cannot be written")

    async def dead_letter(record: Any, error: str) -> None:
        sent.append(record.offset)

    async def run() -> None:
        projector.take(dict.fromkeys([part_key(TOPIC, 0), part_key(TOPIC, 1)], 0))
        with monkeypatch.context() as patched:
            patched.setattr(projector, "_dead_letter", unavailable)
            with pytest.raises(RuntimeError):
                await projector.handle(given)
        first_unread = min(r.offset for r in later if r.partition == 1)
        assert consumer.seeks == {0: at, 1: first_unread}
        with monkeypatch.context() as patched:
            patched.setattr(projector, "_dead_letter", dead_letter)
            # The consumer reads on from where it was sent back to.
            await projector.handle([r for r in given if r.offset >= consumer.seeks[r.partition]])
        await projector.close()

    asyncio.run(run())
    assert sent == [at] and projector.dropped == 0
    assert projector.applied == dict.fromkeys(projector.names, len(records))
    assert_views_equal(container, rebuilt())
