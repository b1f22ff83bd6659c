"""Several processes starting at once on a new PostgreSQL database all come up: the
schema statements (the event store's and the views') are serialised by an advisory lock,
so none fails with "tuple concurrently updated" (as `stream --processes N` and
`projections rebuild --workers N` start)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateways.bootstrap import bootstrap
from gateways.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def start(url: str, data_dir: str, barrier: Any) -> str:
    settings = Settings(
        data_dir=Path(data_dir), event_store_url=url, jwt_secret="test-secret-of-at-least-thirty-two-bytes"
    )
    barrier.wait(timeout=120)
    container = bootstrap(settings)
    try:
        return str(len(container.runners))
    finally:
        container.close()


def test_four_processes_starting_together_on_a_new_database(
    tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(2):
        url = pg_database()
        with ctx.Manager() as manager:
            barrier = manager.Barrier(4)
            with ctx.Pool(4) as pool:
                results = [
                    pool.apply_async(start, (url, str(tmp_path / f"r{round_}p{i}"), barrier))
                    for i in range(4)
                ]
                answers = [r.get(timeout=300) for r in results]
        assert len(set(answers)) == 1 and int(answers[0]) > 0
