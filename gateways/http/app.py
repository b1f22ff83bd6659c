"""The FastAPI application: API under /api/v1, docs served offline."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from gateways import web
from gateways.application.attachments import FileTooLarge
from gateways.bootstrap import Container
from gateways.http import contract, problems, redact
from gateways.http.deps import EnforceDep
from gateways.http.limits import BodyLimit
from gateways.http.observe import Observe
from gateways.http.responses import OrjsonResponse
from gateways.http.routes import audit, bottlenecks, catalogue, demo, dossiers, reads, reports, system
from gateways.http.routes.documents import router as documents_router
from gateways.http.routes.files import MULTIPART_SLACK, UPLOAD_PATH
from gateways.http.routes.files import router as files_router
from gateways.http.routes.privacy import router as privacy_router


def create_app(container: Container) -> FastAPI:
    app = FastAPIOffline(
        title="lienthong",
        summary="Inter-level dossier routing (hồ sơ liên thông): commands, history, SLA and audit",
        version="0.1.0",
        default_response_class=OrjsonResponse,
    )
    app.state.container = container
    redact.install()  # no lookup secret in access logs
    problems.install(app)
    contract.install(app)
    # Outermost, so nothing reads a body past the limit; an upload past it is a file too large.
    upload = container.settings.max_upload_bytes
    too_large = FileTooLarge(upload)
    app.add_middleware(
        BodyLimit,
        limit=container.settings.max_body_bytes,
        overrides=[("POST", UPLOAD_PATH, upload + MULTIPART_SLACK, (too_large.title, too_large.detail))],
    )
    if container.settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=container.settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
        )
    # Request id, access log, request metrics, security headers: around everything.
    app.add_middleware(Observe, metrics=container.metrics)

    # Every route passes the access table first (gateways/http/access.py).
    for module in (audit, bottlenecks, catalogue, dossiers, reads, reports, system):
        app.include_router(module.router, dependencies=[EnforceDep])

    app.include_router(documents_router, dependencies=[EnforceDep])
    app.include_router(files_router, dependencies=[EnforceDep])
    app.include_router(privacy_router, dependencies=[EnforceDep])
    app.include_router(demo.router, dependencies=[EnforceDep])
    app.include_router(web.router, dependencies=[EnforceDep])
    return app
