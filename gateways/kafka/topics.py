"""The project's Kafka topics, their settings, and how a dossier maps to a partition."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

# MAX_EVENT_BYTES (gateways.eventstore.limits, where the store refuses an event whose record
# would not fit) is the events topic's max.message.bytes and the most the relay sends.
# Consumers need no setting of their own: a fetch returns a record larger than its size limit
# on its own.
from gateways.eventstore.limits import MAX_EVENT_BYTES

log = logging.getLogger("lienthong.kafka")

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topics:
    events: str
    commands: str
    results: str
    dlq: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(
            events=f"{prefix}.dossier-events.v1",
            commands=f"{prefix}.dossier-commands.v1",
            results=f"{prefix}.command-results.v1",
            dlq=f"{prefix}.dlq.v1",
        )

    def group(self, role: str) -> str:
        """Consumer group ids live beside the topics: `<prefix>.views`, `<prefix>.commands`."""
        return self.events.removesuffix(".dossier-events.v1") + "." + role


def servers(bootstrap: str) -> list[str]:
    """ "h1:p1,h2:p2" (LIENTHONG_KAFKA_BOOTSTRAP of a cluster) -> the list aiokafka expects;
    it would take the whole string for one host name."""
    return [part.strip() for part in bootstrap.split(",") if part.strip()]


def partition_for(dossier_id: str, partitions: int) -> int:
    """Kafka's default key partitioner (murmur2), computed here so the relay knows the
    partition of every event before sending it."""
    return int(murmur2(dossier_id.encode()) & 0x7FFFFFFF) % partitions


def min_insync(replication: int) -> int:
    """2 of 3 replicas must confirm an acks=all write; one broker may be down."""
    return max(1, min(2, replication - 1))


def topic_specs(topics: Topics, event_partitions: int, replication: int = 1) -> list[NewTopic]:
    # Events are the durable backbone: never compacted, never expired.
    durable = {"min.insync.replicas": str(min_insync(replication))}
    return [
        NewTopic(
            topics.events,
            event_partitions,
            replication,
            topic_configs={
                "cleanup.policy": "delete",
                "retention.ms": "-1",
                "max.message.bytes": str(MAX_EVENT_BYTES),
                **durable,
            },
        ),
        NewTopic(topics.commands, 3, replication, topic_configs={"retention.ms": str(7 * DAY_MS), **durable}),
        NewTopic(topics.results, 3, replication, topic_configs={"retention.ms": str(7 * DAY_MS), **durable}),
        NewTopic(topics.dlq, 1, replication, topic_configs={"retention.ms": str(30 * DAY_MS), **durable}),
    ]


async def ensure_topics(bootstrap: str, topics: Topics, event_partitions: int, replication: int = 1) -> None:
    """Create the topics that are missing (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_specs(topics, event_partitions, replication) if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
                log.info("created topics %s", ", ".join(t.name for t in missing))
            except TopicAlreadyExistsError:
                pass  # another process created them first
    finally:
        await admin.close()


async def max_message_bytes(bootstrap: str, topic: str) -> int | None:
    """The largest record batch `topic` takes (its max.message.bytes), None if it cannot be read."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        wanted = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": None})
        answer = (await admin.describe_configs([wanted]))[0].to_object()
        for resource in answer["resources"]:
            for entry in resource["config_entries"]:
                if entry["config_names"] == "max.message.bytes":
                    return int(entry["config_value"])
        return None
    finally:
        await admin.close()


async def delete_prefixed(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (a run's own, fresh prefix); their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> offset after its last record (the high watermark)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers(bootstrap), enable_auto_commit=False, request_timeout_ms=10000
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # a fresh client may not know the topic yet
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def group_assignment(bootstrap: str, group: str, topic: str) -> tuple[str, list[set[int]]]:
    """The consumer group as the broker sees it: its state and each member's partitions of `topic`.

    The broker's answer, not a process's log: a log line can be stale while a rebalance is under way."""
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        described = (await admin.describe_consumer_groups([group]))[0].to_object()
    finally:
        await admin.close()
    found = described["groups"][0]
    members: list[set[int]] = []
    for member in found["members"]:
        raw = member["member_assignment"]
        decoded = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
        members.append(
            {p for t, parts in (decoded.assignment if decoded else []) if t == topic for p in parts}
        )
    return str(found["state"]), members
