"""The dashboard: `/` serves the single page, `/ui/…` its files, the chart library and its settings.

Plain HTML, CSS and JavaScript modules from `static/` (no build step); every view
reads the public API with the signed-in token. The chart library is plotly.js as the
`plotly` Python package ships it, served from here: no page loads anything from
outside the server.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from gateways.http.deps import ContainerDep
from gateways.http.problems import Problem

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".ico": "image/x-icon",
}
# Scripts and data from this server only; plotly sets inline styles on the charts it draws.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type=TYPES[".html"], headers=PAGE_HEADERS)


@router.get("/ui/env.json")
def environment(container: ContainerDep) -> dict[str, Any]:
    """What the pages need before signing in: the server's clock and zone, whether demo login is on."""
    settings = container.settings
    day = sum(
        (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds() / 3600
        for start, end in settings.office_intervals()
    )
    return {
        "now": container.service.now().isoformat(),
        "timezone": settings.timezone,
        "working_hours_per_day": day,
        "demo_login": settings.demo_login,
        "charts": chart_library() is not None,
    }


@lru_cache(maxsize=1)
def chart_library() -> tuple[bytes, bytes, str] | None:
    """plotly.min.js from the installed `plotly` package: (plain, gzipped, etag), or None."""
    spec = importlib.util.find_spec("plotly")  # located, not imported: the Python side is not used
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        return None
    plain = path.read_bytes()
    return plain, gzip.compress(plain, 6), '"' + hashlib.sha256(plain).hexdigest()[:32] + '"'


@router.get("/ui/vendor/plotly.min.js")
def plotly_js(request: Request) -> Response:
    library = chart_library()
    if library is None:
        raise Problem(
            404,
            "Chart library not installed",
            "the `plotly` package is missing: `make install` installs it; pages show tables without charts",
            "no-chart-library",
        )
    plain, packed, etag = library
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type=TYPES[".js"], headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, media_type=TYPES[".js"], headers=headers)


@router.get("/ui/{path:path}")
def static_file(path: str) -> FileResponse:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file() or target.suffix not in TYPES:
        raise Problem(404, "Not found", f"no dashboard file '{path}'", "not-found")
    return FileResponse(target, media_type=TYPES[target.suffix], headers=PAGE_HEADERS)
