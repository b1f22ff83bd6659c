"""The Kafka feed (gateways/feeds.py): the relay publishes the store's log to the events
topic and the view projectors apply it, in the processes that run the stream side
(`lienthong run`, `lienthong stream`). A commit does nothing more here: the outbox (the
store's notification log) is the relay's source."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gateways.feeds import KAFKA, LagRow, LogFeed, Workers
from gateways.kafka.projector import KAFKA_FEED
from gateways.kafka.relay import SCHEMA as RELAY_SCHEMA
from gateways.kafka.topics import Topics, end_offsets
from gateways.sql import Database
from gateways.views.feed import StoreFeed

if TYPE_CHECKING:
    from gateways.bootstrap import Container

RELAY = "relay"  # the relay's row in relay_positions (gateways/kafka/relay.py's default name)


class KafkaFeed(LogFeed):
    kind = KAFKA

    def __init__(
        self, log: StoreFeed, db: Database, broker: str, topics: Topics, event_partitions: int = 12
    ) -> None:
        super().__init__(log)
        self.db = db
        self.server = broker
        self.broker = broker
        self.topics = topics
        self.event_partitions = event_partitions
        # The relay may run in another process; its position table exists for /metrics from the start.
        db.executescript(RELAY_SCHEMA)

    def catch_up(self) -> int:
        """Nothing here: the relay publishes what was recorded and the projectors apply it."""
        return 0

    def refresh(self) -> str:
        return "published through the outbox; the projectors will apply it"

    def relay_position(self) -> int | None:
        rows = self.db.query("SELECT position FROM relay_positions WHERE name = ?", (RELAY,))
        return int(rows[0]["position"]) if rows else 0

    def partitions(self, ends: Mapping[tuple[str, int], int] | None = None) -> list[LagRow]:
        known = dict(ends or {})
        rows: list[LagRow] = []
        for runner in self.runners:
            stored: dict[tuple[str, int], int] = {}
            for part, position in runner.positions(KAFKA_FEED).items():
                topic, _, number = part.rpartition(":")
                if topic and number.isdigit():
                    stored[(topic, int(number))] = position
            for key in sorted(stored.keys() | known.keys()):
                part = f"{key[0]}:{key[1]}"
                rows.append(LagRow(runner.name, KAFKA_FEED, part, stored.get(key), known.get(key)))
        return rows

    def end_offsets(self) -> dict[tuple[str, int], int]:
        topic = self.topics.events
        ends = asyncio.run(end_offsets(self.server, topic))
        return {(topic, partition): end for partition, end in ends.items()}

    def describe(self) -> str:
        """Reported, never a reason to be unready: the outbox keeps accepting commands."""
        for server in self.server.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host or "127.0.0.1", int(port or 9092)), timeout=0.5):
                    return f"reachable ({self.server})"
            except (OSError, ValueError):
                continue
        return f"unreachable ({self.server}); events wait in the outbox"

    def workers(
        self,
        container: Container,
        *,
        stream: bool = True,
        views: Sequence[str] | None = None,
        inbound: bool = True,
        relay: bool = True,
    ) -> Workers:
        if not stream:
            return Workers("the API alone (views fed by `lienthong stream` elsewhere)")
        from gateways.kafka.app import build_stream

        side = build_stream(container, views=views, with_inbound=inbound, with_relay=relay)
        summary = (
            f"with Kafka {self.server} (relay, projector of "
            f"{sum(len(p.runners) for p in side.projectors)} views, inbound commands)"
        )
        return Workers(summary, side, self.event_partitions)
