"""The group commit on each real backend (SQLite, PostgreSQL): one transaction for a batch
of commands, their idempotency records and new data keys; failures stay alone."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest

from domain import events as ev
from domain.events import Actor
from gateways.application.commands import RECEIVE, Applicant, DossierCreate, Empty, HandoffIn
from gateways.application.errors import ConcurrencyConflict
from gateways.application.handler import CommandRequest, response_body
from gateways.application.idempotency import IdempotencyScope, fingerprint
from gateways.application.state import StateCache
from gateways.application.writer import Answer, BulkJob, GroupCommitWriter
from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.eventstore.store import GENESIS_HASH, RecordedEvent, StreamAppend
from gateways.seed.demo import load_catalogue

WARD, DEPT = "000.21.99.H29", "000.00.21.H29"
WARD_OFFICER = Principal("an@ward", "officer", WARD)
DEPT_OFFICER = Principal("binh@dept", "officer", DEPT)


def _receive(key: str | None = None) -> CommandRequest:
    body = DossierCreate(
        procedure_code="DD.01-2025",
        channel="direct",
        applicant=Applicant(name="Lê Văn Cường", id_number="0792"),
    )
    return CommandRequest(RECEIVE, body, idempotency_key=key)


def _paused_writer(container: Container) -> GroupCommitWriter:
    """A writer that only starts when told, so the test decides what one batch holds."""
    container.writer.close()
    writer = GroupCommitWriter(
        container.store,
        container.idempotency,
        StateCache(container.store),
        container.clock,
        autostart=False,
    )
    container.service.writer = writer
    return writer


def _outcome(future: Future[Answer]) -> Any:
    try:
        return future.result(timeout=120)
    except Exception as exc:
        return exc


@pytest.fixture
def container(make_container: Any, backend_url: str) -> Container:
    made: Container = make_container(backend_url)
    load_catalogue(made.catalogue)
    return made


def test_one_batch_one_transaction_and_a_stale_if_match_fails_alone(container: Container) -> None:
    run = container.commands.run
    a, b, c = (run(WARD_OFFICER, _receive()).dossier_id or "" for _ in range(3))
    head = container.store.max_notification_id()
    writer = _paused_writer(container)
    submit = container.commands.submit
    futures = [
        submit(WARD_OFFICER, CommandRequest("handoff", HandoffIn(to_agency_code=DEPT), a, 1)),
        submit(WARD_OFFICER, CommandRequest("handoff", HandoffIn(to_agency_code=DEPT), b, 5)),
        submit(WARD_OFFICER, CommandRequest("handoff", HandoffIn(to_agency_code=DEPT), c)),
        submit(DEPT_OFFICER, CommandRequest("accept", Empty(), c)),  # sees the handoff just before it
    ]
    writer.start()
    ok_a, stale_b, ok_c, accepted_c = (_outcome(f) for f in futures)
    assert isinstance(stale_b, ConcurrencyConflict)
    assert ok_a.version == 2 and ok_c.version == 2 and accepted_c.body["holder_agency_code"] == DEPT
    assert writer.stats.batches == 1 and writer.stats.largest_batch == 4
    assert [container.store.version(x) for x in (a, b, c)] == [2, 1, 3]
    assert container.store.max_notification_id() == head + 3
    writer.close()


def test_a_key_recorded_by_another_process_rolls_back_the_batch_and_replays(container: Container) -> None:
    """The record another writer committed first makes this writer's transaction fail as a
    whole (no event of it stays); decided again, the command answers the stored response."""
    first = container.commands.run(WARD_OFFICER, _receive("portal-7"))
    writer = _paused_writer(container)
    # This process has not seen the key's record yet: it would look it up and miss it.
    real_find = container.idempotency.find
    misses = {"left": 1}

    def find_once_blind(keys: Any, now: Any) -> Any:
        if misses["left"]:
            misses["left"] -= 1
            return {}
        return real_find(keys, now)

    container.idempotency.find = find_once_blind  # type: ignore[method-assign]
    before = container.store.max_notification_id()
    other = container.commands.submit(WARD_OFFICER, _receive())
    again = container.commands.submit(WARD_OFFICER, _receive("portal-7"))
    writer.start()
    replayed, landed = _outcome(again), _outcome(other)
    assert isinstance(replayed, Answer) and replayed.replayed
    assert response_body(replayed) == response_body(first)
    assert isinstance(landed, Answer) and landed.status == 201
    # One new dossier (the other command); the retried key appended nothing.
    assert container.store.max_notification_id() == before + 1 and writer.stats.conflicts == 1
    writer.close()


def test_the_idempotency_record_and_the_data_key_commit_with_the_events(container: Container) -> None:
    answer = container.commands.run(WARD_OFFICER, _receive("desk-1"))
    dossier_id = answer.dossier_id or ""
    scope = IdempotencyScope(WARD_OFFICER.sub, "officer", WARD, "desk-1")
    stored = container.idempotency.find([scope.scope_key], container.clock())[scope.scope_key]
    assert stored.dossier_id == dossier_id and stored.status == 201
    assert stored.request_hash == fingerprint(
        RECEIVE, None, _receive().body.model_dump(mode="json", exclude_unset=True)
    )
    assert answer.secret and answer.secret.encode() not in stored.body
    rows = container.db.query("SELECT wrapped_key FROM dossier_keys WHERE dossier_id = ?", (dossier_id,))
    assert len(rows) == 1
    opened = container.vault.open_sealed(dossier_id, stored.sealed_secret or {})
    assert opened == {"lookup_secret": answer.secret}


def test_receipts_at_one_desk_get_consecutive_daily_numbers_even_from_two_processes(
    container: Container, make_container: Any, backend_url: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    other = make_container(backend_url)  # a second API process on the same store
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: (container if n % 2 else other).commands.run(WARD_OFFICER, _receive()), range(24)
            )
        )
    codes = sorted(a.body["receipt_code"] for a in answers)
    day = container.clock().astimezone(container.calendar.tz).strftime("%y%m%d")
    assert codes == [f"{WARD}-{day}-{n:04d}" for n in range(1, 25)]


def _bulk_streams(count: int) -> list[StreamAppend]:
    at = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    actor = Actor(agency_code=WARD, user="import", role="integration")
    return [
        StreamAppend(
            str(uuid.uuid4()),
            0,
            GENESIS_HASH,
            [ev.LegacyActivityRecorded(occurred_at=at, actor=actor, activity=f"a{n}", agency_code=WARD)],
        )
        for n in range(count)
    ]


def test_a_bulk_job_nobody_reads_answers_nothing_unless_a_hook_follows_the_commits(
    container: Container,
) -> None:
    """A bulk job whose caller only waits (`answer=False`) is committed all the same; its
    records are numbered only for an after-commit hook, which still gets every one (and the
    job's answer is then those records)."""
    writer = container.writer
    seen: list[RecordedEvent] = []
    writer.after_commit = None
    quiet = _bulk_streams(2)
    assert writer.submit(BulkJob(quiet, None, answer=False)).result(timeout=120) == []
    writer.after_commit = seen.extend
    followed = _bulk_streams(3)
    numbered = writer.submit(BulkJob(followed, None, answer=False)).result(timeout=120)
    assert [r.dossier_id for batch in numbered for r in batch] == [a.dossier_id for a in followed]
    answered = _bulk_streams(1)
    records = writer.submit(BulkJob(answered, None)).result(timeout=120)
    assert [r.dossier_id for batch in records for r in batch] == [answered[0].dossier_id]
    assert all(r.notification_id is not None for batch in records for r in batch)
    assert [r.dossier_id for r in seen] == [a.dossier_id for a in followed + answered]
    assert all(r.notification_id is not None for r in seen)
    for append in quiet + followed + answered:
        assert [r.type for r in container.store.load(append.dossier_id)] == ["LegacyActivityRecorded"]
