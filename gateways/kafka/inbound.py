"""Inbound commands: agency systems publish commands; results go back on a topic.

Each command runs through the same command table and application service as HTTP
(gateways/commands.py). A repeated idempotency key (same token subject, same
command and dossier) executes nothing and publishes the first result again. The
key also travels in the appended events' metadata, so a crash between the append
and the stored result is recognised on redelivery instead of running twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from domain.dossier import Dossier, fold
from gateways.auth import Principal, read_token
from gateways.commands import COMMANDS, DossierCreate, new_dossier_id, receive_dossier, run_command
from gateways.http.presenter import dossier_json
from gateways.http.problems import describe, problem_body
from gateways.idempotency import request_hash
from gateways.kafka.contracts import CommandMessage

if TYPE_CHECKING:
    from gateways.bootstrap import Container

log = logging.getLogger("lienthong.inbound")


def _result(
    key: str, status: int, dossier: dict[str, Any] | None = None, problem: Any = None
) -> dict[str, Any]:
    return {"idempotency_key": key, "status": status, "dossier": dossier, "problem": problem}


def _done_before(container: Container, dossier_id: str, subject: str, key: str) -> Dossier | None:
    """The state right after the event that this key appended, if it did."""
    try:
        records = container.service.load(dossier_id).records
    except Exception:
        return None
    for n, record in enumerate(records, start=1):
        meta = record.envelope.get("metadata") or {}
        if meta.get("idempotency_key") == key and meta.get("subject") == subject:
            last = n
            while (
                last < len(records)
                and (records[last].envelope.get("metadata") or {}).get("idempotency_key") == key
            ):
                last += 1
            return fold(r.to_domain() for r in records[:last])
    return None


def execute(container: Container, raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """One inbound record -> (result key, result). Never raises for bad input."""
    try:
        message = CommandMessage.model_validate_json(raw)
    except ValidationError as exc:
        key = _loose_key(raw)
        problem = describe(exc)
        return key.encode(), _result(key, int(problem["status"]) if problem else 400, problem=problem)
    key = message.idempotency_key
    result_key = (message.dossier_id or key).encode()
    try:
        principal = read_token(container.keyring.jwt_secret, message.token)
    except Exception as exc:
        return result_key, _failure(key, exc)
    endpoint = f"kafka {message.command} {message.dossier_id or ''}".strip()
    digest = request_hash(orjson.dumps(message.body, option=orjson.OPT_SORT_KEYS))
    now = container.service.now()
    stored = container.idempotency.get(principal.sub, endpoint, key, now)
    if stored is not None:
        if stored.request_hash != digest:
            problem = problem_body(
                422,
                "Idempotency key reused",
                "this idempotency_key was used with another body",
                "idempotency-key-reused",
            )
            return result_key, _result(key, 422, problem=problem)
        return result_key, orjson.loads(stored.body)
    try:
        status, dossier = _run(container, principal, message)
    except Exception as exc:
        return result_key, _failure(key, exc)
    result = _result(key, status, dossier=dossier)
    container.idempotency.put(principal.sub, endpoint, key, digest, status, orjson.dumps(result), now)
    return result_key, result


def _run(container: Container, principal: Principal, message: CommandMessage) -> tuple[int, dict[str, Any]]:
    metadata = {"idempotency_key": message.idempotency_key, "subject": principal.sub}
    now = container.service.now()
    if message.command == "receive":
        body = DossierCreate.model_validate(message.body)
        dossier_id = new_dossier_id(principal.sub, message.idempotency_key)
        earlier = _done_before(container, dossier_id, principal.sub, message.idempotency_key)
        if earlier is not None:
            return 201, dossier_json(earlier, container.calendar, now, principal)
        received = receive_dossier(container, principal, body, dossier_id, metadata)
        out = dossier_json(received.state, container.calendar, now, principal)
        out["lookup_secret"] = received.lookup_secret
        return 201, out
    spec = COMMANDS.get(message.command)
    if spec is None:
        raise _Unknown(message.command)
    if not message.dossier_id:
        raise _NoDossier(message.command)
    command_body = spec.model.model_validate(message.body)
    earlier = _done_before(container, message.dossier_id, principal.sub, message.idempotency_key)
    if earlier is not None:
        return 200, dossier_json(earlier, container.calendar, now, principal)
    state = run_command(
        container, principal, spec, message.dossier_id, command_body, message.expected_version, metadata
    )
    return 200, dossier_json(state, container.calendar, now, principal)


class _Unknown(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown command '{name}' (one of receive, {', '.join(COMMANDS)})")


class _NoDossier(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"command '{name}' needs a dossier_id")


def _failure(key: str, exc: Exception) -> dict[str, Any]:
    problem: dict[str, Any] | None
    if isinstance(exc, _Unknown | _NoDossier):
        problem = problem_body(422, "Invalid command", str(exc), "invalid-command")
    else:
        problem = describe(exc)
    if problem is None:
        log.exception("inbound command %s failed", key, exc_info=exc)
        problem = problem_body(
            500, "Internal error", "the command failed unexpectedly; it was logged", "internal"
        )
    return _result(key, int(problem["status"]), problem=problem)


def _loose_key(raw: bytes) -> str:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    key = value.get("idempotency_key") if isinstance(value, dict) else None
    return key if isinstance(key, str) else ""
