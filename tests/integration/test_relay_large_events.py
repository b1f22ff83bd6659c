"""An event larger than Kafka's default 1 MiB record (an imported legacy event carrying a large
attribute) on the real broker: the relay publishes it in its place, and never publishes past an
event it cannot send (that was a silent gap: the event after it landed, and on restart the relay
took the partition's last record for proof that everything before it was there)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateways.bootstrap import Container
from gateways.kafka.relay import EventTooLarge, Relay
from gateways.kafka.topics import Topics
from gateways.settings import Settings
from tests.integration.kafka_support import cli, kafka_settings, read_topic


def _log(path: Path, big: int) -> Path:
    """Two legacy cases; the first one's first event carries an attribute of `big` characters."""

    def event(name: str, day: int, extra: str = "") -> str:
        return (
            f'<event><string key="concept:name" value="{name}"/>'
            f'<string key="org:group" value="GROUP-9"/>'
            f'<date key="time:timestamp" value="2024-03-0{day}T09:00:00+07:00"/>{extra}</event>'
        )

    def trace(name: str, *events: str) -> str:
        return f'<trace><string key="concept:name" value="{name}"/>{"".join(events)}</trace>'

    note = f'<string key="note" value="{"A" * big}"/>'
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'
        + trace("big-1", event("Register", 1, note), event("Close", 2))
        + trace("small-2", event("Register", 3), event("Close", 4))
        + "</log>"
    )
    return path


def _imported(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str, big: int
) -> tuple[Container, Topics]:
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    cli(settings, "import-xes", str(_log(tmp_path / "legacy.xes", big)), cwd=tmp_path)
    return containers(settings), Topics.with_prefix(settings.kafka_topic_prefix)


def _published_seqs(kafka_bootstrap: str, topics: Topics) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for record in asyncio.run(read_topic(kafka_bootstrap, topics.events)):
        envelope = orjson.loads(record.value)
        seqs[envelope["dossier_id"]].append(envelope["seq"])
    return seqs


def test_an_event_over_one_mebibyte_is_published_in_order_with_the_rest(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    container, topics = _imported(containers, tmp_path, kafka_bootstrap, prefix, big=1_200_000)
    head = container.store.max_notification_id()
    relay = Relay(container.store, container.db, kafka_bootstrap, topics)
    assert asyncio.run(relay.drain()) == head
    seqs = _published_seqs(kafka_bootstrap, topics)
    stored = {r.dossier_id for r in container.store.notifications(0, limit=head)}
    assert set(seqs) == stored
    for dossier, published in seqs.items():
        assert published == list(range(1, container.store.version(dossier) + 1)), dossier


def test_an_event_the_topic_cannot_take_stops_the_relay_before_it_and_nothing_after_it_goes(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    container, topics = _imported(containers, tmp_path, kafka_bootstrap, prefix, big=300_000)
    head = container.store.max_notification_id()
    records = container.store.notifications(0, limit=head)
    [too_large] = [r for r in records if len(r.raw) > 300_000]
    relay = Relay(container.store, container.db, kafka_bootstrap, topics, max_event_bytes=200_000)
    for _ in range(2):  # and again, as the relay retries: still no gap
        with pytest.raises(EventTooLarge, match=f"seq {too_large.seq}"):
            asyncio.run(relay.drain())
        assert relay.position() == too_large.notification_id - 1
        seqs = _published_seqs(kafka_bootstrap, topics)
        assert seqs[too_large.dossier_id] == list(range(1, too_large.seq))
        published = sum(len(s) for s in seqs.values())
        assert published == too_large.notification_id - 1  # everything before it, nothing after


def test_a_topic_taking_less_than_a_producer_batch_gets_every_event_and_no_gap(
    containers: Callable[[Settings], Container], tmp_path: Path, kafka_bootstrap: str, prefix: str
) -> None:
    """Each event fits the topic, but the relay batched a partition's records up to 512 KiB: on a
    topic taking 300 kB the broker refused every full batch and took the last one, so the topic
    held a dossier's seq 269-302 and no earlier one, and a restart took seq 302 for proof that
    everything before it was there."""
    # A log lienthong exported (its events name their type): stored event by event, 302 events of
    # one dossier (a foreign log's trace would be one event, decision 217).
    log = tmp_path / "legacy.xes"
    steps = "".join(
        f'<event><string key="concept:name" value="Step{i}"/><string key="org:group" value="GROUP-9"/>'
        '<string key="lienthong:type" value="LegacyActivityRecorded"/>'
        f'<date key="time:timestamp" value="2024-03-01T09:{i // 60:02d}:{i % 60:02d}+07:00"/>'
        f'<string key="note" value="{"A" * 3000}"/></event>'
        for i in range(300)
    )
    log.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'
        f'<trace><string key="concept:name" value="one"/>{steps}</trace></log>'
    )
    settings = kafka_settings(
        tmp_path / "var", f"sqlite:///{tmp_path / 'events.sqlite'}", kafka_bootstrap, prefix
    )
    cli(settings, "import-xes", str(log), cwd=tmp_path)
    container, topics = containers(settings), Topics.with_prefix(settings.kafka_topic_prefix)

    async def create() -> None:  # as an operator whose brokers take records of 300 kB at most
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            limit = {"max.message.bytes": "300000"}
            await admin.create_topics([NewTopic(topics.events, 12, 1, topic_configs=limit)])
        finally:
            await admin.close()

    asyncio.run(create())
    head = container.store.max_notification_id()
    assert head > 300
    relay = Relay(container.store, container.db, kafka_bootstrap, topics)
    assert asyncio.run(relay.drain()) == head
    [(dossier, published)] = _published_seqs(kafka_bootstrap, topics).items()
    assert published == list(range(1, container.store.version(dossier) + 1))
