"""Prometheus metrics (prometheus-client), one registry per container.

Counted as they happen: commands by command and outcome, command latency, HTTP requests
and their latency, writer batch sizes, rate-limited requests. Read at scrape time from
the stores (so correct whichever process does the work): events recorded, projector lag
per view (and per Kafka partition when the stream side runs here), relay position and
lag, writer totals, checkpoint age and events waiting for one. The stream side adds its
collectors (dead-lettered records, relay throughput, partition end offsets) when it
runs in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateways.bootstrap import Container
    from gateways.feeds import LagRow

log = logging.getLogger("lienthong.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


def outcome_of(status: int, replayed: bool = False) -> str:
    """A command's outcome label from the status it answers with."""
    if status < 300:
        return "replayed" if replayed else "ok"
    return {
        400: "invalid",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "invalid",
        422: "invalid",
        429: "rate_limited",
        503: "overloaded",
    }.get(status, "error")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.commands = Counter(
            "lienthong_commands",
            "Dossier commands handled, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "lienthong_command_duration_seconds",
            "Time from a command's arrival to its answer (decided, recorded, committed).",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "lienthong_writer_batch_size",
            "Commands committed together by one group commit of the writer.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "lienthong_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "lienthong_http_request_duration_seconds",
            "HTTP request latency by method and route (until the response starts).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "lienthong_rate_limited", "Requests refused with 429, by limit.", ["limit"], registry=r
        )

        # (topic, partition) -> end offset, sampled by the stream side when it runs in this process.
        self.partition_ends: dict[tuple[str, int], int] = {}

    def observe_command(self, command: str, status: int, replayed: bool, seconds: float) -> None:
        self.commands.labels(command, outcome_of(status, replayed)).inc()
        self.command_seconds.labels(command).observe(seconds)

    def observe_batch(self, size: int) -> None:
        self.batch_size.observe(size)

    def add(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _partitions(rows: list[LagRow]) -> Iterable[Metric]:
    """Per view and partition of the events topic: the next offset, and the lag where the end is known."""
    if not rows:
        return
    offsets = GaugeMetricFamily(
        "lienthong_projector_offset",
        "Next offset each view will read, per Kafka partition of the events topic.",
        labels=["view", "partition"],
    )
    partition_lag = GaugeMetricFamily(
        "lienthong_projector_partition_lag_records",
        "Records of a partition of the events topic not yet applied to a view.",
        labels=["view", "partition"],
    )
    for row in rows:
        if row.position is None:
            continue  # a partition this view has read nothing of is not reported
        offsets.add_metric([row.view, row.partition], row.position)
        if row.lag is not None:
            partition_lag.add_metric([row.view, row.partition], row.lag)
    yield offsets
    yield partition_lag


class StoreCollector(Collector):
    """What the stores say at scrape time."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._collect()
        except Exception:  # a scrape must not fail because a store is away: /readyz says so
            log.exception("metrics: the stores could not be read")

    def _collect(self) -> Iterable[Metric]:
        c = self.container
        head = c.store.max_notification_id()
        events = CounterMetricFamily("lienthong_events", "Events recorded in the event store.")
        events.add_metric([], head)
        yield events

        feed = c.feed
        lag = feed.lag()
        lag_events = GaugeMetricFamily(
            "lienthong_projector_lag_events",
            "Events recorded but not yet applied to a view.",
            labels=["view", "feed"],
        )
        for row in lag.views:
            lag_events.add_metric([row.view, row.feed], row.lag or 0)
        yield lag_events
        yield from _partitions(feed.partitions(c.metrics.partition_ends))  # none in process
        if lag.relay is not None:
            relay_lag = GaugeMetricFamily(
                "lienthong_relay_lag_events", "Events recorded but not yet confirmed on Kafka."
            )
            relay_lag.add_metric([], lag.relay.lag or 0)
            yield relay_lag
            relayed = CounterMetricFamily(
                "lienthong_relay_confirmed_events",
                "The relay's position: events confirmed on Kafka (its rate is the relay's throughput).",
            )
            relayed.add_metric([], lag.relay.position or 0)
            yield relayed

        stats = c.writer.stats
        for name, value, text in (
            ("lienthong_writer_batches", stats.batches, "Group commits of the writer."),
            ("lienthong_writer_jobs", stats.jobs, "Commands that went through the writer."),
            (
                "lienthong_writer_conflicts",
                stats.conflicts,
                "Group commits retried after a concurrent write.",
            ),
            (
                "lienthong_writer_rejected",
                stats.rejected,
                "Commands refused because the writer's queue was full.",
            ),
        ):
            family = CounterMetricFamily(name, text)
            family.add_metric([], value)
            yield family

        latest = c.checkpoints.latest()
        waiting = GaugeMetricFamily(
            "lienthong_checkpoint_waiting_events", "Events recorded since the last signed checkpoint."
        )
        waiting.add_metric([], max(0, c.checkpoints.waiting(latest)))
        yield waiting
        if latest is not None:
            age = GaugeMetricFamily(
                "lienthong_checkpoint_age_seconds", "Seconds since the last signed checkpoint."
            )
            signed = datetime.fromisoformat(latest.created_at)
            age.add_metric([], max(0.0, (c.clock() - signed).total_seconds()))
            yield age
