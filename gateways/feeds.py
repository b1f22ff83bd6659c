"""The feed is a gateway: how recorded events reach the views, chosen once in `bootstrap`.

Two adapters of one port:

- `InProcessFeed` (the embedded default): the views follow the event store's notification
  log in this process, right after each commit (`StoreFeed`, gateways/views/feed.py);
- `KafkaFeed` (gateways/kafka/feed.py, with LIENTHONG_KAFKA_BOOTSTRAP): the relay publishes
  the log to the events topic and the projectors apply it, in `lienthong run` or
  `lienthong stream` processes; nothing happens after a commit.

The feed owns what happens after a commit, the workers that run beside the API or as
`lienthong stream` (lifecycle), the lag of every view (and the relay's position with
Kafka), the description `/readyz` and the metrics give, and what a command line that
writes history does to bring the views up to date. Callers ask the feed; none tests the
settings for Kafka. Both feeds can rebuild views from the store (`rebuild`): every event
is in the store, whichever feed brought it to the views.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateways.eventstore.store import RecordedEvent
from gateways.views.feed import RebuildResult, StoreFeed
from gateways.views.runtime import STORE_PART, ViewRunner

if TYPE_CHECKING:
    from gateways.bootstrap import Container
    from gateways.kafka.app import StreamSide

logger = logging.getLogger("lienthong")

IN_PROCESS = "in_process"
KAFKA = "kafka"


def behind(end: int, position: int) -> int:
    """How far a position is behind an end (never negative): the one lag computation."""
    return max(0, end - position)


@dataclass(frozen=True)
class LagRow:
    """One position of the feed against the end it follows.

    `view` is a view's name, or "(relay)" for the relay's position in the store's log;
    `feed` and `part` say which log (the store's notifications, or a Kafka partition as
    "topic:partition"). `position` is None for a partition the view has read nothing of;
    `end` is None for a partition whose end offset is not known (the broker not asked, or away)."""

    view: str
    feed: str
    part: str
    position: int | None
    end: int | None

    @property
    def lag(self) -> int | None:
        return None if self.end is None else behind(self.end, self.position or 0)

    @property
    def partition(self) -> str:
        """The partition's number for a Kafka part, the part itself otherwise."""
        return self.part.rpartition(":")[2]


@dataclass(frozen=True)
class FeedLag:
    """Events recorded (up to `head`) and how far each view, and the relay, are behind."""

    head: int
    views: list[LagRow]  # per view: the notification id it has applied, by whichever feed
    relay: LagRow | None = None  # with Kafka: the last notification id confirmed on the topic

    def of(self, view: str) -> int:
        """Events recorded but not yet applied by `view`."""
        for row in self.views:
            if row.view == view:
                return behind(self.head, row.position or 0)
        raise KeyError(view)


@dataclass
class Workers:
    """What runs beside the API (`lienthong run`) or as `lienthong stream` until stopped:
    nothing for the in-process feed (each commit is followed right away), the stream
    side (relay, projectors, inbound commands) for Kafka."""

    summary: str
    side: StreamSide | None = None
    event_partitions: int = 12

    @property
    def idle(self) -> bool:
        return self.side is None

    async def run(self, stop: asyncio.Event) -> None:
        if self.side is None:
            await stop.wait()
            return
        from gateways.kafka.app import run_stream

        await run_stream(self.side, stop, event_partitions=self.event_partitions)


class Feed(Protocol):
    """The port: how recorded events reach the views."""

    kind: str  # IN_PROCESS or KAFKA: the `feed` label of the lag metrics
    broker: str | None  # the Kafka bootstrap list; None in process
    log: StoreFeed  # the store's notification log read in this process (catch-ups, rebuilds)
    after_commit: Callable[[list[RecordedEvent]], None] | None  # the writer's hook

    runners: list[ViewRunner]  # the views it feeds (those of `log`)

    @property
    def batch(self) -> int: ...

    def runner(self, name: str) -> ViewRunner: ...

    def catch_up(self) -> int:
        """Bring the views up to date in this process if this feed does; events read."""
        ...

    def rebuild(self, names: Sequence[str] | None = None) -> list[RebuildResult]: ...

    def refresh(self) -> str:
        """What a command line does after writing history (or before reading the views):
        says what became of the views."""
        ...

    def relay_position(self) -> int | None: ...

    def lag(self) -> FeedLag: ...

    def partitions(self, ends: Mapping[tuple[str, int], int] | None = None) -> list[LagRow]:
        """Per view and Kafka partition: the next offset it will read (None: nothing read
        yet) against `ends` ((topic, partition) -> end offset), for every partition stored
        or in `ends`. Empty in process."""
        ...

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """The end offset of each partition of the events topic, asked of the broker now."""
        ...

    def describe(self) -> str:
        """For /readyz: the feed and, with Kafka, whether the broker answers."""
        ...

    def workers(
        self,
        container: Container,
        *,
        stream: bool = True,
        views: Sequence[str] | None = None,
        inbound: bool = True,
        relay: bool = True,
    ) -> Workers: ...


class LogFeed:
    """What both adapters share: the store's log read in this process, the views' lag."""

    kind = IN_PROCESS
    broker: str | None = None

    def __init__(self, log: StoreFeed) -> None:
        self.log = log
        self.after_commit: Callable[[list[RecordedEvent]], None] | None = None

    @property
    def runners(self) -> list[ViewRunner]:
        return self.log.runners

    @runners.setter
    def runners(self, runners: list[ViewRunner]) -> None:
        self.log.runners = runners

    @property
    def batch(self) -> int:
        return self.log.batch

    def runner(self, name: str) -> ViewRunner:
        return self.log.runner(name)

    def rebuild(self, names: Sequence[str] | None = None) -> list[RebuildResult]:
        return self.log.rebuild(names)

    def relay_position(self) -> int | None:
        return None

    def lag(self) -> FeedLag:
        head = self.log.store.max_notification_id()
        views = [LagRow(r.name, self.kind, STORE_PART, r.notification_position(), head) for r in self.runners]
        position = self.relay_position()
        relay = None if position is None else LagRow("(relay)", "store→kafka", STORE_PART, position, head)
        return FeedLag(head, views, relay)

    def partitions(self, ends: Mapping[tuple[str, int], int] | None = None) -> list[LagRow]:
        return []

    def end_offsets(self) -> dict[tuple[str, int], int]:
        return {}


class InProcessFeed(LogFeed):
    """The embedded feed: every commit is followed by a catch-up of every view, here."""

    kind = IN_PROCESS

    def __init__(self, log: StoreFeed) -> None:
        super().__init__(log)
        self.after_commit = self._follow

    def _follow(self, _records: list[RecordedEvent]) -> None:
        # The command has already been recorded: a view that cannot keep up must not turn
        # it into an error; it catches up from its stored position on the next append or
        # restart.
        try:
            self.log.catch_up()
        except Exception:
            logger.exception("views fell behind the event store; they resume from their positions")

    def catch_up(self) -> int:
        return self.log.catch_up()

    def refresh(self) -> str:
        read = self.catch_up()
        return f"views caught up in process ({read:,} events read)"

    def describe(self) -> str:
        return "not configured (embedded feed)"

    def workers(
        self,
        container: Container,
        *,
        stream: bool = True,
        views: Sequence[str] | None = None,
        inbound: bool = True,
        relay: bool = True,
    ) -> Workers:
        # Nothing runs beside the API: the views are brought up to date once, then each
        # commit is followed right away.
        self.catch_up()
        return Workers("(dashboard: /, API docs: /docs)")
