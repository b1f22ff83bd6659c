"""What the bottleneck fold emits: counter changes and samples per subject and day, drill-down
rows, and the sinks that take them (a list, or a batch's running `Totals`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from projections.bottleneck.histogram import bucket_of


class Kind(StrEnum):
    AGENCY = "agency"
    EDGE = "edge"  # giver -> receiver
    STEP = "step"  # a route step of a procedure, at the agency that worked it


class Subject(NamedTuple):
    """What a counter or a sample is about: an agency, an edge, or a route step.

    A named tuple: subjects key every sum of a batch, and a tuple hashes in C.
    """

    kind: Kind
    agency_code: str  # the agency; the giver of an edge
    other: str = ""  # the receiver of an edge; the procedure of a step
    route_step: int = -1  # the step's index in the route


# Counter fields. WIP-like fields are deltas: their running sum is the level.
ARRIVALS = "arrivals"
COMPLETIONS = "completions"
WIP = "wip"
IN_TRANSIT = "in_transit"
OVERDUE = "overdue"
RETURNS = "returns"  # agency: its handoffs sent back to it; edge: returns over it
SUPPLEMENTS = "supplements"
CONSULTATIONS = "consultations"
COUNTERS = (ARRIVALS, COMPLETIONS, WIP, IN_TRANSIT, OVERDUE, RETURNS, SUPPLEMENTS, CONSULTATIONS)
LEVELS = (WIP, IN_TRANSIT, OVERDUE)


@dataclass(frozen=True)
class Tally:
    subject: Subject
    day: int
    field: str
    amount: int


@dataclass(frozen=True)
class Sample:
    """A finished stay's dwell (agency, step) or a finished transit (edge); weight -1 takes it back."""

    subject: Subject
    day: int
    working_ms: int
    calendar_ms: int
    weight: int = 1


@dataclass(frozen=True)
class StayRecord:
    """The drill-down row of one stay, as it stands after the event."""

    dossier_id: str
    stay_no: int
    agency_code: str
    procedure_code: str
    route_step: int | None
    receipt_code: str
    entered_at: datetime
    left_at: datetime | None
    left_day: int | None
    working_ms: int  # of finished segments (the whole dwell once left)
    calendar_ms: int
    running_since: datetime | None  # the open segment's start; None while paused or left


@dataclass(frozen=True)
class TransitRecord:
    dossier_id: str
    handoff_seq: int
    from_agency_code: str
    to_agency_code: str
    receipt_code: str
    handed_at: datetime
    off_route: bool
    ended_at: datetime | None = None
    end_day: int | None = None
    outcome: str | None = None  # accepted | returned | cancelled (the dossier closed)
    working_ms: int | None = None
    calendar_ms: int | None = None


Fact = Tally | Sample | StayRecord | TransitRecord


class FactSink(Protocol):
    """Where a fold puts its facts: a list of them (`apply`), or running sums (`Totals`)."""

    def tally(self, subject: Subject, day: int, name: str, amount: int) -> None: ...

    def sample(self, subject: Subject, day: int, working_ms: int, calendar_ms: int, weight: int) -> None: ...

    def record(self, record: StayRecord | TransitRecord) -> None: ...


class FactList:
    """Every fact, in the order the fold made it."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def tally(self, subject: Subject, day: int, name: str, amount: int) -> None:
        self.facts.append(Tally(subject, day, name, amount))

    def sample(self, subject: Subject, day: int, working_ms: int, calendar_ms: int, weight: int) -> None:
        self.facts.append(Sample(subject, day, working_ms, calendar_ms, weight))

    def record(self, record: StayRecord | TransitRecord) -> None:
        self.facts.append(record)


# A (subject, day)'s sums, in this order: the counters, then samples, working ms, calendar ms.
SUM_FIELDS: tuple[str, ...] = (*COUNTERS, "samples", "working_ms", "calendar_ms")
_SUM_INDEX = {name: index for index, name in enumerate(SUM_FIELDS)}
_SAMPLES, _WORKING, _CALENDAR = (_SUM_INDEX[n] for n in ("samples", "working_ms", "calendar_ms"))


class Totals:
    """A batch's facts summed per (subject, local day) — counters and sample sums as one vector
    (`SUM_FIELDS`), the dwell/transit histogram beside it — and the last drill-down row of each
    stay and transit. A store sums facts anyway, so the totals of a batch equal the sums of
    its facts one by one."""

    def __init__(self) -> None:
        self.sums: dict[tuple[Subject, int], list[int]] = {}
        self.hists: dict[tuple[Subject, int], dict[int, int]] = {}
        self.stays: dict[tuple[str, int], StayRecord] = {}
        self.transits: dict[tuple[str, int], TransitRecord] = {}

    def _vector(self, key: tuple[Subject, int]) -> list[int]:
        vector = self.sums.get(key)
        if vector is None:
            vector = self.sums[key] = [0] * len(SUM_FIELDS)
        return vector

    def tally(self, subject: Subject, day: int, name: str, amount: int) -> None:
        key = (subject, day)
        vector = self.sums.get(key)
        if vector is None:
            vector = self.sums[key] = [0] * len(SUM_FIELDS)
        vector[_SUM_INDEX[name]] += amount

    def sample(self, subject: Subject, day: int, working_ms: int, calendar_ms: int, weight: int) -> None:
        key = (subject, day)
        vector = self._vector(key)
        vector[_SAMPLES] += weight
        vector[_WORKING] += weight * working_ms
        vector[_CALENDAR] += weight * calendar_ms
        hist = self.hists.get(key)
        if hist is None:
            hist = self.hists[key] = {}
        bucket = bucket_of(working_ms)
        hist[bucket] = hist.get(bucket, 0) + weight

    def record(self, record: StayRecord | TransitRecord) -> None:
        if isinstance(record, StayRecord):
            self.stays[(record.dossier_id, record.stay_no)] = record
        else:
            self.transits[(record.dossier_id, record.handoff_seq)] = record

    def add(self, fact: Fact) -> None:
        """One fact as `apply` gives it."""
        if isinstance(fact, Tally):
            self.tally(fact.subject, fact.day, fact.field, fact.amount)
        elif isinstance(fact, Sample):
            self.sample(fact.subject, fact.day, fact.working_ms, fact.calendar_ms, fact.weight)
        else:
            self.record(fact)
