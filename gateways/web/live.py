"""`GET /api/v1/events/stream`: server-sent events of new dossier events, for live pages.

The stream follows the event store's notification log from the client's last id
(`Last-Event-ID`, else `after`, else from now on), looks once a second, and sends
one `dossier-event` per new event with its notification id as the SSE `id`. It says
only which dossier moved and how — never a payload — and an officer or a supervisor
hears only of dossiers its agencies have a part in. A connection lasts a bounded
time and then ends; clients reconnect with `Last-Event-ID` and lose nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.eventstore.store import RecordedEvent
from gateways.http.deps import ContainerDep, PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["reads"])

POLL_SECONDS = 1.0
# Bounded per connection: a proxy or a server shutdown never waits long for a stream to end.
LIFETIME_SECONDS = 15.0
HEARTBEAT_SECONDS = 10.0
BATCH = 500
RETRY_MS = 2000


def _audience(container: Container, principal: Principal) -> set[str] | None:
    """The agencies whose dossiers the caller may hear of; None: every dossier."""
    if principal.role == "officer":
        return {principal.agency_code or ""}
    if principal.role == "supervisor":
        return container.catalogue.hierarchy.subtree_ever(principal.agency_code or "")
    return None


def _visible(
    container: Container, audience: set[str] | None, records: list[RecordedEvent]
) -> list[RecordedEvent]:
    if audience is None or not records:
        return records
    ids = sorted({r.dossier_id for r in records})
    marks = ",".join("?" * len(ids))
    rows = container.index.search([f"dossier_id IN ({marks})"], ids, len(ids), None)
    involved = {
        row.dossier_id
        for row in rows
        if audience & {row.holder_agency_code, row.receiving_agency_code, row.pending_handoff_to or ""}
    }
    return [r for r in records if r.dossier_id in involved]


def _message(record: RecordedEvent) -> str:
    e = record.envelope
    data = {
        "dossier_id": e["dossier_id"],
        "seq": e["seq"],
        "type": e["type"],
        "occurred_at": e["occurred_at"],
        "agency_code": e["agency_code"],
    }
    return f"id: {record.notification_id}\nevent: dossier-event\ndata: {orjson.dumps(data).decode()}\n\n"


# Notification ids are 64-bit integers in both stores.
MAX_POSITION = 2**63 - 1


def _start(container: Container, last_event_id: str | None, after: int | None) -> int:
    # An id this stream never gave (not a number, or past any notification id) is ignored.
    text = (last_event_id or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_POSITION:
        return int(text)
    if after is not None:
        return after
    return container.store.max_notification_id()


async def _events(
    request: Request, container: Container, principal: Principal, position: int
) -> AsyncIterator[str]:
    audience = await run_in_threadpool(_audience, container, principal)
    yield f'retry: {RETRY_MS}\nid: {position}\nevent: ready\ndata: {{"position": {position}}}\n\n'
    started = last_sent = time.monotonic()
    while time.monotonic() - started < LIFETIME_SECONDS:
        if await request.is_disconnected():
            return
        records = await run_in_threadpool(container.store.notifications, position, BATCH)
        if records:
            position = records[-1].notification_id or position
            shown = await run_in_threadpool(_visible, container, audience, records)
            chunk = "".join(_message(r) for r in shown)
            # The id moves on even when nothing was for this caller, so a reconnect skips it.
            chunk += f"id: {position}\n\n" if not shown or shown[-1] is not records[-1] else ""
            yield chunk
            last_sent = time.monotonic()
            if len(records) == BATCH:
                continue  # a backlog: read on without waiting
        elif time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one `dossier-event` per new event (id: its notification id), for a bounded time",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def events_stream(
    request: Request,
    principal: PrincipalDep,
    container: ContainerDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="notification id to start after")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events (`text/event-stream`) of dossier events recorded from now on."""
    position = await run_in_threadpool(_start, container, last_event_id, after)
    headers: dict[str, Any] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(request, container, principal, position), media_type="text/event-stream", headers=headers
    )
