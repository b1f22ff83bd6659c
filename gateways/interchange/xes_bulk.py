"""The bulk path of an XES import: each trace decided at once, appended in sets of traces.

The same import as `XesImporter` (`gateways.interchange.xes_import`; read its docstring for
how a log becomes history), with the work per event cut down:

- the domain decides a whole trace at once (`domain.legacy_import`: the receipt, then the
  trace in one event, or a lienthong export's events one by one), with the same rules and
  giving the same events as the per-event path's commands;
- an imported dossier has no applicant, so it gets no citizen lookup secret nor data key
  (docs/decisions.md, entry 109): its receipt records no applicant and an empty
  lookup-secret hash, which no secret matches;
- the receiving agency's version of the procedure and the agencies it needs are resolved
  once per procedure, desk and day, not once per trace, and the working calendar remembers
  the working day after each day (`domain.legacy_import.remembering`);
- each batch of traces goes to the writer as one set of streams, appended in one
  transaction (same envelopes, hash chain and notification log as any append);
- where a second core can help, a child process reads the file (`xes_child`) while this
  one decides and writes what it has read.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from domain import commands as cmd
from domain.errors import DomainError
from domain.legacy_import import DecidedTrace, open_trace, record_steps, remembering
from domain.procedures import Procedure
from gateways.application.service import receipt_code_for
from gateways.eventstore.store import OversizedEvent
from gateways.interchange.xes import RESOURCE, XesLog, typed_reader
from gateways.interchange.xes_child import ChildXesLog, can_fork
from gateways.interchange.xes_import import (
    SYNTHESIZED,
    XesImporter,
    _actor,
    _Case,
    _Step,
    after_receipt,
    is_export,
)
from gateways.interchange.xes_report import TRACE_REFUSED

_NO_APPLICANT: dict[str, object] = {}  # a legacy log names no applicant


class BulkXesImporter(XesImporter):
    """One import run, each trace decided at once; `report` says what it did."""

    def __init__(self, *args: Any, read_in_child: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resolved: dict[tuple[str, date, str], tuple[Procedure, str]] = {}
        # A child reading the file pays off only for lxml's read: the compiled one takes less
        # than handing its traces across (docs/benchmarks.md, "Bulk import: the target met").
        if read_in_child is None:
            read_in_child = can_fork() and typed_reader() == "lxml"
        self.read_in_child = read_in_child
        self._calendar = remembering(self.service.calendar)

    def _open(self, path: Path) -> XesLog:
        if not self.read_in_child:
            return super()._open(path)
        # Checked before a trace is read from the child (see gateways.interchange.xes_child).
        return ChildXesLog(path, batch=self.flush_every)

    def _replay_trace(self, log: XesLog, case: _Case, steps: list[_Step], desk: str) -> None:
        report = self.report
        first = steps[0]
        exported_receipt = first.exported_type == "DossierReceived"
        calendar = self._calendar
        timed = len(steps)
        # Before the receipt: the agencies replayed handoffs name are added whatever the rules
        # say of the trace (a worker following it adds them without deciding it).
        traced = [self._step(step) for step in after_receipt(steps)]
        try:
            receipt = self._receipt(log, case, desk, first, exported_receipt)
            opened = open_trace(receipt, calendar)
            decided = record_steps(
                opened,
                self._case_command(case, first.at),
                traced,
                calendar,
                exported=is_export(steps),
            )
        except DomainError:
            report.unmapped[TRACE_REFUSED] += 1
            report.events_in_skipped += timed
            return
        try:
            self._keep(case.dossier_id, decided)  # encoded here: a trace too large is not counted
        except OversizedEvent as exc:
            self._refuse_too_large(case, exc, timed)
            return
        self._count_receipt(exported_receipt)
        report.events_written += len(decided.events) - 1  # the receipt is counted
        report.mapped += decided.mapped
        report.legacy += decided.legacy
        report.unmapped.update(decided.unmapped)
        if not decided.state.is_terminal:
            report.left_open += 1

    def _keep(self, dossier_id: str, decided: DecidedTrace) -> None:
        """The decided stream, encoded and buffered for the next flush; `OversizedEvent`
        (nothing buffered) when an event is too large to store."""
        self.service.add_new(dossier_id, decided.state, decided.events, [])
        self.service.seal(dossier_id)

    def _receipt(
        self, log: XesLog, case: _Case, desk: str, first: _Step, exported_receipt: bool
    ) -> cmd.ReceiveDossier:
        """The command receiving the trace's dossier (what `DossierService.receive_command`
        builds, without the lookup secret and data key of an applicant)."""
        trace = case.trace
        code = self._procedure_for(log, trace, desk).code
        channel = self._channel(trace)
        actor = _actor(first.event.text(RESOURCE) or "") if exported_receipt else SYNTHESIZED
        at = first.at
        procedure, desk = self._procedure_on(code, at, desk)
        return cmd.ReceiveDossier(
            actor=actor,
            occurred_at=at,
            dossier_id=case.dossier_id,
            receipt_code=receipt_code_for(desk, at.astimezone(self.service.calendar.tz), case.dossier_id),
            procedure=procedure,
            channel=channel,
            receiving_agency_code=desk,
            applicant=_NO_APPLICANT,
            lookup_secret_hash="",
            imported=True,
        )

    def _procedure_on(self, code: str, at: datetime, desk: str) -> tuple[Procedure, str]:
        """The procedure's version for a receipt at `desk` on the local day of `at` and the
        desk, its agencies checked in force that day; once per procedure, desk and day (the
        import adds agencies, never ends one)."""
        service = self.service
        key = (code, at.astimezone(service.calendar.tz).date(), desk)
        found = self._resolved.get(key)
        if found is None:
            procedure, received_at = service.procedure_for_receipt(code, at, desk)
            service.require_agency(received_at, *(step.agency_code for step in procedure.route), at=at)
            found = self._resolved[key] = (procedure, received_at)
        return found
