"""A read goes to the thread pool for what may block only: the access check and the route.

FastAPI runs every plain `def` dependency in its thread pool, each a hand-off to a worker thread
and back to the event loop; on a loaded machine each one may wait for a core. The container and
the caller (a token's signature) are read on the event loop."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
import pytest
from starlette.concurrency import run_in_threadpool

from gateways.auth import issue_token
from gateways.http.app import create_app
from tests.conftest import FakeClock
from tests.serving import serve


def _name(func: Callable[..., Any], kwargs: dict[str, Any]) -> str:
    target = kwargs.get("function", func)  # an endpoint comes as `function=`
    target = target.func if isinstance(target, functools.partial) else target
    return str(getattr(target, "__name__", repr(target)))


def test_a_report_request_hands_off_to_the_thread_pool_for_the_access_check_and_the_route(
    make_container: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[str] = []

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        handed.append(_name(func, kwargs))
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", counted)
    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counted)
    container = make_container()
    token = issue_token(
        container.keyring.jwt_secret,
        role="inspector",
        sub="inspector",
        agency_code=None,
        now=clock(),
        ttl=timedelta(days=3650),  # read against the real clock
    )
    with serve(create_app(container)) as base, httpx.Client(base_url=base, timeout=20) as http:
        headers = {"Authorization": f"Bearer {token}"}
        for path, route in (
            ("/api/v1/reports/sla?group_by=procedure&from=2026-08-01&to=2026-08-28", "sla_report"),
            ("/api/v1/reports/bottlenecks?from=2026-08-01&to=2026-08-28", "bottlenecks"),
        ):
            handed.clear()
            response = http.get(path, headers=headers)
            assert response.status_code == 200, response.text
            assert handed == ["enforce", route], path
