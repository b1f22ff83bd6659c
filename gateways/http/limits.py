"""The request body limit, enforced while the body streams in (pure ASGI).

A declared `Content-Length` over the limit is refused before anything is read; a chunked
body is counted as it arrives and refused the moment it passes the limit, so a 200 MiB
upload is never buffered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.exceptions import HTTPException

from gateways.application import messages
from gateways.application.errors import problem_body

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(HTTPException):
    """Raised from `receive` past the limit. An HTTPException, so the framework's own body
    parsing passes it on and the problem handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"bodies are limited to {limit // 1024} KiB")


# A route's own limit: method, path pattern, bytes, and the (title, detail) it is refused with
# (None: the body limit's own words).
Override = tuple[str, str, int, tuple[str, str] | None]


class BodyLimit:
    """`limit` for every body; `overrides` for the few routes that take more (file uploads,
    which also check their own file size as it streams, and are refused here with the same
    words, so a file past the limit reads the same whether its length was declared or not)."""

    def __init__(self, app: Any, limit: int, overrides: Sequence[Override] = ()) -> None:
        self.app = app
        self.default = limit
        self.overrides = [
            (method, re.compile(pattern), size, words) for method, pattern, size, words in overrides
        ]

    def _limit_for(self, scope: Scope) -> tuple[int, tuple[str, str] | None]:
        for method, pattern, size, words in self.overrides:
            if scope.get("method") == method and pattern.fullmatch(scope.get("path", "")):
                return size, words
        return self.default, None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, words = self._limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit, words)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message: Message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send, limit, words)

    async def _refuse(self, scope: Scope, send: Any, limit: int, words: tuple[str, str] | None) -> None:
        accept = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"accept-language"), None
        )
        language = messages.negotiate(accept)
        title, detail = words or ("Request body too large", f"bodies are limited to {limit // 1024} KiB")
        body = orjson.dumps(
            problem_body(
                413,
                title,
                detail,
                "too-large",
                scope.get("path", ""),
                language,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-language", language.encode()),
                    (b"vary", b"Accept-Language"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else None
    return None
