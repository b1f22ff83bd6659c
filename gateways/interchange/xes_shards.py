"""The bulk import on several cores: forked workers decide and encode, this process commits.

The same import as `BulkXesImporter` (`gateways.interchange.xes_bulk`), stored row for row
the same, with the work spread over processes:

- `workers` processes are forked once the importer is set up (the catalogue read, the
  writer ready), so they start with nothing to import. Each reads the whole file itself
  and takes the batches of `flush_every` traces whose number falls to it (batch i to
  worker i mod n): for those it decides every trace (`domain.legacy_import`) and encodes
  its stream into the stored envelopes (`gateways.eventstore.store.encode_rows`: event ids,
  payloads, the hash chain from the genesis hash, as the writer would). A new dossier's
  stream is a chain of its own, so a worker needs nothing from another to encode it.
- What depends on the traces before — the case ids given to repeated trace names, which
  group gets which agency code, the agencies and the procedure the import adds, the
  deadline read off the first batch, which dossiers this run already decided — every
  worker works out for every trace, in the log's order, with the same code as the
  single-process import: so all of them agree without talking to each other. They only
  skip, for the batches of others, the deciding of each event and the encoding.
- A worker writes nothing. It holds the catalogue in memory (`_CatalogueCopy`, copied at
  the fork) and hands the agencies and procedure it added during each batch of its own to
  this process with the batch's encoded rows and report. This process, after the check
  pass (`check_well_formed`, run while the workers parse), takes the batches in order — batch 0
  from worker 0, batch 1 from worker 1, … — writes the catalogue's additions, then hands
  the encoded rows to the store's one writer (one transaction per batch, one batch in
  flight while the next is received): notification ids rise in commit order as before.
- Which dossiers exist already (a re-import) each worker asks the store through a
  connection of its own (the inherited ones are never touched in a worker), as the store
  stood when the run began: the importing process may have committed a batch the worker has
  not followed yet, and following it needs its groups mapped as if it were new.

Each worker reads the whole log, but follows a trace of another's batch only as far as it
changes something for the traces after it (`_inert`, `_follow`): a group, an agency a replayed
handoff names or a procedure met for the first time. Whether the rules take such a trace (its
dossier made) matters only if a later trace names the same dossier, which only a lienthong
export's dossier ids can: such a trace is remembered and decided only then (`_was_decided`), so
a later trace naming it is skipped exactly when the single-process import skips it. Two workers
cost about what one costs: `default_workers` uses two wherever there are two cores.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import multiprocessing
import os
import pickle
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import StoredEvent

from domain.agencies import Agency, Hierarchy
from domain.decide import decide
from domain.errors import DomainError
from domain.legacy_import import DecidedTrace, open_trace
from domain.procedures import Procedure, version_on
from gateways.application.service import DossierService
from gateways.application.writer import BulkJob
from gateways.eventstore.store import (
    GENESIS_HASH,
    Encoded,
    EventStore,
    RecordedEvent,
    StreamAppend,
    encode_rows,
)
from gateways.interchange.mapping import GroupMapping
from gateways.interchange.xes import GROUP, LIENTHONG_PREFIX, XesLog, check_well_formed, no_trace, typed_text
from gateways.interchange.xes_bulk import BulkXesImporter
from gateways.interchange.xes_child import _widen
from gateways.interchange.xes_import import (
    _UNKNOWN,
    EXPORTED_TYPE,
    FLUSH_EVERY,
    UNRECORDED,
    XesImporter,
    _Case,
    _draining,
    _exported_dossier_id,
    _Step,
    after_receipt,
    procedure_code_for,
)
from gateways.interchange.xes_lifecycle import handoff_target
from gateways.interchange.xes_report import ImportReport, add_counts

WORKERS = 2  # processes deciding and encoding, where a core is free for them
# A batch of `flush_every` traces is shared out in this many parts, taken in turn by the
# workers (finer parts even their loads: 1,434 traces in batches of 200 went 800 to 634) and
# committed together, one transaction per batch as in one process.
SHARES_PER_FLUSH = 4
NAMED_PROCEDURE = LIENTHONG_PREFIX + "procedure"  # an exported trace's procedure

# One encoded stream as it crosses the pipe: dossier id, then (type, envelope bytes) per event.
PlainStream = tuple[str, list[tuple[str, bytes]]]
# A catalogue addition: ("agency", Agency) or ("procedure", Procedure).
Addition = tuple[str, Any]


class _Hierarchy(Hierarchy):
    """A hierarchy an agency can be added to (a worker's copy)."""

    def add(self, agency: Agency) -> None:
        history = self._versions.setdefault(agency.code, [])
        history.append(agency)
        history.sort(key=lambda a: a.valid_from or date.min)


class _CatalogueCopy:
    """The catalogue as a worker sees it: what it held at the fork, in memory, plus what the
    import adds, which is logged (`added`) for the importing process to write."""

    def __init__(self, agencies: list[Agency], procedures: dict[str, list[Procedure]]) -> None:
        self.hierarchy = _Hierarchy(agencies)
        self._procedures = procedures
        self.added: list[Addition] = []

    def procedure(self, code: str, on: date | None = None) -> Procedure | None:
        versions = self._procedures.get(code)
        if not versions:
            return None
        return versions[-1] if on is None else version_on(versions, on)

    def put_agency(self, agency: Agency, *, legacy: bool = False) -> bool:
        self.hierarchy.add(agency)  # every agency an import adds is a legacy unit (written so)
        self.added.append(("agency", agency))
        return True

    def put_procedure(self, procedure: Procedure) -> bool:
        versions = self._procedures.setdefault(procedure.code, [])
        versions.append(procedure)
        versions.sort(key=lambda p: p.valid_from or date.min)
        self.added.append(("procedure", procedure))
        return True


def default_workers() -> int:
    """`WORKERS` where fork exists and the machine has two cores or more, else 0 (the import
    stays in this process).

    Each worker reads the whole log and looks at every trace, but follows another's trace only
    as far as it changes something for the traces after it (a group, an agency or a procedure
    met for the first time, a dossier a lienthong export names): two workers cost about what
    one costs, and finish sooner even with a core busy elsewhere (docs/decisions.md, entry
    238; measured in docs/benchmarks.md, "Bulk import: the target met")."""
    cores = os.cpu_count() or 1
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return WORKERS


def can_shard(service: DossierService) -> bool:
    """Workers can reach the store on their own: an event store at a URL another connection
    opens (not a SQLite database in this process's memory)."""
    store = service.store
    return isinstance(store, EventStore) and ":memory:" not in store.url


class ShardedXesImporter(BulkXesImporter):
    """One import run over `workers` forked processes; `report` says what it did (the same
    report as `BulkXesImporter`'s; `progress` is told after each batch)."""

    def __init__(
        self,
        service: DossierService,
        mapping: GroupMapping | None = None,
        progress: Callable[[ImportReport], None] | None = None,
        flush_every: int = FLUSH_EVERY,
        *,
        workers: int = WORKERS,
        zone: tzinfo | None = None,
    ) -> None:
        super().__init__(service, mapping, progress, flush_every, read_in_child=False, zone=zone)
        self.workers = max(1, workers)
        # In a worker: whether the batch is its own, the dossiers decided so far in this run,
        # the streams of its batch, its copy of the catalogue.
        self._own = True
        self._decided: set[str] = set()
        # Another worker's traces followed, not yet known to be taken by the rules, whose
        # dossier a later trace may name: dossier -> what `_opens` asks, worked out then.
        self._unsure: dict[str, tuple[XesLog, _Case]] = {}
        self._streams: list[PlainStream] = []
        self._stamp: datetime | None = None
        self._copy: _CatalogueCopy | None = None
        self._upto = 0  # the last notification id before this run
        self._store: EventStore | None = None  # a worker's own connection

    # --- this process ----------------------------------------------------------------------
    def _run(self, path: Path) -> ImportReport:
        started = time.perf_counter()
        catalogue = self.service.catalogue
        agencies = list(catalogue.hierarchy)
        procedures = {p.code: catalogue.procedure_versions(p.code) for p in catalogue.procedures()}
        # What existed before this run: a worker asks the store while this process writes.
        store = self.service.store
        assert isinstance(store, EventStore)
        self._upto = store.max_notification_id()
        context = multiprocessing.get_context("fork")
        ends: list[Connection] = []
        children = []
        try:
            for shard in range(self.workers):
                receive, send = context.Pipe(duplex=False)
                _widen(send)
                child = context.Process(
                    target=self._work, args=(path, shard, send, agencies, procedures), daemon=True
                )
                child.start()
                send.close()  # the worker's end: EOF here if it dies
                ends.append(receive)
                children.append(child)
            check_well_formed(path)  # while the workers parse: a file that is not XES writes nothing
            name = self._commit_batches(path, ends)
        finally:
            for end in ends:
                end.close()
            for child in children:
                if child.is_alive():
                    child.kill()
                child.join()
        report = self.report
        if report.traces_read == 0:
            raise no_trace(path)  # nothing was written: a log of no trace is no log to import
        report.log_name = name
        report.procedure_code = report.procedure_code or procedure_code_for(name)
        report.seconds = time.perf_counter() - started
        return report

    def _commit_batches(self, path: Path, ends: list[Connection]) -> str:
        """Each batch, in order, to the writer; the log's name once every worker ended."""
        report = self.report
        writer = self.service.writer
        in_flight = None
        pending: list[Encoded] = []  # the share batches received since the last transaction
        for index in itertools.count():
            message = _receive(path, ends[index % len(ends)])
            if message[0] == "end":
                break
            _kind, added, delta, sent = message
            self._add_to_catalogue(added)
            _merge(report, delta)
            pending.extend(_encoded(marshal.loads(sent), envelopes=writer.after_commit is not None))
            if (index + 1) % SHARES_PER_FLUSH == 0 and pending:
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(BulkJob([], None, encoded=pending, answer=False))
                pending = []
            if self.progress is not None:
                self.progress(report)
        if in_flight is not None:
            in_flight.result()
        if pending:
            writer.submit(BulkJob([], None, encoded=pending, answer=False)).result()
        attributes, problems = message[1], message[2]
        for end in ends[: index % len(ends)] + ends[index % len(ends) + 1 :]:
            _receive(path, end)  # the others' ends: they read the same log
        report.unmapped.update(problems)
        return XesLog(path, attributes=attributes).name

    def _add_to_catalogue(self, added: list[Addition]) -> None:
        catalogue = self.service.catalogue
        for kind, item in added:
            if kind == "agency":
                catalogue.put_agency(item, legacy=True)
                self.report.agencies_created.append(item.code)
            else:
                catalogue.put_procedure(item)

    # --- a worker ----------------------------------------------------------------------------
    def _work(
        self,
        path: Path,
        shard: int,
        out: Connection,
        agencies: list[Agency],
        procedures: dict[str, list[Procedure]],
    ) -> None:
        """In the forked worker: decide and encode batches shard, shard + n, …; send each."""
        try:
            service = self.service
            assert isinstance(service.store, EventStore)
            self._store = EventStore(service.store.url, create_tables=False)
            self._copy = service.catalogue = _CatalogueCopy(agencies, procedures)  # type: ignore[assignment]
            service.buffered = self._was_decided  # type: ignore[method-assign]
            log = XesLog(path)
            traces = log.traces()
            # The deadline is read off the first `flush_every` traces, as in one process.
            head = list(itertools.islice(traces, self.flush_every))
            self._deadline = self._deadline_hours(head)
            traces = itertools.chain(head, traces)
            del head
            share = -(-self.flush_every // SHARES_PER_FLUSH)
            for index in itertools.count():
                chunk = deque(itertools.islice(traces, share))
                if not chunk:
                    break
                own = self._own = index % self.workers == shard
                self._batch(log, chunk)
                if own:
                    out.send(("batch", self._copy.added, self.report, marshal.dumps(self._encode())))
            out.send(("end", log.attributes, log.problems))
        except BaseException as exc:
            out.send(("error", _portable(exc), None))
        finally:
            out.close()
            if self._store is not None:
                self._store.close()

    def _batch(self, log: XesLog, chunk: deque[Any]) -> None:
        assert self._copy is not None
        self._copy.added = []
        self.report = ImportReport()  # a batch's report; another worker's batch's is dropped
        self._streams = []
        self._stamp = self.service.now()  # every stream of the batch recorded at one time
        cases = deque(self._case(log, trace) for trace in _draining(chunk))
        assert self._store is not None
        self._existing = self._store.existing([c.dossier_id for c in cases], upto=self._upto)
        for case in _draining(cases):
            self.report.log_name = log.name
            self._trace(log, case)

    def _encode(self) -> list[PlainStream]:
        """The batch's streams, encoded as each trace was kept."""
        out, self._streams = self._streams, []
        return out

    def _trace(self, log: XesLog, case: _Case) -> None:
        if self._own or not self._inert(log, case):
            super()._trace(log, case)

    def _inert(self, log: XesLog, case: _Case) -> bool:
        """Whether following another worker's trace would change nothing for the traces after
        it: every group it names and every agency its replayed handoffs name known already,
        received under a procedure known already (the common case once a log's first traces
        are read: most of a log is followed at the cost of a look at its events). A dossier a
        lienthong export names, which a later trace may name again, is then remembered as the
        trace: what the rules say of it is worked out only if that trace comes."""
        trace = case.trace
        named = (trace.text(NAMED_PROCEDURE) or "").strip()
        kept = self._named.get(named) if named else False
        if kept is None:
            return False
        if (named if kept else procedure_code_for(log.name)) not in self._procedures:
            return False
        groups, codes = self._groups, self._codes
        unit = False
        for event in trace.events:
            typed = event.typed
            if EXPORTED_TYPE in typed and (target := handoff_target(event)) and target not in codes:
                return False
            value = typed_text(typed, GROUP)
            if value is not None:
                known = groups.get(value, _UNKNOWN)
                if known is _UNKNOWN:
                    return False
                unit = unit or known is not None
        if not unit and UNRECORDED.code not in self.service.catalogue.hierarchy:
            return False
        if _exported_dossier_id(trace) is not None:
            self._unsure[case.dossier_id] = (log, case)
        return True

    def _replay_trace(self, log: XesLog, case: _Case, steps: list[_Step], desk: str) -> None:
        if self._own:
            super()._replay_trace(log, case, steps, desk)
        else:
            self._follow(log, case, steps, desk)

    def _was_decided(self, dossier_id: str) -> bool:
        """Decided earlier in this run (by this worker or, as far as it follows, another)."""
        if dossier_id in self._decided:
            return True
        unsure = self._unsure.pop(dossier_id, None)
        if unsure is None or not self._opens(*unsure):
            return False
        self._decided.add(dossier_id)
        return True

    def _keep(self, dossier_id: str, decided: DecidedTrace) -> None:
        """The trace encoded at once (`OversizedEvent` if an event is too large to store; its
        dossier still counts as decided, as a worker following the trace takes it)."""
        self._decided.add(dossier_id)
        append = StreamAppend(dossier_id, 0, GENESIS_HASH, decided.events)
        self._streams.append((dossier_id, encode_rows(append, self._stamp)))

    def _follow(self, log: XesLog, case: _Case, steps: list[_Step], desk: str) -> None:
        """Another worker's trace: what its import changes for the traces after it, without
        deciding it: the procedure it is received under and the agencies its replayed handoffs
        name (added whatever the rules say of the trace, as its owner adds them). Whether the
        rules take it (its dossier made) is worked out only if a later trace names its dossier
        (`_was_decided`): only a dossier a lienthong export names can come again (an id read off
        a case id is met once in a run: case ids are made unique)."""
        for step in after_receipt(steps):
            if target := handoff_target(step.event):
                self._agency_code(target)
        self._procedure_for(log, case.trace, desk)
        if _exported_dossier_id(case.trace) is not None:
            self._unsure[case.dossier_id] = (log, case)

    def _opens(self, log: XesLog, case: _Case) -> bool:
        """Whether the rules take the trace's receipt and case record (its dossier is made):
        what the rules can refuse of a whole trace (`domain.legacy.record_trace` refuses a
        trace only where `record_case` refuses its case). The trace is read again as when it
        was followed (its groups known by then: nothing changes), counted in no report."""
        report, self.report = self.report, ImportReport()
        try:
            prepared = self._prepare(case)
        finally:
            self.report = report
        if prepared is None:
            return False
        steps, desk = prepared
        first = steps[0]
        try:
            receipt = self._receipt(log, case, desk, first, first.exported_type == "DossierReceived")
            opened = open_trace(receipt, self._calendar)
            decide(opened.state, self._case_command(case, first.at), self._calendar)
        except DomainError:
            return False
        return True


def _receive(path: Path, end: Connection) -> tuple[Any, ...]:
    try:
        message: tuple[Any, ...] = end.recv()
    except EOFError:
        raise RuntimeError(f"a process importing {path.name} ended unexpectedly") from None
    if message[0] == "error":
        raise _restored(message[1])
    return message


def _portable(exc: BaseException) -> bytes | str:
    """The exception pickled when it can be (raised again as it was), else its text."""
    with contextlib.suppress(Exception):
        pickled = pickle.dumps(exc)
        pickle.loads(pickled)
        return pickled
    return f"{type(exc).__name__}: {exc}"


def _restored(sent: bytes | str) -> BaseException:
    if isinstance(sent, bytes):
        restored: BaseException = pickle.loads(sent)
        return restored
    return RuntimeError(sent)


def _encoded(streams: list[PlainStream], *, envelopes: bool) -> list[Encoded]:
    """The writer's view of encoded streams (the envelopes decoded only for a follower of
    the writer that reads them: the views in process)."""
    out = []
    empty: dict[str, Any] = {}
    for dossier_id, events in streams:
        originator = uuid.UUID(dossier_id)
        records = []
        stored = []
        for seq, (topic, raw) in enumerate(events, start=1):
            records.append(RecordedEvent(orjson.loads(raw) if envelopes else empty, raw))
            stored.append(
                StoredEvent(originator_id=originator, originator_version=seq, topic=topic, state=raw)
            )
        out.append(Encoded(StreamAppend(dossier_id, 0, GENESIS_HASH, ()), records, stored))
    return out


def _merge(report: ImportReport, delta: ImportReport) -> None:
    """A batch's report added to the run's (agencies are added as they are written)."""
    add_counts(report, delta)
    report.procedure_code = report.procedure_code or delta.procedure_code
    report.procedure_created = report.procedure_created or delta.procedure_created


__all__ = ["WORKERS", "ShardedXesImporter", "XesImporter", "can_shard", "default_workers"]
