"""Fixtures of the integration tests that run against the real broker and PostgreSQL: a topic
prefix of the test's own, worker processes, containers closed afterwards, PostgreSQL databases
(fresh, or cloned from a template seeded once per run)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer

from gateways.bootstrap import Container, bootstrap
from gateways.interchange import cli
from gateways.kafka.topics import Topics
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.simulation.bulk import bulk_seed
from tests.conftest import PG_URL
from tests.integration.kafka_support import (
    CRASH_DOSSIERS,
    SECRET,
    Workers,
    _admin,
    _drop,
    _url,
    copy_events,
    delete_topics,
    new_prefix,
)


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A topic prefix of the test's own; its topics leave the shared broker afterwards."""
    name = new_prefix()
    yield name
    asyncio.run(delete_topics(kafka_bootstrap, Topics.with_prefix(name)))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        for worker in pool.started:
            worker.kill()


@pytest.fixture
def containers(pg_database: Callable[..., str]) -> Iterator[Callable[[Settings], Container]]:
    """Containers closed after the test, before the databases of `pg_database` go."""
    made: list[Container] = []

    def make(settings: Settings) -> Container:
        container = bootstrap(settings)
        made.append(container)
        return container

    yield make
    for container in made:
        container.close()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database with CRASH_DOSSIERS walked dossiers, cloned by each crash test.
    Seeded once per run (the seeding is the slowest set-up of the suite): no test writes to it,
    each works on its own copy (`pg_database(seeded_template)`)."""
    if not PG_URL:
        pytest.fail(
            "LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL"
        )
    tmp = tmp_path_factory.mktemp("seed")
    source = bootstrap(
        Settings(data_dir=tmp, event_store_url=f"sqlite:///{tmp / 'seed.sqlite'}", jwt_secret=SECRET)
    )
    name = f"lt_tpl_{uuid.uuid4().hex[:10]}"
    try:
        try:
            _admin(f'CREATE DATABASE "{name}"')
            target = bootstrap(Settings(data_dir=tmp, event_store_url=_url(name), jwt_secret=SECRET))
        except BaseException:
            source.close()
            raise
        try:
            started = time.perf_counter()
            seeded = bulk_seed(source, CRASH_DOSSIERS)
            seeded_in = time.perf_counter() - started
            load_catalogue(target.catalogue)
            assert copy_events(source.store, target.store) == seeded.events >= 50_000
            print(
                f"seeded {seeded.events} events in {seeded_in:.1f}s (SQLite), "
                f"copied to PostgreSQL in {time.perf_counter() - started - seeded_in:.1f}s"
            )
        finally:
            source.close()
            target.close()
        yield name
    finally:
        _drop(name)  # also when the seeding failed half-way: the template goes with the run


@pytest.fixture
def interchange_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """`lienthong import-xes` and `lienthong export` as the command line runs them, on an
    embedded store under `tmp_path / "var"` (no environment file, no Kafka)."""
    monkeypatch.setenv("LIENTHONG_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", SECRET)
    monkeypatch.delenv("LIENTHONG_EVENT_STORE_URL", raising=False)
    monkeypatch.delenv("LIENTHONG_KAFKA_BOOTSTRAP", raising=False)
    app = typer.Typer()
    app.command("import-xes")(cli.import_xes)
    app.command("export")(cli.export)
    return app
