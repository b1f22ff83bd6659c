"""Shared fixtures: a settable clock and containers on real stores."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateways.bootstrap import Container, bootstrap
from gateways.settings import Settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PG_URL = os.environ.get("LIENTHONG_TEST_PG_URL", "")


class FakeClock:
    """The time the gateway believes it is; tests move it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, text: str) -> None:
        self.at = datetime.fromisoformat(text)


# Where `clock` starts: the instant the containers of `make_container` believe it is.
CLOCK_START = datetime(2026, 8, 28, 14, 0, tzinfo=VN)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CLOCK_START)


def _pg_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _require_pg() -> None:
    if not PG_URL:
        pytest.fail(
            "LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL"
        )


@pytest.fixture
def pg_database() -> Iterator[Callable[..., str]]:
    """Fresh PostgreSQL databases on the shared server (optionally copies of a template), each
    dropped once the test is over, whether it passed or not. The only way tests make one: a
    database made otherwise stayed on the server after every run."""
    import psycopg

    from gateways.sql import drop_database

    names: list[str] = []

    def make(template: str | None = None) -> str:
        _require_pg()
        name = f"lt_{uuid.uuid4().hex[:12]}"
        names.append(name)  # before it exists: a CREATE that fails half-way is dropped too
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return _pg_url(name)

    yield make
    for name in names:
        if not drop_database(_pg_url(name)):
            warnings.warn(f"test database {name} left behind: another role's session holds it", stacklevel=1)


BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration])]


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: Callable[..., str]) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.sqlite'}"
    return pg_database()


@pytest.fixture
def make_container(tmp_path: Path, clock: FakeClock, pg_database: Callable[..., str]) -> Iterator[object]:
    # pg_database is set up first, so torn down last: its databases go once the containers on
    # them are closed.
    made: list[Container] = []

    def make(url: str | None = None) -> Container:
        settings = Settings(
            data_dir=tmp_path / "var",
            event_store_url=url or "",
            jwt_secret="test-secret-of-at-least-thirty-two-bytes",
        )
        container = bootstrap(settings, clock=clock)
        made.append(container)
        return container

    yield make
    for container in made:
        container.close()


KAFKA = os.environ.get("LIENTHONG_TEST_KAFKA", "")


@pytest.fixture
def kafka_bootstrap() -> str:
    """The real broker started by deploy/kafka (make test)."""
    if not KAFKA:
        pytest.fail("LIENTHONG_TEST_KAFKA is not set: run the suite with `make test`, which starts Kafka")
    return KAFKA
