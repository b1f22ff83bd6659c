"""Import an XES event log of a legacy system as imported dossier history, losslessly.

The file is read twice: once to refuse, before anything is written, a file that is not
an XES log (not XML, truncated, another root element, no trace; `NotXes`), then trace by
trace (one batch of traces in memory, see `gateways.interchange.xes`). Everything is
decided in memory and appended in batches through `BufferedService` as the integration
role with the log's own times, so the domain's rules and the hash chain apply. By default
each trace is decided at once (`xes_bulk`, the same events), in forked workers where there
are two cores (`xes_shards`, the same rows); `XesImporter` decides one command per event.

How a log becomes history (the choices a reader could make two ways):

- **Dossier** = trace. Its id is a UUID derived from the log's name (its `concept:name`,
  else the file's stem) and the trace's `concept:name` (a trace exported by lienthong
  keeps its `lienthong:dossier_id`), so running the same import again finds the dossier
  and skips the trace (reported). A trace name met again in the same log is imported
  under a disambiguated case id, `name (2)` (the first `name (n)` no earlier trace has taken),
  and reported.
- **Case and events**: one `LegacyTraceRecorded` (docs/decisions.md, entry 217) keeps the
  trace's case id and every trace attribute, typed, as the log wrote them, and every event
  of the trace with all its attributes typed and in order (`original`: activity, lifecycle
  transition, resource, group, timestamp as written, lists, nested attributes), each at the
  unit its `org:group` names (else the last one named); nothing is invented (a missing
  resource stays missing, no handoff is read off a change of group); events in time order,
  each keeping its place as written (`POSITION`) when the trace's times go back, so that the
  export writes the trace as the log did. A trace of a log lienthong exported (its events
  name their `lienthong:type`) is replayed event by event instead: `LegacyCaseRecorded`, then
  each lifecycle event as that event, anything else as a `LegacyActivityRecorded`.
- **Synthesized** (actor `domain.legacy.SYNTHESIZED_USER`, left out of exports unless
  asked for): the receipt (`DossierReceived`, imported) at the first event's time, since
  a dossier starts with one.
- **Agencies** = `org:group` values, created in the catalogue when missing (see
  `gateways.interchange.mapping`); groups differing only in case get distinct codes. A
  group value meaning "no group recorded" (`EMPTY`) is not a unit: the event stays with
  the agency holding the dossier (the value stays in the event). A trace naming no group
  at all is held by `UNRECORDED`.
- **Procedure** `IMPORTED-<log name>` (or the `lienthong:procedure` of an exported trace
  that names an imported one): one step at the receiving agency with the whole deadline.
  Deadline = the most common `deadline - startdate` of the first batch's traces in
  calendar days, converted at 5 working days per 7; without those attributes,
  `DEFAULT_DEADLINE_WORKING_HOURS` (15 working days, a common statutory term).
- **End**: a dossier ends only when the log says so with a lifecycle activity
  (`ResultReturned`, `DossierWithdrawn`, `ProcessingStopped`); otherwise it stays open,
  flagged imported; the report counts them.
- **Channel**: trace attribute `channel` Internet/online -> online, Desk/direct -> direct,
  Post/postal -> postal; anything else -> direct, and reported.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from domain import commands as cmd
from domain.agencies import Agency
from domain.dossier import Dossier
from domain.errors import DomainError
from domain.events import Actor, Channel
from domain.guards import INTEGRATION
from domain.legacy import SYNTHESIZED_USER, RecordLegacyCase
from domain.legacy_import import NO_ACTIVITY, NO_GROUP, UNNAMED, TraceStep, replay_refused, trace_command
from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.application.bulk import BufferedService
from gateways.application.service import DossierService
from gateways.collector import fewer_collections
from gateways.eventstore.store import OversizedEvent, uuid5_text
from gateways.interchange.mapping import DEFAULT_LEVEL, GroupAgency, GroupMapping, code_for, distinct_code
from gateways.interchange.xes import (
    GROUP,
    LIENTHONG_PREFIX,
    POSITION,
    RESOURCE,
    TIMESTAMP,
    XesEvent,
    XesLog,
    XesTrace,
    check_well_formed,
    no_trace,
    parse_instant,
    typed_text,
)
from gateways.interchange.xes_lifecycle import LIFECYCLE_TYPES, lifecycle_command
from gateways.interchange.xes_report import (
    DUPLICATE_NAME,
    NO_EVENTS,
    NO_TIME,
    NO_TRACE_NAME,
    TRACE_NO_GROUP,
    TRACE_NO_OFFSET,
    TRACE_REFUSED,
    TRACE_TOO_LARGE,
    ImportReport,
    merge_trace_report,
)

IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lienthong:xes-import")
_IMPORT_NAMESPACE_BYTES = IMPORT_NAMESPACE.bytes
IMPORT_USER = SYNTHESIZED_USER  # the user of the events the importer synthesizes
DEFAULT_DEADLINE_WORKING_HOURS = 120.0
# A trace's deadline further than this from its start date is not read as its deadline
# (docs/decisions.md, entry 147).
LONGEST_DEADLINE = timedelta(days=3653)
# The names an import gives what it adds to the catalogue are read on the dashboard, which
# speaks Vietnamese first (docs/decisions.md, entry 240).
UNRECORDED = GroupAgency(
    code="UNRECORDED", name="Chưa ghi đơn vị (hồ sơ nhập từ hệ thống cũ)", level=DEFAULT_LEVEL
)
"""Holds a dossier whose trace names no group at all (at the mapping's default level)."""

CHANNELS = {
    "internet": Channel.ONLINE,
    "online": Channel.ONLINE,
    "desk": Channel.DIRECT,
    "direct": Channel.DIRECT,
    "post": Channel.POSTAL,
    "postal": Channel.POSTAL,
}

FLUSH_EVERY = 200  # traces per transaction


def dossier_id_for(log_name: str, trace_name: str) -> str:
    """The dossier id of a trace: the same log and trace always give the same id
    (`uuid.uuid5(IMPORT_NAMESPACE, f"{log_name}\\n{trace_name}")`)."""
    return uuid5_text(_IMPORT_NAMESPACE_BYTES, f"{log_name}\n{trace_name}".encode())


@cache
def procedure_code_for(log_name: str) -> str:
    return "IMPORTED-" + code_for(log_name, max_length=55)


def _actor(user: str) -> Actor:
    return Actor(agency_code="", user=user, role=INTEGRATION)


SYNTHESIZED = _actor(SYNTHESIZED_USER)


@dataclass(frozen=True)
class _Step:
    """One event of a trace, ready to replay."""

    event: XesEvent
    at: datetime
    group: str | None  # the agency code, None when no group was recorded
    exported_type: str | None = None  # lienthong_type(event), read once
    position: int | None = None  # its place in the trace as written, kept when times go back

    @property
    def original(self) -> dict[str, dict[str, Any]]:
        """The event's attributes as the log wrote them (and, when the trace's times go back,
        its place in the trace)."""
        original = _without_lienthong(self.event.typed)
        if self.position is None:
            return original
        return {**original, POSITION: {"type": "int", "value": self.position}}


def after_receipt(steps: list[_Step]) -> list[_Step]:
    """A trace's steps after its receipt: all but the first where the log states the receipt
    (a lienthong export's `DossierReceived`), else all (the import synthesizes it)."""
    return steps[1:] if steps[0].exported_type == "DossierReceived" else steps


def is_export(steps: list[_Step]) -> bool:
    """The trace is of a log lienthong exported (its events name their lienthong type): it is
    replayed event by event, not recorded as one legacy trace."""
    return any(step.exported_type is not None for step in steps)


@dataclass(frozen=True)
class _Case:
    """A trace with the case id and dossier id it is imported under."""

    trace: XesTrace
    case_id: str
    dossier_id: str


def _without_lienthong(typed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the log said, less what a lienthong export adds about its own store."""
    if not any(map(str.startswith, typed, _LIENTHONG_PREFIXES)):
        return typed
    return {k: v for k, v in typed.items() if not k.startswith(LIENTHONG_PREFIX)}


EXPORTED_TYPE = LIENTHONG_PREFIX + "type"  # what `lienthong_type` reads: an exported event's type
_LIENTHONG_PREFIXES = itertools.repeat(LIENTHONG_PREFIX)  # one `startswith` argument per key
_UNKNOWN = object()  # a group value not met yet


def _without_attributes(event: XesEvent) -> str:
    return f"{event.activity} without the attributes to replay it: recorded as legacy"


def _legacy_user(resource: str) -> str:
    """The user a legacy event is recorded under: its resource, except that the importer's
    own user marks synthesized events, so a log's user of that name is told apart."""
    return resource if resource != SYNTHESIZED_USER else f"{resource} (legacy log)"


def _exported_dossier_id(trace: XesTrace) -> str | None:
    text = trace.text(LIENTHONG_PREFIX + "dossier_id")
    if not text:
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


class XesImporter:
    """One import run; `report` says what it did."""

    def __init__(
        self,
        service: DossierService,
        mapping: GroupMapping | None = None,
        progress: Callable[[ImportReport], None] | None = None,
        flush_every: int = FLUSH_EVERY,
        *,
        zone: tzinfo | None = None,
    ) -> None:
        # Each trace is decided in memory and folded once; traces are appended in batches.
        self.service = BufferedService(service)
        self.zone = zone  # where times written without an offset were written (None: refused)
        self.flush_every = flush_every
        self._deadline = DEFAULT_DEADLINE_WORKING_HOURS
        self._existing: set[str] = set()
        # Dossiers of traces refused for an event too large to store: a later trace naming one
        # is skipped, as a sharded import's workers (which do not encode others' traces) skip it.
        self._too_large: set[str] = set()
        self.mapping = mapping or GroupMapping()
        self.progress = progress
        self.report = ImportReport()
        self._codes: dict[str, str] = {}  # group value -> agency code (bounded by the groups)
        self._claimed: dict[str, str] = {}  # agency code -> the group value it stands for
        self._procedures: dict[str, Procedure] = {}
        self._named: dict[str, bool] = {}  # lienthong:procedure values met: whether each is kept
        self._log: XesLog | None = None  # the log whose name `_log_name` is
        self._log_name = ""
        self._names: Counter[str] = Counter()  # case ids given -> the last suffix given to it
        self._groups: dict[str, str | None] = {}  # org:group value -> agency code (None: no group)

    # --- catalogue -----------------------------------------------------------------------
    def _ensure_agency(self, agency: GroupAgency) -> str:
        catalogue = self.service.catalogue
        if agency.code not in catalogue.hierarchy:
            catalogue.put_agency(
                Agency(
                    code=agency.code, name=agency.name, level=agency.level, parent_code=agency.parent_code
                ),
                legacy=True,  # a unit of the legacy log: it receives no live dossier
            )
            self.report.agencies_created.append(agency.code)
        return agency.code

    def _agency_code(self, group: str) -> str:
        code = self._codes.get(group)
        if code is None:
            code = self._codes[group] = self._ensure_agency(self._agency_for(group))
            self._claimed[code] = group
        return code

    def _agency_for(self, group: str) -> GroupAgency:
        """The group's agency; a group whose derived code another group already has (they
        differ only in case or punctuation) gets a code of its own."""
        agency = self.mapping.agency_for(group)
        plain = group.strip()
        if plain in self.mapping.groups:
            return agency  # mapped explicitly
        claimed = self._claimed.get(agency.code)
        if agency.code == plain and (claimed is None or claimed.strip() == plain):
            return agency  # already a code (a lienthong export) no other group took
        known = self.service.catalogue.hierarchy.latest(agency.code)
        if (claimed is not None and claimed.strip() != plain) or (
            claimed is None and known is not None and known.name != agency.name
        ):
            return replace(agency, code=distinct_code(plain))
        return agency

    def _group_of(self, event: XesEvent) -> str | None:
        value = typed_text(event.typed, GROUP)
        if value is None:
            return None
        known = self._groups.get(value, _UNKNOWN)
        if known is _UNKNOWN:
            known = self._groups[value] = (
                None if self.mapping.is_no_group(value) else self._agency_code(value)
            )
        return known  # type: ignore[return-value]

    def _procedure_for(self, log: XesLog, trace: XesTrace, desk: str) -> Procedure:
        code = procedure_code_for(log.name)
        named = (trace.text(LIENTHONG_PREFIX + "procedure") or "").strip()
        if named and self._names_procedure(named):
            code = named  # an exported trace of imported history keeps its procedure
        procedure = self._procedures.get(code)
        if procedure is not None:
            return procedure
        procedure = self.service.catalogue.procedure(code)
        if procedure is None:
            hours = self._deadline
            titled = log.name if code == procedure_code_for(log.name) else code
            procedure = Procedure(
                code=code,
                name=f"Hồ sơ nhập từ hệ thống cũ: {titled}"[:200],
                field="imported",
                deadline_working_hours=hours,
                supplement_policy=SupplementPolicy.RESTART,
                route=(RouteStep(agency_code=desk, budget_working_hours=hours),),
            )
            self.service.catalogue.put_procedure(procedure)
            self.report.procedure_created = True
        self._procedures[code] = procedure
        if not self.report.procedure_code:
            self.report.procedure_code = code
        return procedure

    def _names_procedure(self, code: str) -> bool:
        """Whether an exported trace's `lienthong:procedure` is one it is imported under: an
        imported one, or one the catalogue holds (asked once per code: every trace of an export
        names one)."""
        known = self._named.get(code)
        if known is None:
            known = self._named[code] = (
                code.startswith("IMPORTED-") or self.service.catalogue.procedure(code) is not None
            )
        return known

    def _deadline_hours(self, traces: Iterable[XesTrace]) -> float:
        """The most common `deadline - startdate` (whole calendar days) as working hours."""
        days: Counter[int] = Counter()
        for trace in traces:
            start = parse_instant(trace.text("startdate") or "", self.zone)
            deadline = parse_instant(trace.text("deadline") or "", self.zone)
            if start is not None and deadline is not None and start < deadline <= start + LONGEST_DEADLINE:
                days[round((deadline - start).total_seconds() / 86400)] += 1
        if not days:
            return DEFAULT_DEADLINE_WORKING_HOURS
        working_days = round(days.most_common(1)[0][0] * 5 / 7)
        if working_days <= 0:
            return DEFAULT_DEADLINE_WORKING_HOURS
        return working_days * self.service.calendar.hours_per_day

    # --- the log -------------------------------------------------------------------------
    def _case(self, log: XesLog, trace: XesTrace) -> _Case:
        name = trace.name
        case_id = base = name or f"#{trace.position}"
        taken = self._names
        if base in taken:
            # `name (2)`, `name (3)`…: the first not taken, by a trace of that very name too.
            seen = taken[base]
            while case_id in taken:
                seen += 1
                case_id = f"{base} ({seen})"
            taken[base] = seen
            self.report.unmapped[DUPLICATE_NAME] += 1
            self.report.renamed.append((name, case_id))
        taken[case_id] += 1
        if self._log is not log:  # its name is read once the header is (before the first trace)
            self._log, self._log_name = log, log.name
        dossier_id = _exported_dossier_id(trace) or dossier_id_for(self._log_name, case_id)
        return _Case(trace, case_id, dossier_id)

    def run(self, path: Path) -> ImportReport:
        with fewer_collections():
            return self._run(path)

    def _run(self, path: Path) -> ImportReport:
        started = time.perf_counter()
        report = self.report
        log = self._open(path)
        traces = log.traces()
        first = True
        while chunk := deque(itertools.islice(traces, self.flush_every)):
            if first:
                # The imported procedure's deadline is read off the first batch of traces, so
                # the log is parsed once and memory stays bounded (docs/decisions.md #31).
                self._deadline = self._deadline_hours(chunk)
                first = False
            cases = deque(self._case(log, trace) for trace in _draining(chunk))
            # Which of the batch's dossiers an earlier import wrote: one query per batch.
            self._existing = self.service.store.existing([c.dossier_id for c in cases])
            for case in _draining(cases):
                report.log_name = log.name
                self._trace(log, case)
                if self.progress is not None:
                    self.progress(report)
            self.service.flush()
        self.service.wait()
        if report.traces_read == 0:
            raise no_trace(path)  # nothing was written: a log of no trace is no log to import
        report.log_name = log.name
        report.procedure_code = report.procedure_code or procedure_code_for(log.name)
        report.unmapped.update(log.problems)
        report.seconds = time.perf_counter() - started
        return report

    def _open(self, path: Path) -> XesLog:
        """The log, once the check pass has refused a file that is not an XES log before
        anything is written."""
        check_well_formed(path)
        return XesLog(path)

    def _trace(self, log: XesLog, case: _Case) -> None:
        prepared = self._prepare(case)
        if prepared is not None:
            self._replay_trace(log, case, *prepared)

    def _prepare(self, case: _Case) -> tuple[list[_Step], str] | None:
        """The trace's timed events in time order and the agency receiving it; None when it
        is not imported (counted)."""
        report = self.report
        trace, dossier_id = case.trace, case.dossier_id
        report.traces_read += 1
        report.events_read += len(trace.events)
        if not trace.name:
            report.unmapped[NO_TRACE_NAME] += 1
        if dossier_id in self._existing or self.service.buffered(dossier_id) or dossier_id in self._too_large:
            report.skipped_existing += 1
            report.events_in_skipped += len(trace.events)
            return None
        timed: list[tuple[datetime, int, XesEvent]] = []
        untimed = 0
        zone = self.zone
        for event in trace.events:
            written = typed_text(event.typed, TIMESTAMP)  # `event.timestamp(zone)`, in line
            at = parse_instant(written, zone) if written else None
            if at is None:
                if self.zone is None and event.timestamp(UTC) is not None:
                    # A time written without its offset: the trace waits for --timezone whole
                    # (imported without that event, a later run could never add it).
                    report.unmapped[TRACE_NO_OFFSET] += 1
                    report.events_in_skipped += len(trace.events)
                    return None
                untimed += 1
                continue
            if timed and at < timed[-1][0] and self.zone is not None:
                # A wall-clock time of the hour the zone repeats (clocks going back) reads first
                # as the earlier instant; the later one where that keeps the trace in order.
                repeated = event.timestamp(self.zone, later=True)
                if repeated is not None and repeated >= timed[-1][0]:
                    at = repeated
            timed.append((at, event.position, event))
        if untimed:
            report.dropped += untimed
            report.unmapped[NO_TIME] += untimed
        if not timed:
            report.unmapped[NO_EVENTS] += 1
            return None
        # Times that go back in the trace: each event keeps its place as written, for the export.
        backwards = any(later[0] < earlier[0] for earlier, later in itertools.pairwise(timed))
        timed.sort(key=lambda item: (item[0], item[1]))
        group_of = self._group_of
        steps = [
            _Step(
                event,
                at,
                group_of(event),
                typed_text(event.typed, EXPORTED_TYPE),
                position if backwards else None,
            )
            for at, position, event in timed
        ]
        desk = next((s.group for s in steps if s.group is not None), None)
        if desk is None:
            desk = self._ensure_agency(replace(UNRECORDED, level=self.mapping.default_level))
            report.unmapped[TRACE_NO_GROUP] += 1
        return steps, desk

    def _replay_trace(self, log: XesLog, case: _Case, steps: list[_Step], desk: str) -> None:
        """One command per event (the per-event path; see `xes_bulk` for the bulk one), counted
        apart until the trace is encoded, so that a trace refused for its size is not counted."""
        run = self.report
        self.report = ImportReport()
        try:
            self._replay_events(log, case, steps, desk)
            self.service.seal(case.dossier_id)
        except OversizedEvent as exc:
            trace, self.report = self.report, run
            merge_trace_report(run, trace, catalogue_only=True)
            self._refuse_too_large(case, exc, len(steps))
            return
        except BaseException:
            self.report = run
            raise
        trace, self.report = self.report, run
        merge_trace_report(run, trace)

    def _refuse_too_large(self, case: _Case, exc: OversizedEvent, events: int) -> None:
        """The trace holds an event the store cannot take (one record of the events topic):
        no dossier; its events are counted as skipped."""
        report = self.report
        report.unmapped[TRACE_TOO_LARGE] += 1
        report.events_in_skipped += events
        report.too_large.append((case.case_id, exc.size, exc.limit))
        self._too_large.add(case.dossier_id)

    def _replay_events(self, log: XesLog, case: _Case, steps: list[_Step], desk: str) -> None:
        report = self.report
        dossier_id = case.dossier_id
        first = steps[0]
        # Before the receipt, whatever the rules say of it (as the bulk path: see xes_bulk).
        traced = [self._step(step) for step in after_receipt(steps)]
        try:
            state = self._receive(log, case, dossier_id, desk, first)
        except DomainError:
            report.unmapped[TRACE_REFUSED] += 1
            report.events_in_skipped += len(steps)
            return
        case_command = self._case_command(case, first.at)
        if is_export(steps):
            # A lienthong export: its case record, then each event (see domain.legacy_import).
            state = self._execute(dossier_id, case_command)
            for step in traced:
                state = self._replay(dossier_id, state, step)
        else:
            command = trace_command(case_command, traced, state.holder_agency_code, report.unmapped)
            state = self._execute(dossier_id, command)
            report.legacy += len(traced)
        if not state.is_terminal:
            report.left_open += 1

    def _receive(self, log: XesLog, case: _Case, dossier_id: str, desk: str, first: _Step) -> Dossier:
        trace = case.trace
        procedure = self._procedure_for(log, trace, desk)
        channel = self._channel(trace)
        exported_receipt = first.exported_type == "DossierReceived"
        actor = _actor(first.event.text(RESOURCE) or "") if exported_receipt else SYNTHESIZED
        created = self.service.create(
            dossier_id=dossier_id,
            procedure_code=procedure.code,
            channel=channel,
            applicant={},  # a legacy log names no applicant
            receiving_agency_code=desk,
            actor=actor,
            occurred_at=first.at,
            imported=True,
        )
        self._count_receipt(exported_receipt)
        return created.state

    def _channel(self, trace: XesTrace) -> Channel:
        raw = (trace.text("channel") or "").strip()
        channel = CHANNELS.get(raw.lower())
        if channel is None:
            channel = Channel.DIRECT
            self.report.channels_defaulted[raw or "(none)"] += 1
        return channel

    def _count_receipt(self, exported_receipt: bool) -> None:
        report = self.report
        report.dossiers_created += 1
        report.events_written += 1
        if exported_receipt:
            report.mapped += 1
        else:
            report.synthesized += 1
        report.cases_recorded += 1

    @staticmethod
    def _case_command(case: _Case, at: datetime) -> RecordLegacyCase:
        return RecordLegacyCase(
            actor=SYNTHESIZED,
            occurred_at=at,
            case_id=case.case_id,
            attributes=_without_lienthong(case.trace.typed),
        )

    def _execute(self, dossier_id: str, command: cmd.Command) -> Dossier:
        state = self.service.execute(dossier_id, lambda _state: command)
        self.report.events_written += 1
        return state

    def _replay(self, dossier_id: str, state: Dossier, step: TraceStep) -> Dossier:
        """One event of a lienthong export: its lifecycle event replayed, else a legacy activity."""
        report = self.report
        if step.replay_problem is not None:
            report.unmapped[step.replay_problem] += 1
        elif step.replay is not None:
            try:
                state = self._execute(dossier_id, step.replay)
            except DomainError:
                report.unmapped[replay_refused(step.activity)] += 1
            else:
                report.mapped += 1
                return state
        if step.group is None:
            report.unmapped[NO_GROUP] += 1
        activity = step.activity
        if not activity:
            activity = UNNAMED
            report.unmapped[NO_ACTIVITY] += 1
        state = self._execute(
            dossier_id,
            cmd.RecordLegacyActivity(
                actor=_actor(step.user),
                occurred_at=step.at,
                activity=activity,
                agency_code=step.group or state.holder_agency_code,
                resource=step.resource,
                original=step.original,
            ),
        )
        report.legacy += 1
        return state

    def _step(self, step: _Step) -> TraceStep:
        """The event as the domain records it (`domain.legacy_import.TraceStep`): with the
        lifecycle event to replay where it names one (a lienthong export), or why it cannot."""
        event = step.event
        resource = event.text(RESOURCE) or ""
        replay: cmd.Command | None = None
        problem: str | None = None
        if step.exported_type in LIFECYCLE_TYPES:
            try:
                replay = lifecycle_command(event, _actor(resource), step.at, self._agency_code)
            except DomainError:
                problem = _without_attributes(event)
        return TraceStep(
            at=step.at,
            activity=event.activity,
            group=step.group,
            user=_legacy_user(resource),
            resource=resource,
            # A replayed event's attributes are read only if the rules refuse it (then it is
            # recorded as legacy): most events of an export replay.
            original=step.original if replay is None else _Original(step),
            replay=replay,
            replay_problem=problem,
        )


class _Original(Mapping[str, Any]):
    """A step's `original`, worked out on first use."""

    __slots__ = ("_step", "_value")

    def __init__(self, step: _Step) -> None:
        self._step = step
        self._value: dict[str, dict[str, Any]] | None = None

    def _got(self) -> dict[str, dict[str, Any]]:
        if self._value is None:
            self._value = self._step.original
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._got()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._got())

    def __len__(self) -> int:
        return len(self._got())


def import_xes(
    path: Path,
    service: DossierService,
    mapping: GroupMapping | None = None,
    progress: Callable[[ImportReport], None] | None = None,
    flush_every: int = FLUSH_EVERY,
    *,
    bulk: bool = True,
    read_in_child: bool | None = None,
    workers: int | None = None,
    zone: tzinfo | None = None,
) -> ImportReport:
    """Import the XES log at `path` as imported dossiers; see the module docstring.

    `progress` gets the report so far after each trace (each batch with workers);
    `flush_every` traces are appended per transaction (held in memory at most, per process).
    Raises `NotXes` (writing nothing) when the file is not an XES log holding a trace.
    `bulk`: each trace decided at once (`xes_bulk`); False: one command per event (the
    reference; it also draws each dossier a lookup secret and a data key). `workers`: the
    bulk path decides and encodes in that many forked processes, this one commits
    (`xes_shards`); 0: all in this process, a child reading the file if `read_in_child`.
    Default (`read_in_child` not given): `xes_shards.default_workers()`. `zone`: where the
    log's times written without a UTC offset were written (else such events are left out).
    """
    if not bulk:
        return XesImporter(service, mapping, progress, flush_every, zone=zone).run(path)
    from gateways.interchange.xes_bulk import BulkXesImporter  # both build on this module
    from gateways.interchange.xes_shards import ShardedXesImporter, can_shard, default_workers

    if workers is None:
        workers = default_workers() if read_in_child is None else 0
    if workers > 0 and can_shard(service):
        sharded = ShardedXesImporter(service, mapping, progress, flush_every, workers=workers, zone=zone)
        return sharded.run(path)
    here = BulkXesImporter(service, mapping, progress, flush_every, read_in_child=read_in_child, zone=zone)
    return here.run(path)


def _draining(items: deque[Any]) -> Iterator[Any]:
    """The items, each let go of as soon as it is handed out."""
    while items:
        yield items.popleft()
