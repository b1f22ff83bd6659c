"""Running a command for a principal: the use case behind `POST /dossiers…` and the Kafka
inbound topic alike.

Order of checks: the principal's role may write (403), the stated `occurred_at` is allowed
(integration only) and not in the future beyond the clock-skew allowance (422); then the
writer checks the idempotency record, decides on the current state and records events,
idempotency record and answer in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain.commands import RecordSatisfaction
from domain.decide import decide
from domain.dossier import Dossier
from domain.errors import ActorNotAllowed, InvalidValue, UnknownDossier
from domain.events import Actor, Channel, Satisfaction
from domain.satisfaction import CITIZEN
from gateways.application.commands import COMMANDS, RECEIVE, DossierCreate, Timed, new_dossier_id
from gateways.application.errors import InvalidCommand
from gateways.application.errors import describe as describe_failure
from gateways.application.idempotency import IdempotencyScope, StoredResponse, fingerprint
from gateways.application.receipts import ReceiptNumbers
from gateways.application.representation import dossier_json
from gateways.application.service import DossierService, check_dossier_id
from gateways.application.writer import Answer, Idempotent, Job
from gateways.auth import Principal
from gateways.eventstore.store import RecordedEvent

log = logging.getLogger("lienthong.commands")

WRITERS = ("officer", "integration")
SECRET_ERASED = "erased with the applicant's data; the desk can tell the citizen the dossier's status"


@dataclass(frozen=True)
class CommandRequest:
    command: str  # "receive" or a name of COMMANDS
    body: Timed
    dossier_id: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


def actor_of(principal: Principal) -> Actor:
    if principal.role not in WRITERS:
        raise ActorNotAllowed(f"role '{principal.role}' cannot act on dossiers")
    return Actor(agency_code=principal.agency_code or "", user=principal.sub, role=principal.role)


def response_body(answer: Answer) -> dict[str, Any]:
    """The answer as the caller receives it: the lookup secret, once, after the dossier."""
    if answer.secret is None and answer.sealed_secret is None:
        return answer.body
    body = dict(answer.body)
    body["lookup_secret"] = answer.secret
    if answer.secret is None:
        body["lookup_secret_note"] = SECRET_ERASED
    return body


def server_time(now: datetime, state: Dossier, skew: timedelta) -> datetime:
    """The instant of a command the client did not time: the server's `now`, or the dossier's
    last event when an integration stamped that event ahead of this clock by no more than the
    skew it is allowed (else an officer acting just after would be refused for a time it never
    sent). Beyond the skew, `now` stays and the domain refuses as before."""
    last = state.last_occurred_at
    return last if now < last <= now + skew else now


class CommandHandler:
    def __init__(
        self, service: DossierService, clock_skew_seconds: float = 120.0, wait_seconds: float = 30.0
    ):
        self.service = service
        self.receipts: ReceiptNumbers | None = None  # daily receipt numbers (None: codes by id)
        self.skew = timedelta(seconds=clock_skew_seconds)
        self.wait_seconds = wait_seconds
        # Told (command, status, replayed, seconds) of every command run (metrics).
        self.observe: Callable[[str, int, bool, float], None] | None = None

    # -- one command ---------------------------------------------------------------------
    def run(self, principal: Principal, request: CommandRequest) -> Answer:
        started = time.perf_counter()
        try:
            answer = self.service.writer.run(self.job(principal, request), self.wait_seconds)
        except Exception as exc:
            self._observed(request.command, exc, started)
            raise
        self._observed(request.command, answer, started)
        return answer

    def submit(
        self, principal: Principal, request: CommandRequest, *, replay_only: BaseException | None = None
    ) -> Future[Answer]:
        """`replay_only`: the command may only replay its key's first answer, else fails with it
        (a redelivered Kafka command whose token expired since it ran)."""
        started = time.perf_counter()
        try:
            job = self.job(principal, request)
            if replay_only is not None:
                if job.idempotency is None:
                    raise replay_only
                job.replay_only = replay_only
            future = self.service.writer.submit(job)
        except Exception as exc:
            self._observed(request.command, exc, started)
            raise

        def done(f: Future[Answer]) -> None:
            exc = f.exception()
            self._observed(request.command, exc if exc is not None else f.result(), started)

        future.add_done_callback(done)
        return future

    def _observed(self, command: str, outcome: Answer | BaseException, started: float) -> None:
        if self.observe is None:
            return
        if isinstance(outcome, Answer):
            status, replayed = outcome.status, outcome.replayed
        else:
            failure = describe_failure(outcome)
            status, replayed = (failure.status if failure else 500), False
        name = command if command == RECEIVE or command in COMMANDS else "unknown"
        try:
            self.observe(name, status, replayed, time.perf_counter() - started)
        except Exception:  # metrics never fail a command
            log.exception("could not count command %s", name)

    def job(self, principal: Principal, request: CommandRequest) -> Job:
        """Check who asks and build the writer's job (raises for what is refused at once)."""
        actor = actor_of(principal)
        at = self._occurred_at(principal, request.body)
        idem = self._idempotent(principal, request)
        if request.command == RECEIVE:
            assert isinstance(request.body, DossierCreate)
            return self._receive(principal, actor, at, request.body, idem)
        spec = COMMANDS.get(request.command)
        if spec is None:
            raise InvalidCommand(
                f"unknown command '{request.command[:60]}' (one of receive, {', '.join(COMMANDS)})"
            )
        if not request.dossier_id:
            raise InvalidCommand(f"command '{request.command}' needs a dossier_id")
        dossier_id = request.dossier_id
        check_dossier_id(dossier_id)
        body = request.body
        service = self.service

        stated = body.occurred_at is not None
        skew = self.skew

        def decide_on(state: Dossier | None) -> Any:
            if state is None:
                raise UnknownDossier(f"no dossier {dossier_id}")
            when = at if stated else server_time(at, state, skew)
            return decide(state, spec.build(body, state, actor, when, service), service.calendar)

        def may_act(state: Dossier | None) -> None:
            # Before any version or state check: an agency with no part in the dossier learns
            # nothing of it (403, never a 409 that names its version or status).
            if (
                state is not None
                and actor.role == "officer"
                and actor.agency_code not in state.involved_agencies
            ):
                raise ActorNotAllowed(f"agency {actor.agency_code} has no part in this dossier")

        return Job(
            dossier_id,
            decide_on,
            self._respond(200, principal),
            self._replay,
            expected_version=request.expected_version,
            authorize=may_act,
            idempotency=idem,
            metadata=_metadata(principal, request),
        )

    def citizen_satisfaction(self, dossier_id: str, rating: Satisfaction) -> Answer:
        """The citizen rates the service through the lookup. The caller has checked the receipt
        code and its secret; the domain records it on behalf of the receiving desk."""
        service = self.service
        now = service.now()
        at = now
        actor = Actor(agency_code="", user="citizen", role=CITIZEN)

        def decide_on(state: Dossier | None) -> Any:
            nonlocal at
            if state is None:
                raise UnknownDossier(f"no dossier {dossier_id}")
            at = server_time(now, state, self.skew)
            command = RecordSatisfaction(actor=actor, occurred_at=at, rating=rating)
            return decide(state, command, service.calendar)

        def respond(state: Dossier, _records: list[RecordedEvent]) -> Answer:
            body = {
                "receipt_code": state.receipt_code,
                "rating": rating.value,
                "recorded_at": at.isoformat(),
            }
            return Answer(201, body, state.id, state.version)

        started = time.perf_counter()
        try:
            answer = service.writer.run(Job(dossier_id, decide_on, respond, self._replay), self.wait_seconds)
        except Exception as exc:
            self._observed("satisfaction", exc, started)
            raise
        self._observed("satisfaction", answer, started)
        return answer

    # -- parts -----------------------------------------------------------------------------
    def _occurred_at(self, principal: Principal, body: Timed) -> datetime:
        now = self.service.now()
        if body.occurred_at is None:
            return now
        if principal.role != "integration":
            raise ActorNotAllowed("only the integration role may state occurred_at")
        if body.occurred_at > now + self.skew:
            raise InvalidValue(
                f"occurred_at {body.occurred_at.isoformat()} lies in the future (the server's clock says "
                f"{now.isoformat()}, allowing {int(self.skew.total_seconds())} s of clock skew)"
            )
        return body.occurred_at

    def _idempotent(self, principal: Principal, request: CommandRequest) -> Idempotent | None:
        if not request.idempotency_key:
            return None
        scope = IdempotencyScope(
            principal.sub, principal.role, principal.agency_code or "", request.idempotency_key
        )
        body = request.body.model_dump(mode="json", exclude_unset=True)
        return Idempotent(scope, fingerprint(request.command, request.dossier_id, body))

    def _receive(
        self, principal: Principal, actor: Actor, at: datetime, body: DossierCreate, idem: Idempotent | None
    ) -> Job:
        if body.submitted_only and principal.role != "integration":
            raise ActorNotAllowed(
                "only the integration role (the national portal) records online submissions"
            )
        service = self.service
        dossier_id = new_dossier_id(idem.scope.scope_key if idem else None)
        command, new_key, secret = service.receive_command(
            dossier_id=dossier_id,
            procedure_code=body.procedure_code,
            channel=Channel(body.channel),
            applicant=body.applicant.model_dump(exclude_none=True),
            receiving_agency_code=body.receiving_agency_code,
            actor=actor,
            occurred_at=at,
            submitted_only=body.submitted_only,
            lookup_secret_hash=body.lookup_secret_hash,
        )
        sealed = (
            service.vault.seal_with(new_key.key, dossier_id, {"lookup_secret": secret})
            if secret is not None
            else None
        )
        present = self._respond(201, principal)

        def respond(state: Dossier, records: list[RecordedEvent]) -> Answer:
            answer = present(state, records)
            return Answer(answer.status, answer.body, dossier_id, state.version, secret, sealed)

        def numbered(state: Dossier | None) -> Any:
            # The desk's next number of the day, given out as the writer decides (in order).
            if self.receipts is None:
                return decide(state, command, service.calendar)
            desk = getattr(command, "receiving_agency_code", "")
            day = at.astimezone(service.calendar.tz).date()
            code, row = self.receipts.take(desk, day, dossier_id)
            job.decided_rows = [row]
            numbered_command: Any = replace(command, receipt_code=code)  # type: ignore[call-arg]
            return decide(state, numbered_command, service.calendar)

        job = Job(
            dossier_id,
            numbered,
            respond,
            self._replay,
            new_stream=True,
            idempotency=idem,
            metadata=_metadata(
                principal, CommandRequest(RECEIVE, body, idempotency_key=idem.scope.key if idem else None)
            ),
            rows=list(new_key.rows),
        )
        return job

    def _respond(self, status: int, principal: Principal) -> Any:
        service = self.service

        def respond(state: Dossier, _records: list[RecordedEvent]) -> Answer:
            body = dossier_json(state, service.calendar, service.now(), principal)
            return Answer(status, body, state.id, state.version)

        return respond

    def _replay(self, stored: StoredResponse) -> Answer:
        body = orjson.loads(stored.body)
        secret = None
        if stored.sealed_secret and stored.dossier_id:
            opened = self.service.vault.open_sealed(stored.dossier_id, stored.sealed_secret)
            secret = str(opened["lookup_secret"]) if opened else None
        version = body.get("version") if isinstance(body, dict) else None
        return Answer(
            stored.status,
            body,
            stored.dossier_id,
            version if isinstance(version, int) else None,
            secret,
            stored.sealed_secret,
            replayed=True,
        )


def _metadata(principal: Principal, request: CommandRequest) -> dict[str, str] | None:
    """Events carry the key that caused them (for audits of agency systems' retries)."""
    if not request.idempotency_key:
        return None
    return {"idempotency_key": request.idempotency_key, "subject": principal.sub}


__all__ = ["CommandHandler", "CommandRequest", "InvalidValue", "actor_of", "response_body"]
