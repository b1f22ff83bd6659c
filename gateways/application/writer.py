"""The one writer of a process: every append goes through it, with group commit.

Callers (HTTP requests, Kafka inbound batches, the seed, imports) submit jobs; the writer
thread takes all the jobs waiting at that moment, decides each against the dossier's
current state (in submission order, so two commands on one dossier in one batch see each
other), and commits the new events of all of them, their idempotency records and any rows
they bring (a new dossier's data key) in ONE transaction. Then it answers every job.

- Optimistic concurrency still holds per stream: a job whose `If-Match` version is stale,
  or whose command the domain refuses, fails alone; the rest of the batch lands.
- Another process may append to the same stream (several API processes on PostgreSQL):
  then the store's unique (stream, version) key refuses the whole transaction, nothing is
  written, and the writer re-reads the batch's streams and decides the batch again.
- Under overload the queue is bounded: `submit` raises `Overloaded` (HTTP 503 with
  Retry-After) instead of letting requests pile up until something times out. A caller
  that gives up waiting withdraws its job if the writer has not taken it yet, so a job is
  either answered or never written — never written after its caller was told it failed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from domain.dossier import Dossier, evolve
from domain.events import DossierEvent
from gateways.application.errors import ConcurrencyConflict, IdempotencyKeyReused, Overloaded, describe
from gateways.application.idempotency import IdempotencyScope, StoredResponse
from gateways.application.ports import EventLog, IdempotencyRecords
from gateways.application.state import EMPTY, Head, StateCache
from gateways.eventstore.recorders import Row
from gateways.eventstore.store import Encoded, RecordedEvent, StreamAppend, encode

log = logging.getLogger("lienthong.writer")

MAX_ATTEMPTS = 5  # re-decisions of a batch after another process appended to its streams


@dataclass(frozen=True)
class Answer:
    """What a command answers: status and JSON body (the lookup secret, if any, apart)."""

    status: int
    body: dict[str, Any]
    dossier_id: str | None = None
    version: int | None = None
    secret: str | None = None  # returned once; stored only sealed
    sealed_secret: dict[str, Any] | None = None
    replayed: bool = False


@dataclass(frozen=True)
class Idempotent:
    scope: IdempotencyScope
    request_hash: str


Decide = Callable[[Dossier | None], Sequence[DossierEvent]]
Respond = Callable[[Dossier, list[RecordedEvent]], Answer]
Replay = Callable[[StoredResponse], Answer]

_PENDING, _TAKEN, _ABANDONED = 0, 1, 2


@dataclass(eq=False)
class Job:
    """One command on one dossier."""

    dossier_id: str
    decide: Decide  # raises a domain error to refuse
    respond: Respond
    replay: Replay
    expected_version: int | None = None  # If-Match
    authorize: Callable[[Dossier | None], None] | None = None  # runs before any other check
    new_stream: bool = False
    idempotency: Idempotent | None = None
    # Set: the job may only replay its key's stored answer; without one it fails with this.
    replay_only: BaseException | None = None
    metadata: dict[str, str] | None = None
    rows: list[Row] = field(default_factory=list)
    # Rows that depend on what was decided (e.g. the receipt number given out), per decision.
    decided_rows: list[Row] = field(default_factory=list)
    future: Future[Answer] = field(default_factory=Future)
    _state: int = _PENDING
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self._lock:
            if self._state == _PENDING:
                self._state = _TAKEN
                return True
            return False

    def abandon(self) -> bool:
        with self._lock:
            if self._state == _PENDING:
                self._state = _ABANDONED
                return True
            return False


@dataclass(eq=False)
class BulkJob:
    """Streams decided elsewhere (seed, import, simulator), appended in one transaction."""

    appends: list[StreamAppend]
    recorded_at: datetime | None
    rows: list[Row] = field(default_factory=list)
    future: Future[list[list[RecordedEvent]]] = field(default_factory=Future)
    # The streams already encoded elsewhere (a sharded import, a sealed trace): committed as
    # they are, before `appends`.
    encoded: list[Encoded] | None = None
    # False: the caller only waits for the commit (a bulk import); the future then answers []
    # unless an after-commit hook needs the committed records anyway.
    answer: bool = True


_STOP = object()


@dataclass
class WriterStats:
    batches: int = 0
    jobs: int = 0
    conflicts: int = 0
    rejected: int = 0
    largest_batch: int = 0


class GroupCommitWriter:
    def __init__(
        self,
        store: EventLog,
        idempotency: IdempotencyRecords,
        cache: StateCache,
        clock: Callable[[], datetime],
        *,
        max_batch: int = 500,
        max_pending: int = 5000,
        after_commit: Callable[[list[RecordedEvent]], None] | None = None,
        purge_every_seconds: float = 600.0,
        autostart: bool = True,
    ) -> None:
        self.store = store
        self.idempotency = idempotency
        self.cache = cache
        self.clock = clock
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.after_commit = after_commit
        # Told when a batch was not recorded, so numbers given out for it are given again.
        self.on_rollback: list[Callable[[], None]] = []
        self.stats = WriterStats()
        # Told the size of every group commit (metrics); set by the composition root.
        self.on_batch: Callable[[int], None] | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._purge_every = purge_every_seconds
        self._purged_at = time.monotonic()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        self._autostart = autostart

    # -- callers -------------------------------------------------------------------------
    def submit(self, job: Job | BulkJob) -> Future[Any]:
        """Queue a job; its future resolves when it is recorded (or refused)."""
        if self._closed:
            raise Overloaded("the service is shutting down", retry_after=5)
        if isinstance(job, Job) and self._queue.qsize() >= self.max_pending:
            self.stats.rejected += 1
            raise Overloaded(f"{self.max_pending} commands are waiting to be written; retry shortly")
        self._queue.put(job)
        if self._autostart:
            self.start()
        return job.future

    def run(self, job: Job, timeout: float = 30.0) -> Answer:
        """Submit and wait. If the writer has not taken the job within `timeout`, withdraw
        it (nothing is written) and raise Overloaded."""
        future: Future[Answer] = self.submit(job)
        try:
            return future.result(timeout)
        except FutureTimeout:
            if job.abandon():
                raise Overloaded("the writer is behind; nothing was recorded, retry shortly") from None
            return future.result()  # taken: its transaction is under way

    def write(
        self, appends: list[StreamAppend], recorded_at: datetime | None, rows: Sequence[Row] = ()
    ) -> list[list[RecordedEvent]]:
        """Append decided streams in one transaction through the writer (bulk paths)."""
        future: Future[list[list[RecordedEvent]]] = self.submit(BulkJob(appends, recorded_at, list(rows)))
        return future.result()

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join(timeout=60)
                self._thread = None

    def start(self) -> None:
        """Start the writer thread (done by the first submit unless autostart is off)."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="lienthong-writer", daemon=True)
                self._thread.start()

    # -- the writer thread -----------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                self._process(batch)
            except BaseException as exc:  # never leave a caller waiting
                log.exception("writer batch failed")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
            self._maybe_purge()
            if stop:
                return

    def _process(self, batch: list[Any]) -> None:
        commands: list[Job] = []
        for item in batch:
            if isinstance(item, BulkJob):
                self._commit_jobs(commands)
                commands = []
                self._commit_bulk(item)
            elif item.take():
                commands.append(item)
        self._commit_jobs(commands)

    def _commit_bulk(self, job: BulkJob) -> None:
        try:
            encoded = list(job.encoded or ())
            encoded.extend(encode(a, job.recorded_at) for a in job.appends)
            numbered = job.answer or self.after_commit is not None
            records = self.store.commit_encoded(encoded, job.rows, numbered=numbered)
        except BaseException as exc:
            job.future.set_exception(exc)
            return
        self.cache.drop(e.append.dossier_id for e in encoded)
        self._after([r for batch in records for r in batch])
        job.future.set_result(records)

    def _commit_jobs(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        self.stats.batches += 1
        self.stats.jobs += len(jobs)
        self.stats.largest_batch = max(self.stats.largest_batch, len(jobs))
        if self.on_batch is not None:
            self.on_batch(len(jobs))
        for attempt in range(MAX_ATTEMPTS):
            if self._attempt(jobs, recheck=attempt > 0):
                return
            self.stats.conflicts += 1
        conflict = ConcurrencyConflict("the dossier kept changing under concurrent writers; retry")
        for job in jobs:
            job.future.set_exception(conflict)

    def _attempt(self, jobs: list[Job], recheck: bool) -> bool:
        """Decide and commit the batch; False if another writer got in first (retry)."""
        now = self.clock()
        scopes = [j.idempotency.scope.scope_key for j in jobs if j.idempotency]
        stored = self.idempotency.find(scopes, now) if scopes else {}
        heads: dict[str, Head] = {}
        staged: list[tuple[Job, Encoded, Answer]] = []
        outcomes: list[tuple[Job, Answer | BaseException]] = []
        leaders: dict[str, Job] = {}
        followers: list[tuple[Job, Job]] = []
        rows: list[Row] = []
        for job in jobs:
            idem = job.idempotency
            if idem is not None:
                key = idem.scope.scope_key
                if key in stored:
                    outcomes.append((job, self._replay(job, stored[key])))
                    continue
                if key in leaders:
                    followers.append((job, leaders[key]))
                    continue
            if job.replay_only is not None:
                outcomes.append((job, job.replay_only))
                continue
            try:
                encoded, answer, head = self._decide(job, heads, now, recheck)
            except Exception as exc:
                if describe(exc) is None:
                    log.exception("command on dossier %s failed", job.dossier_id)
                outcomes.append((job, exc))
                continue
            heads[job.dossier_id] = head
            staged.append((job, encoded, answer))
            rows.extend(job.rows)
            rows.extend(job.decided_rows)
            if idem is not None:
                leaders[idem.scope.scope_key] = job
                rows.extend(
                    self.idempotency.rows(
                        idem.scope,
                        idem.request_hash,
                        answer.status,
                        orjson.dumps(answer.body),
                        answer.sealed_secret,
                        answer.dossier_id,
                        now,
                    )
                )
        if staged:
            try:
                records = self.store.commit_encoded([e for _, e, _ in staged], rows)
            except ConcurrencyConflict:
                # Another process appended to one of these streams (or recorded one of these
                # keys): forget what we believed and decide the whole batch again.
                self.cache.drop(heads)
                self._forget()
                return False
            except Exception as exc:
                self.cache.drop(heads)
                self._forget()
                if describe(exc) is None:
                    log.exception("writing a batch of %d commands failed", len(staged))
                for job, _, _ in staged:
                    outcomes.append((job, exc))
                staged = []
                records = []
            if staged:
                for dossier_id, head in heads.items():
                    self.cache.put(dossier_id, head)
            if records:
                self._after([r for batch in records for r in batch])
        for job, _encoded, answer in staged:
            outcomes.append((job, answer))
        results = {id(job): outcome for job, outcome in outcomes}
        for job, leader in followers:
            lead = results.get(id(leader))
            assert job.idempotency is not None and leader.idempotency is not None
            if isinstance(lead, Answer):
                if job.idempotency.request_hash != leader.idempotency.request_hash:
                    outcomes.append((job, IdempotencyKeyReused()))
                else:
                    outcomes.append((job, replace(lead, replayed=True)))
            else:
                outcomes.append((job, lead if lead is not None else ConcurrencyConflict("retry")))
        for job, outcome in outcomes:
            if isinstance(outcome, Answer):
                job.future.set_result(outcome)
            else:
                job.future.set_exception(outcome)
        return True

    def _decide(
        self, job: Job, heads: dict[str, Head], now: datetime, recheck: bool
    ) -> tuple[Encoded, Answer, Head]:
        head = heads.get(job.dossier_id)
        cached = False
        if head is None:
            head = self.cache.peek(job.dossier_id)
            cached = head is not None
            if head is None and job.new_stream and not recheck:
                # A new dossier's id is fresh; if it were not, the insert would say so and
                # the batch would be decided again with `recheck`.
                head = EMPTY
            elif head is None:
                head = self.cache.load(job.dossier_id)
        try:
            return self._decide_on(job, head, now)
        except Exception:
            # A refusal decided on a cached state must not be a stale one: another process
            # may have moved the dossier on. One cheap version read settles it.
            if cached and self.store.version(job.dossier_id) != head.version:
                self.cache.drop([job.dossier_id])
                return self._decide_on(job, self.cache.load(job.dossier_id), now)
            raise

    def _decide_on(self, job: Job, head: Head, now: datetime) -> tuple[Encoded, Answer, Head]:
        if job.authorize is not None:
            job.authorize(head.state)
        if job.new_stream and head.version:
            raise ConcurrencyConflict(f"dossier {job.dossier_id} already exists")
        if job.expected_version is not None and job.expected_version != head.version:
            raise ConcurrencyConflict(
                f"dossier is at version {head.version}, not {job.expected_version} (If-Match)"
            )
        events = job.decide(head.state)
        state = head.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        encoded = encode(
            StreamAppend(job.dossier_id, head.version, head.last_hash, events, job.metadata), now
        )
        answer = job.respond(state, encoded.records)
        return encoded, answer, Head(state, encoded.version, encoded.last_hash)

    def _replay(self, job: Job, stored: StoredResponse) -> Answer | BaseException:
        assert job.idempotency is not None
        if stored.request_hash != job.idempotency.request_hash:
            return IdempotencyKeyReused()
        try:
            return job.replay(stored)
        except Exception as exc:
            return exc

    def _forget(self) -> None:
        for forget in self.on_rollback:
            forget()

    def _after(self, records: list[RecordedEvent]) -> None:
        if self.after_commit is None or not records:
            return
        try:
            self.after_commit(records)
        except Exception:
            # The events are recorded; a follower that cannot keep up catches up later.
            log.exception("after-commit hook failed; the events are recorded")

    def _maybe_purge(self) -> None:
        if time.monotonic() - self._purged_at < self._purge_every:
            return
        self._purged_at = time.monotonic()
        try:
            self.idempotency.purge(self.clock())
        except Exception:
            log.exception("purging expired idempotency records failed")
