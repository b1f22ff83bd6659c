"""The indicators fold: each event a tally or none, with the little a dossier must remember
(its desk and whether it is imported history) to say whose tally it is.

`apply` folds one event; `fold_batch` folds a batch with one mutable builder per dossier and
gives the same facts and the same tallies (a Hypothesis property in tests/unit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain import events as ev

if TYPE_CHECKING:
    from dataclasses import replace
else:  # the folds' copies: domain/records.py
    from domain.records import copy_with as replace


@dataclass(frozen=True)
class DossierFacts:
    """What the indicators keep of a dossier: whose tallies its events are."""

    dossier_id: str
    last_seq: int
    agency_code: str  # the receiving desk: every indicator is the desk's (Biểu 06's scope)
    imported: bool = False
    digitized: bool = False  # every required component has a file (counted once)
    result_digitized: bool = False  # the result has a file (counted once)


@dataclass(frozen=True)
class Tally:
    """One count: `column` of `agency` at instant `at`."""

    agency_code: str
    imported: bool
    column: str
    at: datetime


_RESOLVED = {
    ev.Timeliness.EARLY: "resolved_early",
    ev.Timeliness.ON_TIME: "resolved_on_time",
    ev.Timeliness.LATE: "resolved_late",
}
_RATED = {
    ev.Satisfaction.VERY_SATISFIED: "rated_very_satisfied",
    ev.Satisfaction.SATISFIED: "rated_satisfied",
    ev.Satisfaction.NOT_SATISFIED: "rated_not_satisfied",
}


def columns_of(event: ev.DossierEvent) -> tuple[str, ...]:
    """What one event counts (its desk and instant come from the dossier and the event)."""
    match event:
        case ev.DossierSubmittedOnline():
            return ("submitted_online",)
        case ev.DossierReceived():
            return ("received", f"received_{event.channel.value}")
        case ev.ResultReady():
            return ("resolved", _RESOLVED[event.timeliness])
        case ev.DossierRefusedAtIntake() | ev.DossierWithdrawn() | ev.ProcessingStopped():
            return ("closed_without_result",)
        case ev.ResultReturned():
            return ("returned",)
        case ev.FeeRequested():
            return ("fees_requested",)
        case ev.FeePaid():
            return ("fees_paid",)
        case ev.SatisfactionRecorded():
            return ("rated", _RATED[event.rating])
    return ()


def _digitization(facts: DossierFacts | _Builder, event: ev.DossierEvent) -> tuple[str, ...]:
    """Số hóa hồ sơ, kết quả: the first file that completes the dossier's components, and the
    first result file, each counted once per dossier (a later replacement counts nothing)."""
    if not isinstance(event, ev.DocumentAttached):
        return ()
    if event.purpose == ev.DocumentPurpose.RESULT:
        return () if facts.result_digitized else ("result_digitized",)
    return ("digitized",) if event.all_components_digitized and not facts.digitized else ()


def _start(dossier_id: str, seq: int, event: ev.DossierEvent) -> DossierFacts | None:
    match event:
        case ev.DossierSubmittedOnline():
            return DossierFacts(dossier_id, seq, event.receiving_agency_code)
        case ev.DossierReceived():
            return DossierFacts(dossier_id, seq, event.receiving_agency_code, event.imported)
    return None  # a stream never starts otherwise; nothing to count


def _tallies(facts: DossierFacts, columns: tuple[str, ...], event: ev.DossierEvent) -> list[Tally]:
    return [Tally(facts.agency_code, facts.imported, c, event.occurred_at) for c in columns]


def apply(
    facts: DossierFacts | None, dossier_id: str, seq: int, event: ev.DossierEvent
) -> tuple[DossierFacts | None, list[Tally]]:
    """The facts after `event` (the `seq`-th of the dossier) and what it counts; a replayed
    event counts nothing."""
    if facts is None:
        started = _start(dossier_id, seq, event)
        return started, ([] if started is None else _tallies(started, columns_of(event), event))
    if seq <= facts.last_seq:
        return facts, []
    if isinstance(event, ev.DossierReceived):  # intake of an online submission
        facts = replace(facts, imported=event.imported)
    files = _digitization(facts, event)
    facts = replace(
        facts,
        last_seq=seq,
        digitized=facts.digitized or "digitized" in files,
        result_digitized=facts.result_digitized or "result_digitized" in files,
    )
    return facts, _tallies(facts, columns_of(event) + files, event)


class _Builder:
    __slots__ = ("agency_code", "digitized", "dossier_id", "imported", "last_seq", "result_digitized")

    def __init__(self, facts: DossierFacts) -> None:
        self.dossier_id = facts.dossier_id
        self.last_seq = facts.last_seq
        self.agency_code = facts.agency_code
        self.imported = facts.imported
        self.digitized = facts.digitized
        self.result_digitized = facts.result_digitized

    def freeze(self) -> DossierFacts:
        return DossierFacts(
            self.dossier_id,
            self.last_seq,
            self.agency_code,
            self.imported,
            self.digitized,
            self.result_digitized,
        )


def fold_batch(
    before: Mapping[str, DossierFacts | None], batch: Iterable[tuple[str, int, ev.DossierEvent]]
) -> tuple[dict[str, DossierFacts | None], list[Tally]]:
    """The facts after `batch` ((dossier_id, seq, event), in per-dossier order) for every
    dossier it names, from the facts `before` it, and the tallies of its events in order."""
    open_facts: dict[str, _Builder | None] = {}
    tallies: list[Tally] = []
    for dossier_id, seq, event in batch:
        if dossier_id in open_facts:
            builder = open_facts[dossier_id]
        else:
            known = before.get(dossier_id)
            builder = open_facts[dossier_id] = None if known is None else _Builder(known)
        if builder is None:
            started = _start(dossier_id, seq, event)
            if started is not None:
                open_facts[dossier_id] = _Builder(started)
                tallies.extend(_tallies(started, columns_of(event), event))
            continue
        if seq <= builder.last_seq:
            continue
        builder.last_seq = seq
        if isinstance(event, ev.DossierReceived):
            builder.imported = event.imported
        files = _digitization(builder, event)
        builder.digitized = builder.digitized or "digitized" in files
        builder.result_digitized = builder.result_digitized or "result_digitized" in files
        at = event.occurred_at
        tallies.extend(Tally(builder.agency_code, builder.imported, c, at) for c in columns_of(event) + files)
    return {d: (None if b is None else b.freeze()) for d, b in open_facts.items()}, tallies
