"""Every HTTP request, observed once (pure ASGI, outermost): a request id (the caller's
`X-Request-ID` when it is a sane token, else a new one; echoed in the response), one JSON
access-log line (`lienthong.access`: method, route template, path without its query
string, status, duration, request id, principal, dossier id — never a query string or a
body), the request metrics, and the security headers of every response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from gateways.logs import request_context
from gateways.metrics import Metrics

log = logging.getLogger("lienthong.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# The API answers data, never a page: nothing may run, frame or be cached from it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The dashboard: its own scripts and styles (plotly.js sets inline styles), data: images
# (chart exports), calls to this origin only.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI and ReDoc start from an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'"
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_DOCS = ("/docs", "/redoc", "/static-offline-docs")


def csp_for(path: str) -> str:
    if path.startswith("/api/") or path in ("/metrics", "/healthz", "/readyz", "/openapi.json"):
        return API_CSP
    if path.startswith(_DOCS):
        return DOCS_CSP
    return DASHBOARD_CSP


class Observe:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        context: dict[str, Any] = {"request_id": request_id}
        token = request_context.set(context)
        path: str = scope.get("path", "")
        status = 500

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", csp_for(path).encode()),
                ]
                if path.startswith("/api/") and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + [h for h in extra if h[0] not in names]}
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                # Label values stay a small set: a client may send any method token.
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                self.metrics.requests.labels(method, template, str(status)).inc()
                self.metrics.request_seconds.labels(method, template).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = scope.get("route")
            params = scope.get("path_params") or {}
            if "dossier_id" in params:
                context.setdefault("dossier_id", params["dossier_id"])
            log.info(
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_context.reset(token)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
