"""RFC 9457 problem+json for every error, mapped once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import ActorNotAllowed, DomainError, InvalidValue, RuleViolated, UnknownDossier
from gateways.auth import AuthError
from gateways.eventstore.codec import DecodeError
from gateways.eventstore.store import ConcurrencyConflict

PROBLEM = "application/problem+json"
_BASE = "https://lienthong.gov.vn/problems/"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, slug: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.slug, self.extra = status, title, detail, slug, extra


def problem_body(
    status: int, title: str, detail: str, slug: str = "", instance: str = "", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": _BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int, title: str, detail: str, slug: str = "", instance: str = "", **extra: Any
) -> Response:
    body = problem_body(status, title, detail, slug, instance, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (ActorNotAllowed, 403, "forbidden"),
    (UnknownDossier, 404, "unknown-dossier"),
    (InvalidValue, 422, "invalid-value"),
    (RuleViolated, 409, "rule-violated"),
]


def _domain_status(exc: DomainError) -> tuple[int, str]:
    for cls, status, slug in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            return status, slug
    return 409, "rule-violated"


def domain_problem(exc: DomainError, instance: str = "") -> Response:
    status, slug = _domain_status(exc)
    return problem_response(status, exc.title, exc.detail, slug, instance)


def validation_detail(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """pydantic errors -> one readable sentence and the per-field list."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {e.get('msg')}")
    invalid = [{"name": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg")} for e in errors]
    return "; ".join(parts), invalid


def describe(exc: Exception, instance: str = "") -> dict[str, Any] | None:
    """The problem+json body for an error a caller caused (any gateway), or None for a crash."""
    if isinstance(exc, Problem):
        return problem_body(exc.status, exc.title, exc.detail, exc.slug, instance, **exc.extra)
    if isinstance(exc, DomainError):
        status, slug = _domain_status(exc)
        return problem_body(status, exc.title, exc.detail, slug, instance)
    if isinstance(exc, ConcurrencyConflict):
        return problem_body(409, "Version conflict", str(exc), "version-conflict", instance)
    if isinstance(exc, AuthError):
        return problem_body(401, "Not authenticated", str(exc), "unauthenticated", instance)
    if isinstance(exc, ValidationError):
        detail, invalid = validation_detail(exc.errors())
        return problem_body(422, "Invalid request", detail, "invalid-request", instance, errors=invalid)
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.title, exc.detail, exc.slug, request.url.path, **exc.extra)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return domain_problem(exc, request.url.path)

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(request: Request, exc: ConcurrencyConflict) -> Response:
        return problem_response(409, "Version conflict", str(exc), "version-conflict", request.url.path)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        return problem_response(401, "Not authenticated", str(exc), "unauthenticated", request.url.path)

    @app.exception_handler(DecodeError)
    async def _damaged(request: Request, exc: DecodeError) -> Response:
        return problem_response(
            500,
            "Stored history is damaged",
            f"{exc}; run the audit verification",
            "damaged-history",
            request.url.path,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(
                400,
                "Malformed request body",
                "the body is not valid JSON",
                "malformed-body",
                request.url.path,
            )
        detail, invalid = validation_detail(errors)
        return problem_response(
            422, "Invalid request", detail, "invalid-request", request.url.path, errors=invalid
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        return problem_response(
            exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), "", request.url.path
        )
