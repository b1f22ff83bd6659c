"""RFC 9457 problem+json for every error, mapped once."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from domain.errors import DomainError
from gateways.application import messages
from gateways.application.errors import (
    ConcurrencyConflict,
    Overloaded,
    Refused,
    internal,
    problem_body,
    validation_detail,
)
from gateways.application.errors import describe as failure_of
from gateways.auth import AuthError
from gateways.eventstore.codec import DecodeError
from gateways.eventstore.store import OversizedEvent

log = logging.getLogger("lienthong.http")

PROBLEM = "application/problem+json"


class Problem(Refused):
    """A route refuses the request (403, 404, 422, …): answered like every refused use case."""


def language_of(headers: Mapping[str, str]) -> str:
    """The language problems are told in: Vietnamese unless Accept-Language prefers English."""
    return messages.negotiate(headers.get("accept-language"))


def language_headers(language: str) -> dict[str, str]:
    return {"Content-Language": language, "Vary": "Accept-Language"}


def problem_response(
    status: int,
    title: str,
    detail: str,
    slug: str = "",
    instance: str = "",
    language: str = messages.DEFAULT,
    **extra: Any,
) -> Response:
    body = problem_body(status, title, detail, slug, instance, language, **extra)
    headers = language_headers(language)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "1"
    if status == 429:
        headers["Retry-After"] = str(extra.get("retry_after", 1))
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _failure_response(request: Request, exc: BaseException) -> Response:
    failure = failure_of(exc)
    if failure is None:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        failure = internal("the request failed unexpectedly; it was logged")
    response = problem_response(
        failure.status,
        failure.title,
        failure.detail,
        failure.slug,
        request.url.path,
        language_of(request.headers),
        **failure.extra,
    )
    response.headers.update(failure.headers)
    return response


def _store_errors() -> tuple[type[BaseException], ...]:
    """The stores' own errors: a value the store refuses (422) or a busy store (503)."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import PersistenceError

    return (sqlite3.Error, psycopg.Error, psycopg_pool.PoolTimeout, PersistenceError)


def install(app: FastAPI) -> None:
    # Each kind the application describes is handled by class: Starlette's handler for
    # `Exception` answers and then re-raises, which makes uvicorn drop the connection.
    for kind in (
        DomainError,
        ConcurrencyConflict,
        AuthError,
        DecodeError,
        Refused,
        Overloaded,
        OverflowError,
        OversizedEvent,
        *_store_errors(),
    ):
        app.add_exception_handler(kind, _failure_response)
    app.add_exception_handler(Exception, _failure_response)

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
                language_of(request.headers),
            )
        detail, invalid = validation_detail(errors)
        return problem_response(
            422,
            "Invalid request",
            detail,
            "invalid-request",
            request.url.path,
            language_of(request.headers),
            errors=invalid,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == BODY_UNREADABLE:
            return problem_response(
                400,
                "Malformed request body",
                _unreadable(exc.__cause__),
                "malformed-body",
                request.url.path,
                language_of(request.headers),
            )
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        # A body past the limit while it streams (gateways/http/limits.py) is the same problem
        # as one whose declared length is refused before it is read: the same `type`.
        slugs = {413: "too-large"}
        response = problem_response(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            slugs.get(exc.status_code, ""),
            request.url.path,
            language_of(request.headers),
        )
        if exc.status_code == 405:
            # Every method some route takes at this path (the framework names only the first route's).
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response


# What the framework says of a body it could not decode before any JSON parsing could (bytes
# that are not UTF-8, a number past Python's digit limit); its cause says which.
BODY_UNREADABLE = "There was an error parsing the body"


def _unreadable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8: send JSON encoded in UTF-8"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the body holds a number too long to read (more than 4,300 digits)"
    return "the body is not valid JSON"


def allowed_methods(request: Request) -> list[str]:
    route = request.scope.get("route")  # the route that matched the path but not the method
    methods = set(getattr(route, "methods", None) or ())
    # Every documented operation whose path takes this one: GET and PUT /agencies/{code} are
    # two routes, and POST /lookup/result-file sits beside GET /lookup/{receipt_code} (the
    # framework names only the first route that matched the path).
    path = request.scope.get("path", "")
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _template_regex(template).match(path):
            methods |= {m.upper() for m in operations if m in ("get", "put", "post", "delete", "patch")}
    return sorted(methods)


@lru_cache(maxsize=512)
def _template_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]
