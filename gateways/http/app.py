"""The FastAPI application: API under /api/v1, docs served offline."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse
from fastapi_offline import FastAPIOffline

from gateways import web
from gateways.bootstrap import Container
from gateways.http import problems, redact
from gateways.http.limits import BodyLimit
from gateways.http.routes import audit, bottlenecks, catalogue, demo, dossiers, reads, reports, system
from gateways.http.routes.documents import router as documents_router
from gateways.http.routes.privacy import router as privacy_router


def create_app(container: Container) -> FastAPI:
    app = FastAPIOffline(
        title="lienthong",
        summary="Inter-level dossier routing (hồ sơ liên thông): commands, history, SLA and audit",
        version="0.1.0",
        default_response_class=ORJSONResponse,
    )
    app.state.container = container
    redact.install()  # no lookup secret in access logs
    problems.install(app)
    # Outermost, so nothing reads a body past the limit.
    app.add_middleware(BodyLimit, limit=container.settings.max_body_bytes)

    for module in (audit, bottlenecks, catalogue, dossiers, reads, reports, system):
        app.include_router(module.router)

    app.include_router(documents_router)
    app.include_router(privacy_router)
    app.include_router(demo.router)
    app.include_router(web.router)
    return app
