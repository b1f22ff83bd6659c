"""A fresh store holding a simulated province workload, for one benchmark run.

Each run gets its own data directory (a fresh folder under var/bench) and, on PostgreSQL, its own
database (dropped when the run ends), so runs never see each other's rows. The workload
is the `province` profile of `lienthong simulate`, sized to about `events` events.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateways.bootstrap import Container, bootstrap
from gateways.settings import Settings
from gateways.simulation.engine import Tally
from gateways.simulation.profiles import Profile, province
from gateways.simulation.run import run_simulation, simulation_for
from gateways.simulation.sinks import StoreSink
from gateways.sql import drop_database

log = logging.getLogger(__name__)

# What a province dossier averages after the reform (mostly commune-only procedures).
EVENTS_PER_DOSSIER = 5.4
SEED = 2025


def bench_dir(settings: Settings) -> Path:
    return settings.data_dir / "bench"


def workload_profile(events: int, communes: int | None = None, until: date | None = None) -> Profile:
    """The province profile sized to about `events`; with `until`, its 4.5 months end that day."""
    chosen = province(2025).sized(max(1, round(events / EVENTS_PER_DOSSIER)))
    if communes is not None:
        chosen = replace(chosen, communes=communes, districts=min(chosen.districts, communes))
    if until is not None:
        chosen = replace(chosen, start=until - (chosen.end - chosen.start), end=until)
    return chosen


def derive(settings: Settings, **changes: Any) -> Settings:
    """New settings with `changes` (not `model_copy`, which would keep resolved store URLs)."""
    return Settings(**{**settings.model_dump(), **changes})


def _fresh_postgres(url: str) -> str:
    import psycopg

    name = f"lt_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str) -> None:
    if not drop_database(url):
        name = url.rsplit("/", 1)[1]
        log.warning("benchmark database %s left behind: another role's session holds it", name)


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in ("postgresql", "postgres")


@dataclass
class Workbench:
    settings: Settings  # the run's own settings (data dir, stores, topic prefix)
    container: Container
    work: Path
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0  # time taken to write the workload
    _fresh_db: str | None = None

    @property
    def events(self) -> int:
        return self.tally.events

    @property
    def store_kind(self) -> str:
        return "postgresql" if is_postgres(self.settings.resolved_event_store_url) else "sqlite"

    def close(self) -> None:
        self.container.close()
        if self._fresh_db:
            _drop_postgres(self._fresh_db)
        if self.settings.kafka_bootstrap:
            _delete_topics(self.settings.kafka_bootstrap, self.settings.kafka_topic_prefix)
        shutil.rmtree(self.work, ignore_errors=True)


def _delete_topics(bootstrap: str, prefix: str) -> None:
    """The run's topics (and the raw baseline's, `<prefix>raw.…`) go with the run, as its store
    does: each run made up to eight topics with a fresh prefix and left them on the broker."""
    from gateways.kafka.topics import delete_prefixed

    try:
        asyncio.run(delete_prefixed(bootstrap, prefix))
    except Exception as exc:  # the result stands; say what is left behind
        log.warning("bench: could not delete the topics %s* on %s: %s", prefix, bootstrap, exc)


def workbench(
    settings: Settings,
    events: int,
    *,
    store_url: str | None = None,
    kafka: str | None = None,
    communes: int | None = None,
    open_today: bool = False,
) -> Workbench:
    """A fresh store holding about `events` simulated events; views not fed yet.

    With `kafka`, the run's topics get a fresh prefix and the in-process feed is off (the
    projectors feed the views); without it, views follow in process when asked. With
    `open_today`, the period ends today, so the latest dossiers are still in process.
    """
    work = bench_dir(settings) / "work" / uuid.uuid4().hex[:8]
    work.mkdir(parents=True, exist_ok=True)
    fresh = _fresh_postgres(store_url) if store_url and is_postgres(store_url) else None
    local = derive(
        settings,
        data_dir=work,
        event_store_url=fresh or store_url or f"sqlite:///{work / 'events.sqlite'}",
        view_store_url="",
        kafka_bootstrap=kafka,
        kafka_topic_prefix=f"bench{uuid.uuid4().hex[:8]}",
        jwt_secret=settings.jwt_secret or uuid.uuid4().hex * 2,
    )
    try:
        container = bootstrap(local)
    except BaseException:  # the run's database goes with it, as Workbench.close drops it
        if fresh:
            _drop_postgres(fresh)
        shutil.rmtree(work, ignore_errors=True)
        raise
    bench = Workbench(local, container, work, _fresh_db=fresh)
    try:
        started = time.perf_counter()
        sink = StoreSink(container.writer, container.vault, container.service.now)
        now = container.service.now()
        until = now.date() + timedelta(days=1) if open_today else None
        simulation = simulation_for(
            workload_profile(events, communes, until),
            SEED,
            container.catalogue,
            sink,
            container.calendar,
            now if open_today else None,
        )
        bench.tally = run_simulation(simulation, sink)
        bench.seconds = time.perf_counter() - started
    except BaseException:
        bench.close()
        raise
    return bench
