"""`bench import`: file events/s of `lienthong import-xes` against PM4Py reading the same file.

Two files, each imported into a fresh, empty store (a fresh folder, or a fresh database on
the PostgreSQL server given with `--store-url`):

- the real receipt-phase log of `--xes` (default: `receipt.xes` of the shared data folder
  beside the repository; 8,577 events in 1,434 traces);
- a simulated log of about `events` events: `lienthong simulate`'s province profile
  (gateways/bench/workload.py) exported with `lienthong export xes`.

Measured: the importer of `lienthong import-xes` (`import_xes`, its bulk path: check the
file, parse, map, decide each trace at once, append 200 traces per transaction through the
writer; where there are two cores, decided and encoded in forked workers, see
`gateways.interchange.xes_shards`), from the first byte read to the last commit, with the
views fed by other processes (as with Kafka; in the embedded mode the CLI brings the views
up to date afterwards). Rate = events in the
file / seconds. The baseline, in the same run and on the same file: `pm4py.read_xes` (its
default reader) into a dataframe. Each file is read once by PM4Py untimed (its first read
after other work is slow), then read by PM4Py and imported, in rounds (three on the real log,
one on the simulated one); the best time of each counts. PM4Py is the optional extra `[mining]`.

Each round also measures the floor (gateways/bench/import_floor.py): the file read bare and
typed, and the import's own rows written again into a fresh store; its ceilings say how far
an import doing only that could get against PM4Py, so the gap between them and the ratio is
the import's own work (mapping, deciding, encoding).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateways.bench import BenchUnavailable
from gateways.bench.append import durability
from gateways.bench.import_floor import ImportFloor, best, read_seconds, write_seconds
from gateways.bench.report import BenchResult
from gateways.bench.workload import _drop_postgres, _fresh_postgres, bench_dir, derive, is_postgres, workbench
from gateways.bootstrap import Container, bootstrap
from gateways.interchange.export import ExportFormat, export
from gateways.interchange.selection import Selection
from gateways.interchange.xes import typed_reader
from gateways.interchange.xes_import import FLUSH_EVERY, import_xes
from gateways.interchange.xes_report import ImportReport
from gateways.interchange.xes_shards import default_workers
from gateways.settings import Settings

FILE_ROUNDS = 3  # the real log (receipt.xes, or --xes) takes seconds a round: best of three
REPO = Path(__file__).resolve().parents[2]
RECEIPT_XES = REPO.parent / "shared" / "data" / "receipt.xes"


@dataclass(frozen=True)
class FileRun:
    label: str
    path: Path
    report: ImportReport
    rounds: list[tuple[float, float]]  # (PM4Py's seconds, the import's seconds), in order
    pm4py_events: int
    floor: ImportFloor  # the best of each round's (gateways/bench/import_floor.py)

    @property
    def seconds(self) -> float:
        return min(imported for _read, imported in self.rounds)

    @property
    def pm4py_seconds(self) -> float:
        return min(read for read, _imported in self.rounds)

    @property
    def rate(self) -> float:
        return self.report.events_read / self.seconds

    @property
    def pm4py_rate(self) -> float:
        return self.report.events_read / self.pm4py_seconds

    def as_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "file": self.path.name,
            "xes_bytes": self.path.stat().st_size,
            "file_events": r.events_read,
            "traces": r.traces_read,
            "events_written": r.events_written,
            "synthesized": r.synthesized,
            "import_seconds": round(self.seconds, 3),
            "file_events_per_s": round(self.rate, 1),
            "written_events_per_s": round(r.events_written / self.seconds, 1),
            "pm4py_seconds": round(self.pm4py_seconds, 3),
            "pm4py_events_per_s": round(self.pm4py_rate, 1),
            "pm4py_events": self.pm4py_events,
            "rounds": [{"pm4py_seconds": round(a, 3), "import_seconds": round(b, 3)} for a, b in self.rounds],
            "ratio": round(self.rate / self.pm4py_rate, 4),
            "dossiers_created": r.dossiers_created,
            "skipped": r.skipped_existing,
            "floor": self.floor.as_json(self.pm4py_seconds),
        }


@contextlib.contextmanager
def fresh_store(settings: Settings, store_url: str | None, work: Path) -> Iterator[Container]:
    """An empty store for one import; views out of process (nothing follows the writer)."""
    work.mkdir(parents=True, exist_ok=True)
    fresh = _fresh_postgres(store_url) if store_url and is_postgres(store_url) else None
    local = derive(
        settings,
        data_dir=work,
        event_store_url=fresh or f"sqlite:///{work / 'events.sqlite'}",
        view_store_url="",
        kafka_bootstrap=None,
        jwt_secret=settings.jwt_secret or uuid.uuid4().hex * 2,
    )
    try:
        container = bootstrap(local)
        try:
            container.writer.after_commit = None  # as with Kafka: the views are fed by other processes
            yield container
        finally:
            container.close()
    finally:
        if fresh:  # also when the store could not be opened
            _drop_postgres(fresh)


def pm4py_read(path: Path) -> tuple[float, int]:
    """Seconds `pm4py.read_xes` takes on `path`, and the events it read."""
    import pm4py

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its advice to install a faster optional reader
        log = pm4py.read_xes(str(path), show_progress_bar=False)
    return time.perf_counter() - started, len(log)


def measure(
    label: str,
    path: Path,
    settings: Settings,
    store_url: str | None,
    work: Path,
    workers: int,
    rounds: int = 1,
) -> FileRun:
    """An untimed read by PM4Py, then `rounds` times: PM4Py reads the file, then it is
    imported into a fresh store; the best time of each. PM4Py's first read in a process that
    has just done other work (the simulation and export, an import) was the slowest,
    0.44–0.62 s on receipt.xes where its later reads and a fresh process's first took
    0.30–0.43 s (docs/decisions.md, entry 145)."""
    path.read_bytes()  # both readers start from the page cache
    pm4py_read(path)
    times: list[tuple[float, float]] = []
    floors: list[ImportFloor] = []
    report = None
    for turn in range(rounds):
        pm4py_seconds, pm4py_events = pm4py_read(path)
        with fresh_store(settings, store_url, work / str(turn)) as container:
            started = time.perf_counter()
            report = import_xes(path, container.service, workers=workers)
            seconds = time.perf_counter() - started
            # The floor: the same rows written again into a fresh store, then the file read.
            with fresh_store(settings, store_url, work / f"{turn}-floor") as target:
                written, rows = write_seconds(container.store, target.store, FLUSH_EVERY)
        bare, typed = read_seconds(path)
        times.append((pm4py_seconds, seconds))
        floors.append(ImportFloor(bare, typed, written, rows))
        if report.events_read == 0:
            raise RuntimeError(f"{path} holds no events")
    assert report is not None
    return FileRun(label, path, report, times, pm4py_events, best(floors))


def simulated_xes(settings: Settings, events: int, store_url: str | None, out: Path) -> int:
    """Simulate about `events` events into a scratch store and export them as XES to `out`."""
    bench = workbench(settings, events, store_url=store_url)
    try:
        with out.open("w", encoding="utf-8", newline="") as stream:
            summary = export(
                ExportFormat.XES, stream, bench.container.store, bench.container.catalogue, Selection()
            )
        return summary.events
    finally:
        bench.close()


def bench_import(
    settings: Settings,
    events: int,
    store_url: str | None = None,
    xes: Path | None = None,
    workers: int | None = None,
) -> BenchResult:
    """`workers`: as `import_xes` takes it; default, what an import would use now (decided
    once, for both files, before the first)."""
    try:
        import pm4py  # noqa: F401
    except ImportError as exc:
        raise BenchUnavailable("skipped: install .[mining] (PM4Py) to run the import benchmark") from exc
    receipt = xes or RECEIPT_XES
    if not receipt.is_file():
        raise BenchUnavailable(f"skipped: no XES file at {receipt} (give one with --xes FILE)")
    work = bench_dir(settings) / "work" / uuid.uuid4().hex[:8]
    work.mkdir(parents=True, exist_ok=True)
    try:
        simulated = work / "simulated.xes"
        exported = simulated_xes(settings, events, store_url, simulated)
        load = os.getloadavg()[0]
        chosen = default_workers() if workers is None else workers
        runs = [
            measure("file", receipt, settings, store_url, work / "import-file", chosen, rounds=FILE_ROUNDS),
            measure("simulated", simulated, settings, store_url, work / "import-simulated", chosen),
        ]
        head = runs[0]
        files = {run.label: run.as_json() for run in runs}
        store = "postgresql" if store_url and is_postgres(store_url) else "sqlite"
        return BenchResult(
            name="import",
            value=head.rate,
            unit="file events/s",
            baseline=head.pm4py_rate,
            target_ratio=1.0,
            params={
                "file": receipt.name,
                "simulated_events": exported,
                "headline": f"{receipt.name} (every file's figures under 'files')",
                "store": store,
                "durability": durability(store),
                "traces_per_transaction": FLUSH_EVERY,
                "path": (
                    f"bulk, each trace decided at once; decided and encoded in {chosen} forked "
                    f"worker{'s' if chosen > 1 else ''}, committed by the importing process"
                    if chosen
                    else "bulk, each trace decided at once, in the importing process"
                ),
                "load_average_before": round(load, 2),
                "views": "out of process (as with Kafka)",
                "baseline": "pm4py.read_xes of the same file, default reader",
                "rounds": (
                    f"an untimed read by PM4Py, then {FILE_ROUNDS} rounds on {receipt.name} and 1 on "
                    "the simulated log of PM4Py reading, then the import; the best time of each"
                ),
                "pm4py": _pm4py_version(),
                "reader": typed_reader(),  # the import's typed read: C where it was built, else lxml
                "floor": (
                    "per file: the bare read (check_well_formed), the typed read (XesLog) and the import's "
                    "rows written again into a fresh store; ceiling_ratio = PM4Py / (bare read + "
                    "write), overlapped_ceiling_ratio = PM4Py / max(bare read, write)"
                ),
            },
            extra={
                "files": files,
                "all_targets_met": all(run.rate >= run.pm4py_rate for run in runs),
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pm4py_version() -> dict[str, Any]:
    import pm4py
    from pm4py.util import constants

    return {"version": getattr(pm4py, "__version__", "?"), "xes_reader": constants.DEFAULT_XES_PARSER}
