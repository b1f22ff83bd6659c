"""Calendar, health, readiness, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from gateways.application.commands import LocalInstant
from gateways.http import schemas
from gateways.http.deps import ContainerDep
from gateways.http.problems import Problem
from gateways.http.schemas import answers
from gateways.metrics import CONTENT_TYPE

router = APIRouter(tags=["system"])


@router.get("/api/v1/calendar/working-time", **answers(schemas.WorkingTime))
def working_time(
    container: ContainerDep,
    start: LocalInstant,
    hours: float | None = Query(default=None, ge=0, le=1_000_000, allow_inf_nan=False),
    end: LocalInstant | None = None,
) -> dict[str, Any]:
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise Problem(
            422, "Instant without offset", "start and end must carry an offset (e.g. +07:00)", "invalid-value"
        )
    cal = container.calendar
    if hours is not None and end is None:
        return {
            "start": start.isoformat(),
            "hours": hours,
            "due_at": cal.add_working_hours(start, hours).isoformat(),
        }
    if end is not None and hours is None:
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "working_hours": round(cal.working_hours_between(start, end), 6),
        }
    raise Problem(
        422, "Give hours or end", "pass exactly one of `hours` or `end` with `start`", "invalid-value"
    )


@router.get("/healthz", **answers(schemas.Health))
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses={
        200: {"model": schemas.Readiness},
        503: {"model": schemas.Readiness, "description": "the event store is unreachable"},
    },
)
def readyz(container: ContainerDep, response: Response) -> dict[str, Any]:
    ok = container.store.is_reachable()
    response.status_code = 200 if ok else 503
    return {
        "status": "ready" if ok else "event store unreachable",
        "event_store": "ok" if ok else "unreachable",
        "kafka": container.feed.describe(),  # reported, never a reason to be unready
        "view_position": container.view_position(),
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(container: ContainerDep) -> Response:
    """Prometheus text format (the series are described in gateways/metrics.py)."""
    return Response(container.metrics.render(), media_type=CONTENT_TYPE)
