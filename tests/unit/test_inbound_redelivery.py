"""A command read again from the commands topic while the topic still keeps it replays its first
result: it neither runs again nor answers differently (gateways/kafka/inbound.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateways.application.errors import Overloaded
from gateways.auth import TokenExpired, issue_token, read_token
from gateways.bootstrap import Container, bootstrap
from gateways.kafka import inbound
from gateways.kafka.topics import Topics, topic_specs
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from tests.conftest import FakeClock

SECRET = "test-secret-of-at-least-thirty-two-bytes"
WARD, DEPT = "000.21.99.H29", "000.00.21.H29"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def container(tmp_path: Path, clock: FakeClock) -> Iterator[Container]:
    made = bootstrap(
        Settings(data_dir=tmp_path / "var", kafka_bootstrap="127.0.0.1:1", jwt_secret=SECRET), clock=clock
    )
    load_catalogue(made.catalogue)
    yield made
    made.close()


def _token(agency: str) -> str:
    # Tokens are checked against the wall clock: long enough for the days the test moves.
    now = datetime.now(UTC)
    return issue_token(
        SECRET, role="officer", sub=f"officer@{agency}", agency_code=agency, now=now, ttl=timedelta(days=30)
    )


def _command(key: str, name: str, body: dict[str, object], token: str, dossier: str | None = None) -> bytes:
    message: dict[str, object] = {"idempotency_key": key, "token": token, "command": name, "body": body}
    if dossier:
        message["dossier_id"] = dossier
    return orjson.dumps(message)


def test_a_consultation_redelivered_days_later_is_not_asked_again(
    container: Container, clock: FakeClock
) -> None:
    """Asked, answered, then the command is read again two days later (an offset reset, or the
    sender retrying after its results consumer was down): it was forgotten after 24 h and opened a
    second consultation."""
    ward, dept = _token(WARD), _token(DEPT)
    applicant = {"name": "Trần Thị Bình", "id_number": "079300004321"}
    [(_, received)] = inbound.execute_batch(
        container,
        [
            _command(
                "rx",
                "receive",
                {"procedure_code": "DD.01-2025", "channel": "direct", "applicant": applicant},
                ward,
            )
        ],
    )
    dossier = received["dossier"]["id"]
    consult = _command(
        "ask-1", "consult", {"agency_code": DEPT, "question": "Ý kiến về ranh giới?"}, ward, dossier
    )
    [(_, asked)] = inbound.execute_batch(container, [consult])
    [(_, answered)] = inbound.execute_batch(
        container, [_command("ans-1", "answer", {"answer": "Đồng ý"}, dept, dossier)]
    )
    assert (asked["status"], answered["status"]) == (200, 200)
    clock.at += timedelta(days=2)
    [(_, again)] = inbound.execute_batch(container, [consult])
    assert again == asked
    types = [e.type for e in container.store.load(dossier)]
    assert types.count("ConsultationRequested") == 1, types


def test_keys_are_remembered_as_long_as_the_commands_topic_keeps_a_command() -> None:
    [commands] = [t for t in topic_specs(Topics.with_prefix("p"), 12) if t.name == "p.dossier-commands.v1"]
    kept_ms = int(commands.topic_configs["retention.ms"])
    assert Settings().idempotency_ttl_seconds * 1000 > kept_ms


def test_a_command_read_again_after_its_token_expired_gets_its_first_answer_not_a_401(
    container: Container,
) -> None:
    """The command ran and its result may never have gone out (a crash before the offsets were
    committed, a results topic down); by the time the batch is read again the short-lived token
    has expired. A 401 told the sender the command had not run, and resending it under a new key
    would have run it twice. A command that never ran is still refused."""
    now = datetime.now(UTC)
    short = issue_token(
        SECRET, role="officer", sub=f"officer@{WARD}", agency_code=WARD, now=now, ttl=timedelta(seconds=1)
    )
    applicant = {"name": "Trần Thị Bình", "id_number": "079300004321"}
    body = {"procedure_code": "DD.01-2025", "channel": "direct", "applicant": applicant}
    receive = _command("rx-short", "receive", body, short)
    [(_, first)] = inbound.execute_batch(container, [receive])
    assert first["status"] == 201

    def expired() -> bool:
        try:
            read_token(SECRET, short)
        except TokenExpired:
            return True
        return False

    deadline = time.monotonic() + 10
    while not expired():  # the token's exp is whole seconds: at most two away
        assert time.monotonic() < deadline, "the one-second token never expired"
        time.sleep(0.05)
    [(_, again), (_, never_ran)] = inbound.execute_batch(
        container, [receive, _command("rx-late", "receive", body, short)]
    )
    assert again == first
    assert never_ran["status"] == 401 and "expired" in never_ran["problem"]["detail"]
    assert container.store.max_notification_id() == 1


def test_a_command_refused_for_overload_says_when_to_send_it_again(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP a 503 carries Retry-After; the Kafka result carried nothing of it."""

    def overloaded(*args: object, **kwargs: object) -> None:
        raise Overloaded("more than 5000 commands are waiting", retry_after=7)

    monkeypatch.setattr(container.commands, "submit", overloaded)
    [(_, result)] = inbound.execute_batch(container, [_command("busy", "accept", {}, _token(WARD), "d-1")])
    assert result["status"] == 503 and result["problem"]["retry_after"] == 7
