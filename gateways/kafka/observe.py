"""What the stream side adds to /metrics when it runs in the API's process: records sent
to the dead-letter topic, the relay's throughput, and the end offset of every partition of
the events topic (sampled, so the projector lag per view and partition can be computed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateways.kafka.topics import end_offsets

if TYPE_CHECKING:
    from gateways.kafka.app import StreamSide
    from gateways.metrics import Metrics

log = logging.getLogger("lienthong.kafka")

SAMPLE_SECONDS = 5.0


class StreamCollector(Collector):
    def __init__(self, side: StreamSide) -> None:
        self.side = side

    def collect(self) -> Iterable[Metric]:
        dlq = CounterMetricFamily(
            "lienthong_dlq_records",
            "Records this process sent to the dead-letter topic, by consumer group.",
            labels=["group"],
        )
        for projector in self.side.projectors:
            dlq.add_metric([projector.group], projector.dead)
        if self.side.inbound:
            dlq.add_metric([self.side.topics.group("commands")], self.side.inbound_dead)
        yield dlq
        if self.side.relay is not None:
            published = CounterMetricFamily(
                "lienthong_relay_published_events", "Events this process's relay published to Kafka."
            )
            published.add_metric([], self.side.relay.stats.published)
            yield published
            leader = GaugeMetricFamily(
                "lienthong_relay_active",
                "1 if this process's relay holds the relay lock and publishes, 0 if it stands by.",
            )
            leader.add_metric([], 1.0 if self.side.relay.stats.leader else 0.0)
            yield leader


async def sample_partition_ends(side: StreamSide, metrics: Metrics, stop: asyncio.Event) -> None:
    """Every few seconds, the end offset of each partition of the events topic."""
    topic = side.topics.events
    while not stop.is_set():
        try:
            ends = await end_offsets(side.bootstrap, topic)
            metrics.partition_ends.update({(topic, p): end for p, end in ends.items()})
        except Exception as exc:  # the broker may be away: the lag is then unknown, not wrong
            log.warning("metrics: no end offsets from Kafka (%s)", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
