"""`bench append-batch`: commands/s when commands arrive together, so the writer can commit
many in one transaction (group commit).

Two paths, on one fresh store holding a simulated history (gateways/bench/workload.py):

- **in process**: every command is handed to the container's `CommandHandler` at once
  (as many as the writer's queue admits, `WINDOW`), then the run waits for all answers —
  authorization, idempotency check, decide on the cached state, and the group commit of
  events, idempotency records and data keys;
- **Kafka inbound** (with a broker): the commands are published to the run's commands topic
  first; then the inbound consumer (`build_stream` with no view and no relay, as
  `lienthong stream --no-projectors --no-relay`) consumes them in batches, and the run
  counts the results on the results topic. Timed from the first batch handed to the
  handler to the last result read back.

The mix is the append bench's walk, staggered: dossiers start in groups of `GROUP`, and
each round of commands holds the next step of the eight groups under way (receive,
handoff, accept, decide, handoff back, accept, result ready, result returned), so every
batch mixes all eight commands on different dossiers. Every command carries an
idempotency key, as the Kafka contract requires.

The baseline, in the same run: one `INSERT` + `COMMIT` per row of the stored events' mean
size from one connection, into the same database with the same durability — what a
command costs at the least when nothing is batched. It runs half before and half after
the measured paths (one row per command in all), and the rate of the two together counts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from gateways.application.commands import COMMANDS, RECEIVE, DossierCreate, Timed, new_dossier_id
from gateways.application.errors import describe
from gateways.application.handler import CommandHandler, CommandRequest
from gateways.application.idempotency import IdempotencyScope
from gateways.application.writer import Answer
from gateways.auth import Principal, issue_token
from gateways.bench.append import _route, _row_size, durability, insert_commit_baseline
from gateways.bench.report import BenchResult
from gateways.bench.workload import Workbench, workbench
from gateways.bootstrap import Container, system_clock
from gateways.settings import Settings

HISTORY_EVENTS = 20_000  # what the store holds before the commands start
GROUP = 64  # dossiers that start together
WINDOW = 4000  # commands handed to the handler and not yet answered (below writer_max_pending)
MIN_RATE = 3000.0
RAW_SECONDS = 30.0  # at most, for each half of the baseline  # commands/s: a country's peak (issue 11)
SUBJECT = "bench-integration"
ROLE = "integration"


@dataclass(frozen=True)
class Planned:
    command: str
    dossier_id: str | None
    body: dict[str, Any]
    key: str
    partition_key: str  # the dossier's id, also for the receive that creates it


def plan(route: tuple[str, str, str], commands: int, run: str) -> list[Planned]:
    """About `commands` commands (whole dossiers of eight), staggered in groups (see above)."""
    procedure, desk, department = route
    walk: list[tuple[str, dict[str, Any]]] = [
        ("handoff", {"to_agency_code": department}),
        ("accept", {}),
        ("decide", {"outcome": "approved"}),
        ("handoff", {"to_agency_code": desk}),
        ("accept", {}),
        ("result_ready", {}),
        ("result_returned", {}),
    ]
    steps = 1 + len(walk)
    dossiers = max(1, commands // steps)
    ids: list[str] = []
    for d in range(dossiers):
        key = f"{run}-{d}-0"
        ids.append(new_dossier_id(IdempotencyScope(SUBJECT, ROLE, "", key).scope_key))
    groups = (dossiers + GROUP - 1) // GROUP
    out: list[Planned] = []
    for round_ in range(groups + steps - 1):
        for group in range(max(0, round_ - steps + 1), min(groups, round_ + 1)):
            step = round_ - group
            for d in range(group * GROUP, min(dossiers, (group + 1) * GROUP)):
                key = f"{run}-{d}-{step}"
                if step == 0:
                    body = {
                        "procedure_code": procedure,
                        "channel": "direct",
                        "receiving_agency_code": desk,
                        "applicant": {"name": f"Công dân {d}", "id_number": f"0792{d:08d}"},
                    }
                    out.append(Planned(RECEIVE, None, body, key, ids[d]))
                else:
                    name, body = walk[step - 1]
                    out.append(Planned(name, ids[d], body, key, ids[d]))
    return out


def _model(command: str) -> type[Timed]:
    return DossierCreate if command == RECEIVE else COMMANDS[command].model


def _status(future: Future[Answer]) -> int:
    try:
        return future.result().status
    except Exception as exc:
        failure = describe(exc)
        return failure.status if failure is not None else 500


def in_process(
    handler: CommandHandler, principal: Principal, planned: list[Planned]
) -> tuple[float, Counter[int]]:
    """Hand every command to the handler (at most WINDOW unanswered); (seconds, statuses)."""
    requests = [
        CommandRequest(p.command, _model(p.command).model_validate(p.body), p.dossier_id, None, p.key)
        for p in planned
    ]
    statuses: Counter[int] = Counter()
    waiting: deque[Future[Answer]] = deque()
    started = time.perf_counter()
    for request in requests:
        if len(waiting) >= WINDOW:
            statuses[_status(waiting.popleft())] += 1
        waiting.append(handler.submit(principal, request))
    while waiting:
        statuses[_status(waiting.popleft())] += 1
    return time.perf_counter() - started, statuses


class _FirstCall:
    """The container's handler, noting when the inbound consumer first hands it a command."""

    def __init__(self, handler: CommandHandler) -> None:
        self._handler = handler
        self.first: float | None = None

    def submit(self, principal: Principal, request: CommandRequest, **options: Any) -> Future[Answer]:
        if self.first is None:
            self.first = time.perf_counter()
        return self._handler.submit(principal, request, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)


async def through_kafka(
    container: Container, kafka: str, token: str, planned: list[Planned], timeout: float
) -> tuple[float, Counter[int]]:
    """Publish, then run the inbound consumer until every result is back; (seconds, statuses)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from gateways.kafka.app import build_stream, topics_of
    from gateways.kafka.topics import ensure_topics

    topics = topics_of(container)
    await ensure_topics(kafka, topics, container.settings.kafka_event_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for p in planned:
            message = {
                "idempotency_key": p.key,
                "token": token,
                "command": p.command,
                "dossier_id": p.dossier_id,
                "body": p.body,
            }
            sent.append(
                await producer.send(
                    topics.commands, value=orjson.dumps(message), key=p.partition_key.encode()
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    results = AIOKafkaConsumer(
        topics.results, bootstrap_servers=kafka, group_id=None, auto_offset_reset="earliest"
    )
    await results.start()
    timed = _FirstCall(container.commands)
    container.commands = timed  # type: ignore[assignment]
    side = build_stream(container, bootstrap=kafka, views=["-none-"], with_inbound=True, with_relay=False)
    statuses: Counter[int] = Counter()
    try:
        await side.broker.start()
        deadline = time.perf_counter() + timeout
        while sum(statuses.values()) < len(planned):
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"{sum(statuses.values())} of {len(planned)} results after {timeout:.0f} s"
                )
            got = await results.getmany(timeout_ms=200, max_records=5000)
            for records in got.values():
                for record in records:
                    statuses[int(orjson.loads(record.value or b"{}").get("status", 0))] += 1
        ended = time.perf_counter()
    finally:
        await side.broker.stop()
        await results.stop()
        container.commands = timed._handler
    assert timed.first is not None
    return ended - timed.first, statuses


def _by_status(statuses: Counter[int]) -> dict[str, int]:
    """Answers per HTTP status (the status as text: JSON keys)."""
    return {str(status): n for status, n in sorted(statuses.items())}


def _ok(statuses: Counter[int]) -> int:
    return sum(n for status, n in statuses.items() if 200 <= status < 300)


def bench_append_batch(
    settings: Settings, events: int, kafka: str | None = None, store_url: str | None = None
) -> BenchResult:
    commands = max(8 * GROUP, events // 10)
    bench: Workbench = workbench(settings, min(events, HISTORY_EVENTS), store_url=store_url, kafka=kafka)
    try:
        container = bench.container
        # As with Kafka: the views are fed by other processes, not after each commit.
        container.writer.after_commit = None
        url = bench.settings.resolved_event_store_url
        size = _row_size(bench)
        # The baseline runs before and after the measured paths (half the rows each), so a
        # change of the machine's load during the run weighs on both sides.
        rows, raw_seconds = insert_commit_baseline(url, size, commands // 2, RAW_SECONDS)
        route = _route(bench)
        run = uuid.uuid4().hex[:8]
        principal = Principal(SUBJECT, ROLE, None)
        local = plan(route, commands, f"{run}-p")
        local_seconds, local_statuses = in_process(container.commands, principal, local)
        local_rate = _ok(local_statuses) / local_seconds
        extra: dict[str, Any] = {
            "in_process": {
                "commands_per_s": round(local_rate, 1),
                "commands": len(local),
                "seconds": round(local_seconds, 3),
                "statuses": _by_status(local_statuses),
            },
        }
        value, path = local_rate, "in process"
        if kafka:
            remote = plan(route, commands, f"{run}-k")
            token = issue_token(
                container.keyring.jwt_secret,
                role=ROLE,
                sub=SUBJECT,
                agency_code=None,
                now=system_clock(),
                ttl=timedelta(hours=2),
            )
            timeout = max(120.0, len(remote) / 50)
            kafka_seconds, kafka_statuses = asyncio.run(
                through_kafka(container, kafka, token, remote, timeout)
            )
            kafka_rate = _ok(kafka_statuses) / kafka_seconds
            extra["kafka"] = {
                "commands_per_s": round(kafka_rate, 1),
                "commands": len(remote),
                "seconds": round(kafka_seconds, 3),
                "statuses": _by_status(kafka_statuses),
            }
            value, path = kafka_rate, "kafka inbound"
        after_rows, after_seconds = insert_commit_baseline(url, size, commands - commands // 2, RAW_SECONDS)
        raw_halves = [round(rows / raw_seconds, 1), round(after_rows / after_seconds, 1)]
        rows, raw_seconds = rows + after_rows, raw_seconds + after_seconds
        raw_rate = rows / raw_seconds
        for body in extra.values():
            body["ratio"] = round(body["commands_per_s"] / raw_rate, 4)
        failed = {
            name: body["statuses"]
            for name, body in extra.items()
            if sum(n for status, n in body["statuses"].items() if status.startswith("2")) != body["commands"]
        }
        extra.update(
            {
                "headline": path,
                "raw_insert_commit_per_s": round(raw_rate, 1),
                "raw_rows": rows,
                "raw_before_after_per_s": raw_halves,
                "min_rate": MIN_RATE,
                "rate_met": value >= MIN_RATE,
                "not_2xx": failed,
                "writer": {
                    "batches": container.writer.stats.batches,
                    "jobs": container.writer.stats.jobs,
                    "largest_batch": container.writer.stats.largest_batch,
                    "conflicts": container.writer.stats.conflicts,
                },
            }
        )
        return BenchResult(
            name="append-batch",
            value=value,
            unit="commands/s",
            baseline=raw_rate,
            target_ratio=1.0,
            params={
                "commands": commands,
                "paths": ["in process", "kafka inbound"] if kafka else ["in process"],
                "mix": "receive, handoff, accept, decide, handoff, accept, result_ready, result_returned",
                "stagger_group": GROUP,
                "window": WINDOW,
                "idempotency_keys": True,
                "store": bench.store_kind,
                "history_events": bench.events,
                "row_bytes": size,
                "durability": durability(bench.store_kind),
                "writer_max_batch": container.settings.writer_max_batch,
                "inbound_batch": container.settings.inbound_batch,
                "views": "none (Kafka mode: commands append to the outbox)",
            },
            extra=extra,
        )
    finally:
        bench.close()
