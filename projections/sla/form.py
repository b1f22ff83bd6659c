"""Biểu 06 (Circular 01/2020): the sums of tally columns and the form made from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Sums:
    """Counts of each tally column over some buckets.

    What a report counts: `rcv_*` by channel; `res_*` by timeliness; `closed` without
    result; `ov_start` / `ov_end` begin and end overdue spans (overdue at E = spans begun
    before E minus spans ended before E); `overrun` is a step's first instant over budget.
    """

    rcv_online: int = 0
    rcv_direct: int = 0
    rcv_postal: int = 0
    res_early: int = 0
    res_on_time: int = 0
    res_late: int = 0
    closed: int = 0
    ov_start: int = 0
    ov_end: int = 0
    overrun: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Sums:
        return cls(**{name: int(counts.get(name) or 0) for name in COLUMNS})

    def __add__(self, other: Sums) -> Sums:
        return Sums(*(getattr(self, name) + getattr(other, name) for name in COLUMNS))

    @property
    def received(self) -> int:
        return self.rcv_online + self.rcv_direct + self.rcv_postal

    @property
    def ended(self) -> int:
        return self.res_early + self.res_on_time + self.res_late + self.closed

    @property
    def overdue(self) -> int:
        return self.ov_start - self.ov_end


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Sums))  # the tally columns, in store order


@dataclass(frozen=True)
class Bieu06:
    """The columns of Biểu 06 for one agency (or group) and one window."""

    online: int = 0
    direct: int = 0
    postal: int = 0
    carried_over: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    within_due: int = 0
    overdue: int = 0
    closed_without_result: int = 0

    @property
    def received_total(self) -> int:
        return self.online + self.direct + self.postal + self.carried_over

    @property
    def resolved_total(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def in_process_total(self) -> int:
        return self.within_due + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        resolved = self.resolved_total
        return (self.early + self.on_time) / resolved if resolved else None

    def __add__(self, other: Bieu06) -> Bieu06:
        return Bieu06(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Bieu06)))

    def as_json(self) -> dict[str, object]:
        return {
            "received": {
                "online": self.online,
                "direct": self.direct,
                "postal": self.postal,
                "carried_over": self.carried_over,
                "total": self.received_total,
            },
            "resolved": {
                "early": self.early,
                "on_time": self.on_time,
                "late": self.late,
                "total": self.resolved_total,
            },
            "in_process": {
                "within_due": self.within_due,
                "overdue": self.overdue,
                "total": self.in_process_total,
            },
            "closed_without_result": self.closed_without_result,
            "on_time_rate": self.on_time_rate,
        }


def bieu06(before: Sums, during: Sums) -> Bieu06:
    """The form from the sums before the window's start and inside the window.

    Carried over = received before the start and not ended before it. Everything carried
    over or received in the window ends in exactly one place: resolved, closed without
    result, or still in process at the window's end — overdue there if a span covers it.
    """
    carried_over = before.received - before.ended
    in_process = carried_over + during.received - during.ended
    overdue = before.overdue + during.overdue
    return Bieu06(
        online=during.rcv_online,
        direct=during.rcv_direct,
        postal=during.rcv_postal,
        carried_over=carried_over,
        early=during.res_early,
        on_time=during.res_on_time,
        late=during.res_late,
        within_due=in_process - overdue,
        overdue=overdue,
        closed_without_result=during.closed,
    )
