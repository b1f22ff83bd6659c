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
from gateways.auth import Principal, TokenExpired, read_token
from gateways.kafka.contracts import IDEMPOTENCY_KEY_MAX, CommandMessage

if TYPE_CHECKING:
    from gateways.bootstrap import Container

log = logging.getLogger("lienthong.inbound")

# A result record must stay under what Kafka takes by default (1 MiB per record, the producer's
# max_request_size and the broker's message.max.bytes): a result that can never be published
# would have its batch read again for ever, blocking every command behind it.
RESULT_LIMIT_BYTES = 900_000
_CUT = 1_000  # characters kept of a long text of a shortened problem
_KEPT_ERRORS = 50  # field errors kept in a shortened problem


def _result(
    key: str, status: int, dossier: dict[str, Any] | None = None, problem: Any = None
) -> dict[str, Any]:
    return {"idempotency_key": key, "status": status, "dossier": dossier, "problem": problem}


def _problem(exc: BaseException) -> dict[str, Any]:
    failure = describe(exc)
    if failure is None:
        log.error("inbound command failed", exc_info=exc)
        failure = internal("the command failed unexpectedly; it was logged")
    body = failure.body()
    # Over HTTP the header says when to ask again; a result has no headers of its own to say it.
    retry = failure.headers.get("Retry-After")
    if retry is not None and retry.isdigit():
        body["retry_after"] = int(retry)
    return body


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


def _check_receive(message: CommandMessage) -> None:
    """`receive` makes the dossier and names it: a dossier_id sent with it was dropped without a
    word (the result came back keyed by it, holding another id), and so was a version."""
    if message.command != RECEIVE:
        return
    if message.dossier_id is not None:
        raise InvalidCommand(
            "dossier_id: 'receive' creates the dossier and gives its id in the result; send it without"
        )
    if message.expected_version not in (None, 0):
        raise InvalidCommand("expected_version: a dossier being received is new (version 0)")


# Said in a receive's result in place of the lookup secret (decision 212).
SECRET_NOT_SENT = (
    "the citizen's lookup secret is not sent on Kafka: every agency system reads the results topic. "
    "Send lookup_secret_hash with the receive (the hex SHA-256 of 'lienthong-lookup:' + a secret of "
    "at least 16 random bytes you draw and give the citizen)"
)


def _without_secret(body: dict[str, Any]) -> dict[str, Any]:
    """A receive's answer as the results topic may carry it: no lookup secret in clear."""
    if "lookup_secret" not in body:
        return body
    return {**{k: v for k, v in body.items() if k != "lookup_secret"}, "lookup_secret_note": SECRET_NOT_SENT}


def _check_record_key(message: CommandMessage, record_key: bytes | None) -> None:
    """A command on a dossier keyed by anything else may land on another partition than the
    dossier's other commands and run before one sent earlier (an `accept` before its `handoff`).
    A record without a key is spread over the partitions by the producer just the same."""
    if message.dossier_id is None or record_key == message.dossier_id.encode():
        return
    if record_key is None:
        raise InvalidCommand(
            "the record has no key: key every command on a dossier by its dossier_id, "
            "so they keep their order on one partition"
        )
    shown = record_key[:80].decode("utf-8", "replace")
    raise InvalidCommand(
        f"the record's key '{shown}' is not its dossier_id: key every command on a dossier by its id, "
        "so they keep their order on one partition"
    )


def execute_batch(
    container: Container, raws: Sequence[bytes], record_keys: Sequence[bytes | None] | None = None
) -> list[tuple[bytes, dict[str, Any]]]:
    """Inbound records -> (result key, result), in order. Never raises for bad input.
    `record_keys`: the records' Kafka keys, checked against the commands' dossier ids."""
    out: list[tuple[bytes, dict[str, Any]] | None] = [None] * len(raws)
    waiting: list[tuple[int, bytes, str, Future[Answer]]] = []
    # An agency system sends many commands with one token: verify each token once per batch.
    principals: dict[str, tuple[Principal, TokenExpired | None] | Exception] = {}
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
            principal, expired = _principal(container, principals, message.token)
            _check_receive(message)
            if record_keys is not None:
                _check_record_key(message, record_keys[n])
            body = _body_model(message.command).model_validate(message.body)
            request = CommandRequest(message.command, body, message.dossier_id, message.expected_version, key)
            future = container.commands.submit(principal, request, replay_only=expired)
            waiting.append((n, result_key, key, future))
        except Exception as exc:
            out[n] = (result_key, _failure(key, exc))
    for n, result_key, key, future in waiting:
        try:
            answer = future.result()
        except Exception as exc:
            out[n] = (result_key, _failure(key, exc))
            continue
        out[n] = (result_key, _result(key, answer.status, dossier=_without_secret(response_body(answer))))
    return [(key, bounded(result)) for key, result in (item for item in out if item is not None)]


def _principal(
    container: Container, seen: dict[str, tuple[Principal, TokenExpired | None] | Exception], token: str
) -> tuple[Principal, TokenExpired | None]:
    """Who sends the command, and whether the token has expired since. A command read again after
    its token expired (a redelivery, a retry of an unanswered command) still gets the first answer
    it was given; a command that never ran is refused (401)."""
    if token not in seen:
        secrets = container.keyring.jwt_secrets
        try:
            seen[token] = (read_token(secrets, token), None)
        except TokenExpired as exc:
            seen[token] = (read_token(secrets, token, expired_ok=True), exc)
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
    """The idempotency key of a record that is no valid command, if it has a usable one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    key = value.get("idempotency_key") if isinstance(value, dict) else None
    # A key beyond the contract's length is no key to answer by (and would make the result
    # record as large as the command): the record is not a command.
    return key if isinstance(key, str) and 0 < len(key) <= IDEMPOTENCY_KEY_MAX else ""


def _cut(text: str, keep: int = _CUT) -> str:
    return text if len(text) <= keep else f"{text[:keep]}… ({len(text) - keep} more characters)"


def bounded(result: dict[str, Any], limit: int = RESULT_LIMIT_BYTES) -> dict[str, Any]:
    """The result as it can be published: itself when its JSON fits in `limit` bytes, else
    shortened, saying what was left out (`omitted`). A problem keeps its type, title and status
    and gets its texts cut and its first field errors; a dossier too large keeps its id and
    version, to be read over HTTP."""
    if len(orjson.dumps(result)) <= limit:
        return result
    problem = result.get("problem")
    if isinstance(problem, dict):
        short: dict[str, Any] = {k: _cut(v) if isinstance(v, str) else v for k, v in problem.items()}
        errors = problem.get("errors")
        if isinstance(errors, list):
            short["errors"] = [
                {k: _cut(v, 200) if isinstance(v, str) else v for k, v in e.items()}
                if isinstance(e, dict)
                else e
                for e in errors[:_KEPT_ERRORS]
            ]
        shortened = {
            **result,
            "problem": short,
            "omitted": "the problem's texts were cut and its field "
            f"errors kept to the first {_KEPT_ERRORS} (of {len(errors) if isinstance(errors, list) else 0}) "
            "to fit the results topic",
        }
        if len(orjson.dumps(shortened)) <= limit:
            return shortened
        problem = {k: _cut(str(problem[k]), 200) for k in ("type", "title", "detail") if k in problem}
        problem["status"] = result["status"]
        return {**result, "problem": problem, "omitted": "the problem was cut to fit the results topic"}
    dossier = result.get("dossier")
    if isinstance(dossier, dict):
        # What matches it and what the applicant's receipt needs.
        kept = {k: dossier[k] for k in ("id", "version", "receipt_code") if k in dossier}
        return {
            **result,
            "dossier": kept,
            "omitted": f"the dossier ({len(orjson.dumps(dossier))} bytes) is over the results topic's "
            f"limit; read it with GET /api/v1/dossiers/{kept.get('id')}",
        }
    return {
        "idempotency_key": result["idempotency_key"],
        "status": result["status"],
        "dossier": None,
        "problem": None,
        "omitted": "the result is over the results topic's limit",
    }
