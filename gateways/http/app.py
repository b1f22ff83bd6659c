"""The FastAPI application: API under /api/v1, docs served offline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import ORJSONResponse
from fastapi_offline import FastAPIOffline

from gateways import web
from gateways.bootstrap import Container
from gateways.http import problems
from gateways.http.routes import audit, bottlenecks, catalogue, demo, dossiers, reads, reports, system


def create_app(container: Container) -> FastAPI:
    app = FastAPIOffline(
        title="lienthong",
        summary="Inter-level dossier routing (hồ sơ liên thông): commands, history, SLA and audit",
        version="0.1.0",
        default_response_class=ORJSONResponse,
    )
    app.state.container = container
    problems.install(app)
    limit = container.settings.max_body_bytes

    @app.middleware("http")
    async def body_limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit():
            size = int(declared)
        elif request.method in ("POST", "PUT", "PATCH"):
            size = len(await request.body())  # chunked upload: measure what came
        else:
            size = 0
        if size > limit:
            return problems.problem_response(
                413,
                "Request body too large",
                f"bodies are limited to {limit // 1024} KiB",
                "too-large",
                request.url.path,
            )
        return await call_next(request)

    for module in (audit, bottlenecks, catalogue, dossiers, reads, reports, system):
        app.include_router(module.router)

    app.include_router(demo.router)
    app.include_router(web.router)
    return app
