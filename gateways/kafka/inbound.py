"""Inbound commands: agency systems publish commands; results go back on a topic.

A thin adapter over the application's `CommandHandler`, like the HTTP routes, and batched:
a consumed batch is parsed, every command is handed to the writer at once (so they share
one group commit), and the results are published in the order of the commands. A repeated
idempotency key — in the same batch, a later one, or after a crash before the results
were published — runs nothing and gets the first result again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from gateways.application.commands import COMMANDS, RECEIVE, DossierCreate, Timed
from gateways.application.errors import InvalidCommand, describe, internal
from gateways.application.handler import CommandRequest, response_body
from gateways.application.writer import Answer
from gateways.auth import Principal, read_token
from gateways.kafka.contracts import CommandMessage

if TYPE_CHECKING:
    from gateways.bootstrap import Container

log = logging.getLogger("lienthong.inbound")


def _result(
    key: str, status: int, dossier: dict[str, Any] | None = None, problem: Any = None
) -> dict[str, Any]:
    return {"idempotency_key": key, "status": status, "dossier": dossier, "problem": problem}


def _problem(exc: BaseException) -> dict[str, Any]:
    failure = describe(exc)
    if failure is None:
        log.error("inbound command failed", exc_info=exc)
        failure = internal("the command failed unexpectedly; it was logged")
    return failure.body()


def _failure(key: str, exc: BaseException) -> dict[str, Any]:
    problem = _problem(exc)
    return _result(key, int(problem["status"]), problem=problem)


def _body_model(command: str) -> type[Timed]:
    if command == RECEIVE:
        return DossierCreate
    spec = COMMANDS.get(command)
    if spec is None:
        raise InvalidCommand(f"unknown command '{command[:60]}' (one of receive, {', '.join(COMMANDS)})")
    return spec.model


def execute_batch(container: Container, raws: Sequence[bytes]) -> list[tuple[bytes, dict[str, Any]]]:
    """Inbound records -> (result key, result), in order. Never raises for bad input."""
    out: list[tuple[bytes, dict[str, Any]] | None] = [None] * len(raws)
    waiting: list[tuple[int, bytes, str, Future[Answer]]] = []
    # An agency system sends many commands with one token: verify each token once per batch.
    principals: dict[str, Principal | Exception] = {}
    for n, raw in enumerate(raws):
        try:
            message = CommandMessage.model_validate_json(raw)
        except ValidationError as exc:
            key = _loose_key(raw)
            out[n] = (key.encode(), _failure(key, exc))
            continue
        key = message.idempotency_key
        result_key = (message.dossier_id or key).encode()
        try:
            principal = _principal(container, principals, message.token)
            body = _body_model(message.command).model_validate(message.body)
            request = CommandRequest(message.command, body, message.dossier_id, message.expected_version, key)
            waiting.append((n, result_key, key, container.commands.submit(principal, request)))
        except Exception as exc:
            out[n] = (result_key, _failure(key, exc))
    for n, result_key, key, future in waiting:
        try:
            answer = future.result()
        except Exception as exc:
            out[n] = (result_key, _failure(key, exc))
            continue
        out[n] = (result_key, _result(key, answer.status, dossier=response_body(answer)))
    return [item for item in out if item is not None]


def _principal(container: Container, seen: dict[str, Principal | Exception], token: str) -> Principal:
    if token not in seen:
        try:
            seen[token] = read_token(container.keyring.jwt_secrets, token)
        except Exception as exc:
            seen[token] = exc
    known = seen[token]
    if isinstance(known, Exception):
        raise known
    return known


def execute(container: Container, raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """One inbound record -> (result key, result)."""
    return execute_batch(container, [raw])[0]


def _loose_key(raw: bytes) -> str:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    key = value.get("idempotency_key") if isinstance(value, dict) else None
    return key if isinstance(key, str) else ""
