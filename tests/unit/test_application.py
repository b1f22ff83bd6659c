"""The application layer with in-memory fakes: no HTTP, no database, no Kafka.

What an officer's or an agency system's command does, whichever gateway brought it: the
idempotency rules, the group commit (one transaction for the batch, failures alone), the
state cache, overload, and the clock rules on `occurred_at`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated
from gateways.application.commands import COMMANDS, RECEIVE, Applicant, DossierCreate, Empty, HandoffIn
from gateways.application.errors import ConcurrencyConflict, IdempotencyKeyReused, Overloaded
from gateways.application.handler import CommandHandler, CommandRequest, response_body
from gateways.application.service import DossierService
from gateways.application.state import StateCache
from gateways.application.writer import Answer, GroupCommitWriter
from gateways.auth import Principal
from gateways.calendar_factory import build_calendar
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from tests.unit.fakes import FakeCatalogue, FakeIdempotency, FakeVault, InMemoryEventLog

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WARD = "000.21.99.H29"  # phường An Khánh
DEPT = "000.00.21.H29"  # Sở Nông nghiệp và Môi trường
PROCEDURE = "DD.01-2025"


@dataclass
class App:
    log: InMemoryEventLog
    idempotency: FakeIdempotency
    vault: FakeVault
    writer: GroupCommitWriter
    handler: CommandHandler
    clock: list[datetime]


@pytest.fixture
def app() -> Iterator[App]:
    clock = [datetime(2026, 8, 28, 9, 0, tzinfo=VN)]
    log, idempotency, vault, catalogue = InMemoryEventLog(), FakeIdempotency(), FakeVault(), FakeCatalogue()
    load_catalogue(catalogue)  # type: ignore[arg-type]
    writer = GroupCommitWriter(log, idempotency, StateCache(log), lambda: clock[0], autostart=False)
    calendar = build_calendar(Settings(jwt_secret="x" * 32))
    service = DossierService(log, catalogue, calendar, vault, lambda: clock[0], writer)  # type: ignore[arg-type]
    yield App(log, idempotency, vault, writer, CommandHandler(service, clock_skew_seconds=120), clock)
    writer.close()


WARD_OFFICER = Principal("an@ward", "officer", WARD)
DEPT_OFFICER = Principal("binh@dept", "officer", DEPT)
PORTAL = Principal("portal", "integration", None)


def receive(key: str | None = None, name: str = "Nguyễn Văn An") -> CommandRequest:
    body = DossierCreate(
        procedure_code=PROCEDURE, channel="direct", applicant=Applicant(name=name, id_number="079200001234")
    )
    return CommandRequest(RECEIVE, body, idempotency_key=key)


def handoff(dossier_id: str, version: int | None = None, key: str | None = None) -> CommandRequest:
    return CommandRequest("handoff", HandoffIn(to_agency_code=DEPT), dossier_id, version, key)


def accept(dossier_id: str) -> CommandRequest:
    return CommandRequest("accept", Empty(), dossier_id)


def run(app: App, principal: Principal, request: CommandRequest) -> Answer:
    app.writer.start()
    return app.handler.run(principal, request)


def test_a_received_dossier_answers_201_with_the_lookup_secret_once(app: App) -> None:
    answer = run(app, WARD_OFFICER, receive())
    body = response_body(answer)
    assert answer.status == 201 and body["status"] == "received" and body["holder_agency_code"] == WARD
    assert len(body["lookup_secret"]) >= 16
    stored = app.log.streams[answer.dossier_id or ""]
    assert [r.type for r in stored] == ["DossierReceived"]
    assert body["lookup_secret"] not in stored[0].raw.decode()  # only its hash is recorded


def test_a_retried_key_replays_the_first_answer_and_appends_nothing(app: App) -> None:
    first = run(app, WARD_OFFICER, receive("desk-1"))
    again = run(app, WARD_OFFICER, receive("desk-1"))
    assert again.replayed and not first.replayed
    assert orjson.dumps(response_body(again)) == orjson.dumps(response_body(first))
    assert len(app.log.streams) == 1 and app.log.notifications == 1
    # The stored answer keeps the secret only sealed.
    [record] = app.idempotency.records.values()
    assert response_body(first)["lookup_secret"] not in record.body.decode()
    assert record.sealed_secret is not None


def test_the_replay_says_the_secret_is_gone_once_the_applicants_key_is_shredded(app: App) -> None:
    first = run(app, WARD_OFFICER, receive("desk-2"))
    app.vault.shred(first.dossier_id or "")
    again = response_body(run(app, WARD_OFFICER, receive("desk-2")))
    assert again["lookup_secret"] is None and "erased" in again["lookup_secret_note"]
    assert again["id"] == first.dossier_id


def test_a_key_reused_for_another_request_is_refused(app: App) -> None:
    first = run(app, WARD_OFFICER, receive("desk-3"))
    with pytest.raises(IdempotencyKeyReused):
        run(app, WARD_OFFICER, receive("desk-3", name="Trần Thị Bình"))
    with pytest.raises(IdempotencyKeyReused):
        run(app, WARD_OFFICER, handoff(first.dossier_id or "", key="desk-3"))
    assert app.log.notifications == 1


def test_keys_are_scoped_to_who_asked(app: App) -> None:
    mine = run(app, WARD_OFFICER, receive("same-key"))
    colleague = run(app, Principal("chi@ward", "officer", WARD), receive("same-key"))
    assert mine.dossier_id != colleague.dossier_id and not colleague.replayed
    assert len(app.log.streams) == 2


def test_authorization_comes_before_the_idempotency_record(app: App) -> None:
    run(app, WARD_OFFICER, receive("k-auth"))
    with pytest.raises(ActorNotAllowed):
        run(app, Principal("an@ward", "inspector", None), receive("k-auth"))
    with pytest.raises(ActorNotAllowed):
        run(app, Principal("an@ward", "supervisor", WARD), receive("k-auth"))


def test_a_batch_is_one_commit_and_a_stale_if_match_fails_alone(app: App) -> None:
    a = run(app, WARD_OFFICER, receive()).dossier_id or ""
    b = run(app, WARD_OFFICER, receive()).dossier_id or ""
    c = run(app, WARD_OFFICER, receive()).dossier_id or ""
    commits_before = app.log.commits
    app.writer.close()
    writer = GroupCommitWriter(
        app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0], autostart=False
    )
    handler = CommandHandler(app.handler.service, clock_skew_seconds=120)
    app.handler.service.writer = writer
    futures: list[Future[Answer]] = [
        handler.submit(WARD_OFFICER, handoff(a, version=1)),
        handler.submit(WARD_OFFICER, handoff(b, version=7)),  # stale: the dossier is at version 1
        handler.submit(WARD_OFFICER, handoff(c)),
    ]
    writer.start()
    ok_a, stale_b, ok_c = (_outcome(f) for f in futures)
    assert isinstance(ok_a, Answer) and ok_a.body["pending_handoff_to"] == DEPT
    assert isinstance(stale_b, ConcurrencyConflict) and "version 1, not 7" in str(stale_b)
    assert isinstance(ok_c, Answer) and ok_c.version == 2
    assert app.log.commits == commits_before + 1 and writer.stats.largest_batch == 3
    assert [app.log.version(x) for x in (a, b, c)] == [2, 1, 2]
    writer.close()


def test_commands_on_one_dossier_in_one_batch_see_each_other(app: App) -> None:
    dossier = run(app, WARD_OFFICER, receive()).dossier_id or ""
    app.writer.close()
    writer = GroupCommitWriter(
        app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0], autostart=False
    )
    app.handler.service.writer = writer
    handed = app.handler.submit(WARD_OFFICER, handoff(dossier))
    accepted = app.handler.submit(DEPT_OFFICER, accept(dossier))
    again = app.handler.submit(DEPT_OFFICER, accept(dossier))  # refused: nothing pending any more
    writer.start()
    assert _outcome(handed).version == 2  # type: ignore[union-attr]
    assert _outcome(accepted).body["holder_agency_code"] == DEPT  # type: ignore[union-attr]
    assert isinstance(_outcome(again), RuleViolated)
    assert [r.type for r in app.log.streams[dossier]] == ["DossierReceived", "HandedOff", "HandoffAccepted"]
    writer.close()


def test_the_same_key_twice_in_one_batch_runs_once(app: App) -> None:
    app.writer.close()
    writer = GroupCommitWriter(
        app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0], autostart=False
    )
    app.handler.service.writer = writer
    first = app.handler.submit(PORTAL, receive("portal-9"))
    second = app.handler.submit(PORTAL, receive("portal-9"))
    writer.start()
    one, two = _outcome(first), _outcome(second)
    assert isinstance(one, Answer) and isinstance(two, Answer) and two.replayed
    assert response_body(one) == response_body(two) and len(app.log.streams) == 1
    writer.close()


def test_an_append_by_another_process_is_noticed_and_the_command_decided_again(app: App) -> None:
    """Refused on the stale cached state, the command is decided again on the stored one."""
    dossier = run(app, WARD_OFFICER, receive()).dossier_id or ""
    # Another API process hands the dossier off behind this process's cache.
    other_cache = StateCache(app.log)
    other = GroupCommitWriter(app.log, app.idempotency, other_cache, lambda: app.clock[0])
    other_handler = CommandHandler(DossierService(*_parts(app), other))
    other_handler.run(WARD_OFFICER, handoff(dossier))
    other.close()
    # This process still believes version 1; the department accepts through it.
    answer = run(app, DEPT_OFFICER, accept(dossier))
    assert answer.body["holder_agency_code"] == DEPT and answer.version == 3


def test_a_command_does_not_reread_a_cached_dossier(app: App) -> None:
    dossier = run(app, WARD_OFFICER, receive()).dossier_id or ""
    loads = app.log.loads
    run(app, WARD_OFFICER, handoff(dossier))
    run(app, DEPT_OFFICER, accept(dossier))
    assert app.log.loads == loads


def test_overload_is_refused_at_once_and_a_withdrawn_job_is_never_written(app: App) -> None:
    app.writer.close()
    writer = GroupCommitWriter(
        app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0], max_pending=1, autostart=False
    )
    app.handler.service.writer = writer
    queued = app.handler.submit(WARD_OFFICER, receive())
    with pytest.raises(Overloaded):
        app.handler.submit(WARD_OFFICER, receive())
    # A caller that stops waiting before the writer took its job withdraws it.
    with pytest.raises(Overloaded):
        writer.run(app.handler.job(WARD_OFFICER, receive()), timeout=0.01)
    writer.start()
    assert isinstance(_outcome(queued), Answer)
    writer.close()
    assert len(app.log.streams) == 1


def test_occurred_at_is_for_the_integration_role_and_never_in_the_future(app: App) -> None:
    early = receive()
    stated = early.body.model_copy(update={"occurred_at": datetime(2026, 8, 27, 9, 0, tzinfo=VN)})
    with pytest.raises(ActorNotAllowed):
        run(app, WARD_OFFICER, CommandRequest(RECEIVE, stated))
    answer = run(
        app, PORTAL, CommandRequest(RECEIVE, stated.model_copy(update={"receiving_agency_code": WARD}))
    )
    assert answer.body["received_at"].startswith("2026-08-27T09:00")
    within_skew = stated.model_copy(update={"occurred_at": app.clock[0] + timedelta(seconds=100)})
    assert run(app, PORTAL, CommandRequest(RECEIVE, within_skew)).status == 201
    future = stated.model_copy(update={"occurred_at": app.clock[0] + timedelta(minutes=10)})
    with pytest.raises(InvalidValue, match="lies in the future"):
        run(app, PORTAL, CommandRequest(RECEIVE, future))


def test_a_command_just_after_an_event_stamped_ahead_within_the_skew_is_not_refused(app: App) -> None:
    """An agency system whose clock runs ahead stamps a handoff 90 s past the server's clock
    (allowed: the skew is 120 s). The department's officer accepting right after states no time:
    the accept is recorded at the handoff's instant, not refused for a time it never sent."""
    dossier_id = run(app, WARD_OFFICER, receive()).dossier_id
    assert dossier_id is not None
    ahead = app.clock[0] + timedelta(seconds=90)
    body = HandoffIn(to_agency_code=DEPT, occurred_at=ahead)
    assert run(app, PORTAL, CommandRequest("handoff", body, dossier_id)).status == 200
    accepted = run(app, DEPT_OFFICER, accept(dossier_id))
    assert accepted.status == 200
    times = [r.to_domain().occurred_at for r in app.log.streams[dossier_id]]
    assert times == sorted(times) and times[-1] == ahead
    # A time the caller states is still held to the order of events.
    behind = HandoffIn(to_agency_code=WARD, occurred_at=app.clock[0])
    with pytest.raises(RuleViolated, match="never go backwards"):
        run(app, PORTAL, CommandRequest("handoff", behind, dossier_id))


def test_every_wire_command_name_is_runnable() -> None:
    assert {"handoff", "accept", "return", "decide", "result_ready", "result_returned"} <= set(COMMANDS)


def _outcome(future: Future[Answer]) -> Answer | BaseException:
    try:
        return future.result(timeout=60)
    except Exception as exc:
        return exc


def _parts(app: App) -> tuple[object, ...]:
    service = app.handler.service
    return (service.store, service.catalogue, service.calendar, service.vault, service.clock)


def test_a_conflicting_commit_is_decided_again_on_the_new_state(app: App) -> None:
    dossier = run(app, WARD_OFFICER, receive()).dossier_id or ""
    other = GroupCommitWriter(app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0])
    CommandHandler(DossierService(*_parts(app), other)).run(  # type: ignore[arg-type]
        WARD_OFFICER,
        CommandRequest("consult", COMMANDS["consult"].model(agency_code=DEPT, question="?"), dossier),
    )
    other.close()
    # Allowed on the stale state too, so only the store's version check notices.
    answer = run(app, WARD_OFFICER, handoff(dossier))
    assert answer.version == 3 and app.writer.stats.conflicts == 1
    assert [r.type for r in app.log.streams[dossier]] == [
        "DossierReceived",
        "ConsultationRequested",
        "HandedOff",
    ]


def test_a_new_dossier_whose_id_exists_fails_alone_and_the_batch_lands(app: App) -> None:
    existing = run(app, WARD_OFFICER, receive("dup")).dossier_id or ""
    app.writer.close()
    # A fresh process: nothing cached, so only the store's key reveals the duplicate.
    writer = GroupCommitWriter(
        app.log, app.idempotency, StateCache(app.log), lambda: app.clock[0], autostart=False
    )
    app.handler.service.writer = writer
    service = app.handler.service
    duplicate = writer.submit(
        _create_job(service, existing)  # the same id as the stored dossier
    )
    fresh = app.handler.submit(WARD_OFFICER, receive())
    writer.start()
    assert isinstance(_outcome(duplicate), ConcurrencyConflict)
    assert isinstance(_outcome(fresh), Answer)
    assert len(app.log.streams) == 2 and writer.stats.conflicts == 1
    writer.close()


def _create_job(service: DossierService, dossier_id: str) -> Any:
    from domain.decide import decide
    from domain.events import Actor, Channel
    from gateways.application.writer import Job

    command, new_key, _secret = service.receive_command(
        dossier_id=dossier_id,
        procedure_code=PROCEDURE,
        channel=Channel.DIRECT,
        applicant={"name": "B"},
        receiving_agency_code=None,
        actor=Actor(agency_code=WARD, user="x", role="officer"),
        occurred_at=service.now(),
    )
    return Job(
        dossier_id,
        lambda state: decide(state, command, service.calendar),
        lambda state, _r: Answer(201, {}, dossier_id, state.version),
        lambda _s: Answer(201, {}),
        new_stream=True,
        rows=[new_key.row],
    )


def test_an_agency_with_no_part_in_a_dossier_gets_403_before_any_version_or_state_check(app: App) -> None:
    dossier = run(app, WARD_OFFICER, receive()).dossier_id or ""
    stranger = Principal("x@other-ward", "officer", "000.22.99.H29")
    with pytest.raises(ActorNotAllowed, match="no part"):
        run(app, stranger, handoff(dossier, version=7))  # a stale If-Match says nothing either
    with pytest.raises(ActorNotAllowed, match="no part"):
        run(app, stranger, handoff(dossier))
    # The desk itself still gets the version conflict it can act on.
    with pytest.raises(ConcurrencyConflict):
        run(app, WARD_OFFICER, handoff(dossier, version=7))
