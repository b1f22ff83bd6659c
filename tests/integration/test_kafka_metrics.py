"""/metrics with the stream side in the API's process, on the real broker: relay lag and
throughput, projector lag per view and partition, the dead-letter count."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from gateways.kafka.app import build_stream
from gateways.kafka.topics import Topics, ensure_topics, partition_for
from tests.integration import test_kafka
from tests.integration.kafka_support import APPLICANT, PROCEDURE, WARD, StreamThread, token, wait_for

# The Kafka tests' served app (on the test's own topic prefix, a fixture of conftest.py).
served = test_kafka.served

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def _scrape(http: httpx.Client) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_of_the_relay_the_projectors_and_the_dead_letters(served: Any, kafka_bootstrap: str) -> None:
    container, http = served
    topics = Topics.with_prefix(container.settings.kafka_topic_prefix)
    partitions = container.settings.kafka_event_partitions
    ward = {"Authorization": f"Bearer {token('officer', WARD)}"}
    views = [r.name for r in container.runners]
    side = build_stream(container)
    groups_of_views = {p.group for p in side.projectors}  # one consumer group feeds every view
    with StreamThread(side):
        ids = []
        for _ in range(3):
            r = http.post(
                "/api/v1/dossiers",
                json={"procedure_code": PROCEDURE, "channel": "direct", "applicant": APPLICANT},
                headers=ward,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        poisoned = partition_for(ids[0], partitions)

        async def poison() -> None:
            await ensure_topics(kafka_bootstrap, topics, partitions)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(topics.events, b"not an envelope", partition=poisoned)
            finally:
                await producer.stop()

        asyncio.run(poison())
        used = {partition_for(i, partitions) for i in ids}

        def settled() -> dict[str, list[tuple[dict[str, str], float]]] | None:
            m = _scrape(http)
            lags = m.get("lienthong_projector_partition_lag_records", [])
            seen = {(labels["view"], int(labels["partition"])) for labels, _ in lags}
            ready = (
                m.get("lienthong_relay_lag_events") == [({}, 0.0)]
                and all((v, p) in seen for v in views for p in used)
                and all(value == 0 for _, value in lags)
                and len([v for _, v in m.get("lienthong_dlq_records_total", []) if v >= 1])
                == len(groups_of_views)
            )
            return m if ready else None

        m = wait_for(settled, 90, "relay and projectors caught up, the poison dead-lettered", every=0.5)
    assert m["lienthong_relay_published_events_total"][0][1] >= 3
    assert m["lienthong_relay_confirmed_events_total"][0][1] >= 3
    # The views' consumer group dead-letters the poison record (again if it is redelivered).
    groups = {labels["group"] for labels, value in m["lienthong_dlq_records_total"] if value >= 1}
    assert groups == groups_of_views
    offsets = {
        (labels["view"], int(labels["partition"])): value for labels, value in m["lienthong_projector_offset"]
    }
    assert all(offsets[(v, poisoned)] >= 2 for v in views)  # its event and the poison record
    lag = {labels["view"]: value for labels, value in m["lienthong_projector_lag_events"]}
    assert set(lag) == set(views) and all(v == 0 for v in lag.values())
    assert m["lienthong_commands_total"] == [({"command": "receive", "outcome": "ok"}, 3.0)]
