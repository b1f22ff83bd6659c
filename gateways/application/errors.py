"""Errors of the use cases, and the one mapping of every caller-caused error to a problem
(RFC 9457 fields: status, title, detail, type slug). The HTTP status numbers are the shared
vocabulary: HTTP answers with them, Kafka inbound results carry them."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from domain.errors import ActorNotAllowed, DomainError, InvalidValue, RuleViolated, UnknownDossier
from gateways.application import messages
from gateways.auth import AuthError
from gateways.eventstore.codec import DecodeError
from gateways.eventstore.limits import MAX_EVENT_BYTES
from gateways.eventstore.store import ConcurrencyConflict, OversizedEvent

__all__ = [
    "PROBLEM_BASE",
    "ConcurrencyConflict",
    "Failure",
    "IdempotencyKeyReused",
    "InvalidCommand",
    "Overloaded",
    "Refused",
    "describe",
    "internal",
    "problem_body",
]


PROBLEM_BASE = "https://lienthong.gov.vn/problems/"


def problem_body(
    status: int,
    title: str,
    detail: str,
    slug: str = "",
    instance: str = "",
    language: str = messages.EN,
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 9457 problem, as HTTP answers it and Kafka inbound results carry it: `title` and
    `detail` in `language` (gateways/application/messages.py); `type` the same in every one."""
    kind = PROBLEM_BASE + (slug or title.lower().replace(" ", "-"))
    title, detail = messages.localize(title, detail, language)
    body: dict[str, Any] = {"type": kind, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


class Refused(Exception):
    """A use case refuses the request with a given status (403, 404, 422, …)."""

    def __init__(self, status: int, title: str, detail: str, slug: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.slug, self.extra = status, title, detail, slug, extra


class IdempotencyKeyReused(Refused):
    def __init__(self) -> None:
        super().__init__(
            422,
            "Idempotency key reused",
            "this idempotency key was used for another request (other command, dossier or body)",
            "idempotency-key-reused",
        )


class InvalidCommand(Refused):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "Invalid command", detail, "invalid-command")


class Overloaded(Exception):
    """The writer cannot take more work now; the caller should retry after `retry_after` s."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Failure:
    """A problem, before any gateway renders it."""

    status: int
    title: str
    detail: str
    slug: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, instance: str = "", language: str = messages.EN) -> dict[str, Any]:
        return problem_body(self.status, self.title, self.detail, self.slug, instance, language, **self.extra)


def internal(detail: str) -> Failure:
    """What a crash answers (its cause is logged, not told)."""
    return Failure(500, "Internal error", detail, "internal")


_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (ActorNotAllowed, 403, "forbidden"),
    (UnknownDossier, 404, "unknown-dossier"),
    (InvalidValue, 422, "invalid-value"),
    (RuleViolated, 409, "rule-violated"),
]


def _domain(exc: DomainError) -> Failure:
    for cls, status, slug in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            return Failure(status, exc.title, exc.detail, slug)
    return Failure(409, exc.title, exc.detail, "rule-violated")


# An instant in a query whose "+07:00" arrived as " 07:00": a + in a URL is a space.
_PLUS_READ_AS_SPACE = re.compile(r"\d \d{2}(:?\d{2})?$")


def validation_detail(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """pydantic errors -> one readable sentence and the per-field list."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {e.get('msg')}")
        value = e.get("input")
        in_query = tuple(e.get("loc", ()))[:1] == ("query",)
        if in_query and isinstance(value, str) and _PLUS_READ_AS_SPACE.search(value):
            parts.append(f"{where}: a + in a URL reads as a space: write the offset as %2B07:00")
    invalid = [{"name": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg")} for e in errors]
    return "; ".join(parts), invalid


def _is_transient_store_error(exc: Exception) -> bool:
    """The database is busy or out of connections: the request may succeed if retried."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    module = type(exc).__module__
    name = type(exc).__name__
    return (
        module.startswith(("psycopg", "psycopg_pool")) and name in ("OperationalError", "PoolTimeout")
    ) or (module.startswith("eventsourcing") and name in ("OperationalError", "InterfaceError"))


def _is_unstorable_value(exc: Exception) -> bool:
    """PostgreSQL refuses a value the caller sent (a NUL in text, a number out of a column's
    range): psycopg's DataError and its subclasses. SQLite stores such values as they are."""
    return any(
        cls.__module__.startswith("psycopg") and cls.__name__ == "DataError" for cls in type(exc).__mro__
    )


def describe(exc: BaseException) -> Failure | None:
    """The problem for an error a caller caused or may retry, or None for a crash (a bug)."""
    if isinstance(exc, Refused):
        return Failure(exc.status, exc.title, exc.detail, exc.slug, dict(exc.extra))
    if isinstance(exc, DomainError):
        return _domain(exc)
    if isinstance(exc, ConcurrencyConflict):
        return Failure(409, "Version conflict", str(exc), "version-conflict")
    if isinstance(exc, AuthError):
        return Failure(
            401, "Not authenticated", str(exc), "unauthenticated", headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, ValidationError):
        detail, invalid = validation_detail(exc.errors())
        return Failure(422, "Invalid request", detail, "invalid-request", {"errors": invalid})
    if isinstance(exc, Overloaded):
        return Failure(
            503, "Overloaded", str(exc), "overloaded", headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, OversizedEvent):
        return Failure(
            413,
            "Event too large",
            f"the command would record an event of {exc.size} bytes, more than the {exc.limit} an "
            f"event may take (the events topic takes records of at most {MAX_EVENT_BYTES} bytes): "
            "nothing was recorded",
            "event-too-large",
            {"limit_bytes": exc.limit, "event_bytes": exc.size},
        )
    if isinstance(exc, OverflowError):
        return Failure(
            422,
            "Value out of range",
            f"a value is out of the range this service handles: {exc}",
            "out-of-range",
        )
    if isinstance(exc, DecodeError):
        return Failure(
            500, "Stored history is damaged", f"{exc}; run the audit verification", "damaged-history"
        )
    if isinstance(exc, Exception) and _is_unstorable_value(exc):
        nul = "NUL" in str(exc)
        return Failure(
            422,
            "Invalid value",
            "text must not contain NUL (0x00) characters"
            if nul
            else "a value in the request cannot be stored (out of the range the store handles)",
            "invalid-value",
        )
    if isinstance(exc, Exception) and _is_transient_store_error(exc):
        return Failure(
            503,
            "Store busy",
            "the event store is busy or unreachable; nothing was recorded, retry shortly",
            "store-busy",
            headers={"Retry-After": "1"},
        )
    return None
