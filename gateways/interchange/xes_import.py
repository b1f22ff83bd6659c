"""Import an XES event log of a legacy system as imported dossier history.

Streaming: one trace is in memory at a time (see `gateways.interchange.xes`).
Everything is written through `DossierService` as the integration role with the
log's own times, so the domain's rules and the hash chain apply as for any dossier.

How a log becomes history (the choices a reader could make two ways):

- **Dossier** = trace. Its id is a UUID derived from the log's name (its
  `concept:name`, else the file's stem) and the trace's `concept:name`, so running
  the same import again finds the dossier and skips the trace (reported).
- **Agencies** = `org:group` values, created in the catalogue when missing (see
  `gateways.interchange.mapping`). A group value meaning "no group recorded"
  (`EMPTY`) is not a unit: the event stays with the agency holding the dossier, no
  handoff is invented. A trace whose first events name no group is received at the
  first group it names; a trace that names none at all is held by `UNRECORDED`.
- **Procedure** `IMPORTED-<log name>`: one step at the receiving agency with the
  whole deadline, so every handoff of the history is off route (the log has no
  route). Deadline = the most common `deadline - startdate` of the log's traces in
  calendar days, converted at 5 working days per 7; without those attributes,
  `DEFAULT_DEADLINE_WORKING_HOURS` (15 working days, a common statutory term).
- **Events**, in time order: the first is the receipt (`DossierReceived`,
  imported) at the first agency; a change of `org:group` between events is a
  `HandedOff` + `HandoffAccepted` at the later event's time (such a log records
  no transit); an activity named like a lienthong lifecycle event (a log exported
  by lienthong) is replayed as that event, from its `lienthong:*` attributes; any
  other activity becomes `LegacyActivityRecorded` (activity, agency, resource, its
  other attributes). Events exported by lienthong (they carry `lienthong:type`)
  state their handoffs, so their `org:group` is who acted and infers no handoff.
- **End**: a dossier ends only when the log says so with a lifecycle activity
  (`ResultReturned`, `DossierWithdrawn`, `ProcessingStopped`). A log of one phase
  (such as a receipt phase) says nothing about the outcome, so the dossier stays
  open where the log left it, flagged imported; the report counts them.
- **Channel**: trace attribute `channel` Internet/online → online, Desk/direct →
  direct, Post/postal → postal; anything else → direct, and reported.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from domain import commands as cmd
from domain.agencies import Agency
from domain.decide import INTEGRATION
from domain.dossier import Dossier
from domain.errors import DomainError, InvalidValue
from domain.events import Actor, Channel, Outcome
from domain.procedures import Procedure, RouteStep, SupplementPolicy
from gateways.application.bulk import BufferedService
from gateways.application.service import DossierService
from gateways.interchange.mapping import DEFAULT_LEVEL, GroupAgency, GroupMapping, code_for
from gateways.interchange.xes import (
    GROUP,
    LIENTHONG_PREFIX,
    RESOURCE,
    STANDARD_EVENT_KEYS,
    TRANSITION,
    XesEvent,
    XesLog,
    XesTrace,
    parse_instant,
)

IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lienthong:xes-import")
IMPORT_USER = "xes-import"  # the user of events the importer infers (handoffs)
DEFAULT_DEADLINE_WORKING_HOURS = 120.0
UNRECORDED = GroupAgency(code="UNRECORDED", name="No unit recorded (imported history)", level=DEFAULT_LEVEL)
"""Holds a dossier whose trace names no group at all (at the mapping's default level)."""

CHANNELS = {
    "internet": Channel.ONLINE,
    "online": Channel.ONLINE,
    "desk": Channel.DIRECT,
    "direct": Channel.DIRECT,
    "post": Channel.POSTAL,
    "postal": Channel.POSTAL,
}

# Why an event or trace did not map one to one (keys of ImportReport.unmapped).
LEGACY = "activity maps to no lifecycle event: recorded as LegacyActivityRecorded"
NO_GROUP = "no org:group recorded: kept at the agency holding the dossier"
TRACE_NO_GROUP = "trace names no org:group: dossier held by UNRECORDED"
NO_TIME = "event without a valid time:timestamp: not imported"
NO_TRACE_NAME = "trace without concept:name: named by its position in the log"
NO_ACTIVITY = "event without concept:name: recorded as legacy activity '(unnamed)'"
NO_EVENTS = "trace without timed events: no dossier"
TRACE_REFUSED = "trace refused by the rules: no dossier"
HANDOFF_REFUSED = "org:group change refused by the rules: recorded as legacy at the new group"


FLUSH_EVERY = 200  # traces per transaction


def dossier_id_for(log_name: str, trace_name: str) -> str:
    """The dossier id of a trace: the same log and trace always give the same id."""
    return str(uuid.uuid5(IMPORT_NAMESPACE, f"{log_name}\n{trace_name}"))


def procedure_code_for(log_name: str) -> str:
    return "IMPORTED-" + code_for(log_name, max_length=55)


@dataclass
class ImportReport:
    log_name: str = ""
    procedure_code: str = ""
    procedure_created: bool = False
    traces_read: int = 0
    dossiers_created: int = 0
    skipped_existing: int = 0
    events_read: int = 0
    events_written: int = 0
    mapped: int = 0  # events that became a lifecycle event (the first one: the receipt)
    legacy: int = 0  # events recorded as LegacyActivityRecorded
    dropped: int = 0  # events that could not be imported (see unmapped)
    events_in_skipped: int = 0  # events of traces already imported or refused
    handoffs_inferred: int = 0
    left_open: int = 0
    agencies_created: list[str] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    channels_defaulted: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def events_accounted(self) -> int:
        """Every event read is in exactly one of these."""
        return self.mapped + self.legacy + self.dropped + self.events_in_skipped


def _actor(user: str) -> Actor:
    return Actor(agency_code="", user=user or IMPORT_USER, role=INTEGRATION)


@dataclass(frozen=True)
class _Step:
    """One event of a trace, ready to replay."""

    event: XesEvent
    at: datetime
    group: str | None  # the agency code, None when no group was recorded


def _attr(event: XesEvent, name: str, default: str = "") -> str:
    return event.attributes.get(LIENTHONG_PREFIX + name, "").strip() or default


def _exported_by_lienthong(event: XesEvent) -> bool:
    """A lienthong export states its handoffs; there `org:group` is who acted, not a move."""
    return LIENTHONG_PREFIX + "type" in event.attributes


def _outcome(event: XesEvent) -> Outcome:
    try:
        return Outcome(_attr(event, "outcome"))
    except ValueError as exc:
        raise InvalidValue("DossierDecided without a valid lienthong:outcome") from exc


class XesImporter:
    """One import run; `report` says what it did."""

    def __init__(
        self,
        service: DossierService,
        mapping: GroupMapping | None = None,
        progress: Callable[[ImportReport], None] | None = None,
        flush_every: int = FLUSH_EVERY,
    ) -> None:
        # Each trace is decided in memory and folded once; traces are appended in batches.
        self.service = BufferedService(service)
        self.flush_every = flush_every
        self._deadline = DEFAULT_DEADLINE_WORKING_HOURS
        self._existing: set[str] = set()
        self.mapping = mapping or GroupMapping()
        self.progress = progress
        self.report = ImportReport()
        self._codes: dict[str, str] = {}  # group value -> agency code (bounded by the groups)
        self._procedure: Procedure | None = None

    # --- catalogue -----------------------------------------------------------------------
    def _ensure_agency(self, agency: GroupAgency) -> str:
        catalogue = self.service.catalogue
        if agency.code not in catalogue.hierarchy:
            catalogue.put_agency(
                Agency(code=agency.code, name=agency.name, level=agency.level, parent_code=agency.parent_code)
            )
            self.report.agencies_created.append(agency.code)
        return agency.code

    def _agency_code(self, group: str) -> str:
        code = self._codes.get(group)
        if code is None:
            code = self._codes[group] = self._ensure_agency(self.mapping.agency_for(group))
        return code

    def _group_of(self, event: XesEvent) -> str | None:
        value = event.attributes.get(GROUP)
        if value is None or self.mapping.is_no_group(value):
            return None
        return self._agency_code(value)

    def _ensure_procedure(self, log: XesLog, desk: str) -> Procedure:
        if self._procedure is not None:
            return self._procedure
        code = procedure_code_for(log.name)
        existing = self.service.catalogue.procedure(code)
        if existing is None:
            hours = self._deadline
            existing = Procedure(
                code=code,
                name=f"Imported history: {log.name}"[:200],
                field="imported",
                deadline_working_hours=hours,
                supplement_policy=SupplementPolicy.RESTART,
                route=(RouteStep(agency_code=desk, budget_working_hours=hours),),
            )
            self.service.catalogue.put_procedure(existing)
            self.report.procedure_created = True
        self._procedure = existing
        return existing

    @staticmethod
    def _dossier_id(log: XesLog, trace: XesTrace) -> str:
        return dossier_id_for(log.name, trace.name or f"#{trace.position}")

    def _deadline_hours(self, traces: Iterable[XesTrace]) -> float:
        """The most common `deadline - startdate` (whole calendar days) as working hours."""
        days: Counter[int] = Counter()
        for trace in traces:
            start = parse_instant(trace.attributes.get("startdate", ""))
            deadline = parse_instant(trace.attributes.get("deadline", ""))
            if start is not None and deadline is not None and deadline > start:
                days[round((deadline - start).total_seconds() / 86400)] += 1
        if not days:
            return DEFAULT_DEADLINE_WORKING_HOURS
        working_days = round(days.most_common(1)[0][0] * 5 / 7)
        if working_days <= 0:
            return DEFAULT_DEADLINE_WORKING_HOURS
        return working_days * self.service.calendar.hours_per_day

    # --- the log -------------------------------------------------------------------------
    def run(self, path: Path) -> ImportReport:
        started = time.perf_counter()
        report = self.report
        log = XesLog(path)
        traces = log.traces()
        first = True
        while chunk := deque(itertools.islice(traces, self.flush_every)):
            if first:
                # The imported procedure's deadline is read off the first batch of traces, so
                # the log is parsed once and memory stays bounded (docs/decisions.md #31).
                self._deadline = self._deadline_hours(chunk)
                first = False
            # Which of the batch's dossiers an earlier import wrote: one query per batch.
            self._existing = self.service.store.existing([self._dossier_id(log, t) for t in chunk])
            for trace in _draining(chunk):
                report.log_name = log.name
                self._trace(log, trace)
                if self.progress is not None:
                    self.progress(report)
            self.service.flush()
        self.service.wait()
        report.log_name = log.name
        report.procedure_code = procedure_code_for(log.name)
        report.seconds = time.perf_counter() - started
        return report

    def _trace(self, log: XesLog, trace: XesTrace) -> None:
        report = self.report
        report.traces_read += 1
        report.events_read += len(trace.events)
        if not trace.name:
            report.unmapped[NO_TRACE_NAME] += 1
        dossier_id = self._dossier_id(log, trace)
        if dossier_id in self._existing or self.service.buffered(dossier_id):
            report.skipped_existing += 1
            report.events_in_skipped += len(trace.events)
            return
        timed = []
        for event in trace.events:
            at = event.timestamp
            if at is None:
                report.dropped += 1
                report.unmapped[NO_TIME] += 1
            else:
                timed.append((at, event.position, event))
        if not timed:
            report.unmapped[NO_EVENTS] += 1
            return
        timed.sort(key=lambda item: (item[0], item[1]))
        steps = [_Step(event, at, self._group_of(event)) for at, _position, event in timed]
        desk = next((s.group for s in steps if s.group is not None), None)
        if desk is None:
            desk = self._ensure_agency(replace(UNRECORDED, level=self.mapping.default_level))
            report.unmapped[TRACE_NO_GROUP] += 1
        try:
            state = self._receive(log, trace, dossier_id, desk, steps[0])
        except DomainError:
            report.unmapped[TRACE_REFUSED] += 1
            report.events_in_skipped += len(steps)
            return
        for step in steps[1:]:
            state = self._replay(dossier_id, state, step)
        if not state.is_terminal:
            report.left_open += 1

    def _receive(self, log: XesLog, trace: XesTrace, dossier_id: str, desk: str, first: _Step) -> Dossier:
        report = self.report
        procedure = self._ensure_procedure(log, desk)
        raw = trace.attributes.get("channel", "").strip()
        channel = CHANNELS.get(raw.lower())
        if channel is None:
            channel = Channel.DIRECT
            report.channels_defaulted[raw or "(none)"] += 1
        created = self.service.create(
            dossier_id=dossier_id,
            procedure_code=procedure.code,
            channel=channel,
            applicant={},  # a legacy log names no applicant
            receiving_agency_code=desk,
            actor=_actor(first.event.attributes.get(RESOURCE, "")),
            occurred_at=first.at,
            imported=True,
        )
        if first.group is None:
            report.unmapped[NO_GROUP] += 1
        report.dossiers_created += 1
        report.mapped += 1
        report.events_written += 1
        return created.state

    def _execute(self, dossier_id: str, command: cmd.Command) -> Dossier:
        state = self.service.execute(dossier_id, lambda _state: command)
        self.report.events_written += 1
        return state

    def _replay(self, dossier_id: str, state: Dossier, step: _Step) -> Dossier:
        report = self.report
        event = step.event
        resource = event.attributes.get(RESOURCE, "")
        try:
            command = self._lifecycle_command(event, _actor(resource), step.at)
        except DomainError:
            command = None
            report.unmapped[f"{event.activity} without the attributes to replay it: recorded as legacy"] += 1
        if command is not None:
            try:
                state = self._execute(dossier_id, command)
            except DomainError:
                report.unmapped[f"{event.activity} refused by the rules: recorded as legacy"] += 1
            else:
                report.mapped += 1
                return state
        elif step.group not in (None, state.holder_agency_code) and not _exported_by_lienthong(event):
            assert step.group is not None
            state = self._follow_group(dossier_id, state, step.group, step.at)
        if step.group is None:
            report.unmapped[NO_GROUP] += 1
        return self._legacy(dossier_id, state, step, resource)

    def _follow_group(self, dossier_id: str, state: Dossier, group: str, at: datetime) -> Dossier:
        """The dossier moved to another unit: hand off and accept at this event's time."""
        importer = _actor(IMPORT_USER)
        try:
            if state.pending_handoff_to is None:
                state = self._execute(
                    dossier_id, cmd.HandOff(actor=importer, occurred_at=at, to_agency_code=group)
                )
                self.report.handoffs_inferred += 1
            if state.pending_handoff_to == group:
                state = self._execute(dossier_id, cmd.AcceptHandoff(actor=importer, occurred_at=at))
        except DomainError:
            self.report.unmapped[HANDOFF_REFUSED] += 1
        return state

    def _legacy(self, dossier_id: str, state: Dossier, step: _Step, resource: str) -> Dossier:
        report = self.report
        event = step.event
        activity = event.activity
        if not activity:
            activity = "(unnamed)"
            report.unmapped[NO_ACTIVITY] += 1
        else:
            report.unmapped[LEGACY] += 1
        attributes = {
            key: value
            for key, value in event.attributes.items()
            if key not in STANDARD_EVENT_KEYS and not key.startswith(LIENTHONG_PREFIX)
        }
        raw_group = event.attributes.get(GROUP)
        if step.group is None and raw_group:
            attributes[GROUP] = raw_group  # keep what the log said ("EMPTY")
        transition = event.attributes.get(TRANSITION, "complete")
        if transition != "complete":
            attributes[TRANSITION] = transition
        state = self._execute(
            dossier_id,
            cmd.RecordLegacyActivity(
                actor=_actor(resource),
                occurred_at=step.at,
                activity=activity,
                agency_code=step.group or state.holder_agency_code,
                resource=resource,
                attributes=attributes,
            ),
        )
        report.legacy += 1
        return state

    def _lifecycle_command(self, event: XesEvent, actor: Actor, at: datetime) -> cmd.Command | None:
        """The command that replays a lienthong lifecycle activity (a log lienthong exported)."""
        match event.activity:
            case "HandedOff":
                target = _attr(event, "to_agency_code")
                if not target:
                    raise InvalidValue("HandedOff without lienthong:to_agency_code")
                return cmd.HandOff(
                    actor=actor,
                    occurred_at=at,
                    to_agency_code=self._agency_code(target),
                    note=_attr(event, "note"),
                )
            case "HandoffAccepted":
                return cmd.AcceptHandoff(actor=actor, occurred_at=at)
            case "HandoffReturned":
                return cmd.ReturnHandoff(
                    actor=actor, occurred_at=at, reason=_attr(event, "reason", "returned (imported history)")
                )
            case "DossierDecided":
                return cmd.DecideDossier(
                    actor=actor,
                    occurred_at=at,
                    outcome=_outcome(event),
                    decision_number=_attr(event, "decision_number"),
                )
            case "ResultReady":
                return cmd.MarkResultReady(actor=actor, occurred_at=at)
            case "ResultReturned":
                return cmd.ReturnResult(actor=actor, occurred_at=at)
            case "DossierWithdrawn":
                return cmd.Withdraw(
                    actor=actor, occurred_at=at, reason=_attr(event, "reason", "withdrawn (imported history)")
                )
            case "ProcessingStopped":
                return cmd.StopProcessing(
                    actor=actor, occurred_at=at, reason=_attr(event, "reason", "stopped (imported history)")
                )
        return None


def import_xes(
    path: Path,
    service: DossierService,
    mapping: GroupMapping | None = None,
    progress: Callable[[ImportReport], None] | None = None,
    flush_every: int = FLUSH_EVERY,
) -> ImportReport:
    """Import the XES log at `path` as imported dossiers; see the module docstring.

    `progress` is called with the report so far after each trace; `flush_every` traces are
    appended per transaction (what the import holds in memory at most).
    """
    return XesImporter(service, mapping, progress, flush_every).run(path)


def _draining(items: deque[XesTrace]) -> Iterator[XesTrace]:
    """The items, each let go of as soon as it is handed out."""
    while items:
        yield items.popleft()
