"""Succession at a cutover and dated procedures: the domain's rules (DOMAIN.md, precise rules)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import pytest

from domain import commands as c
from domain.agencies import Agency, AgencyLevel, Hierarchy, Successor
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.errors import ActorNotAllowed, InvalidValue
from domain.events import Actor, HolderSucceeded, Timeliness
from domain.procedures import Procedure, RouteStep, SupplementPolicy, version_on
from domain.succession import SYSTEM, Heir
from projections import control_sheet
from tests.unit.test_dossier import CAL, DEPT, DISTRICT, WARD, Walk, officer, t

CUTOVER = Actor("", "cutover", SYSTEM)


class Rec(Walk):
    """A walk that keeps the events it recorded."""

    def run(self, command: c.Command) -> Dossier:
        made = decide(self.state, command, CAL)
        self.__dict__.setdefault("events", []).extend(made)
        for event in made:
            self.state = evolve(self.state, event)
        assert self.state is not None
        return self.state


NEW_WARD, NEW_DEPT = "W2", "S2"


def _agency(code: str, level: AgencyLevel, **kw: object) -> Agency:
    return Agency(code, f"UBND {code}", level, **kw)  # type: ignore[arg-type]


def _split_hierarchy() -> Hierarchy:
    end = date(2025, 6, 30)
    day = date(2025, 7, 1)
    return Hierarchy(
        [
            _agency("P", AgencyLevel.PROVINCE),
            _agency("OLD", AgencyLevel.COMMUNE, parent_code="D", valid_to=date(2020, 12, 31),
                    successors=(Successor("A", date(2021, 1, 1), 1.0),)),
            _agency("A", AgencyLevel.COMMUNE, parent_code="D", valid_to=end,
                    successors=(Successor("X", day, 0.6), Successor("Y", day, 0.4))),
            _agency("D", AgencyLevel.DISTRICT, parent_code="P", valid_to=end,
                    successors=(Successor("Y", day), Successor("X", day))),
            _agency("X", AgencyLevel.COMMUNE, parent_code="P", valid_from=day),
            _agency("Y", AgencyLevel.COMMUNE, parent_code="P", valid_from=day),
        ]
    )  # fmt: skip


def test_successors_follow_chains_and_prefer_the_dossiers_own_heir() -> None:
    h = _split_hierarchy()
    assert h.successor_on("A", date(2025, 6, 30)) == "A"  # still in force
    assert h.successor_on("A", date(2025, 7, 1)) == "X"  # the first named is the default heir
    assert h.successor_on("OLD", date(2025, 7, 2)) == "X"  # OLD -> A -> X
    assert h.successor_on("OLD", date(2024, 1, 1)) == "A"
    assert h.heir_on("D", date(2025, 7, 1)) == "Y"
    assert h.heir_on("D", date(2025, 7, 1), prefer=["X"]) == "X"  # the dossier's desk's heir
    assert h.heir_on("D", date(2025, 7, 1), prefer=["Q"]) == "Y"  # not a successor: default
    assert h.predecessors_ever("X") == {"A", "OLD", "D"}
    assert h.predecessors_ever("X", default_heir_only=True) == {"A", "OLD"}
    assert h.cutover_days() == [date(2021, 1, 1), date(2025, 7, 1)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"valid_to": None}, "only an agency that ends"),
        ({"successors": (Successor("A", date(2025, 7, 1)),)}, "cannot succeed itself"),
        ({"successors": (Successor("X", date(2025, 6, 30)),)}, "on or before valid_to"),
        (
            {"successors": (Successor("X", date(2025, 7, 1), 0.7), Successor("Y", date(2025, 7, 1), 0.4))},
            "sum",
        ),
        ({"successors": (Successor("X", date(2025, 7, 1)), Successor("X", date(2025, 7, 1)))}, "twice"),
    ],
)
def test_a_successor_list_that_makes_no_sense_is_refused(changes: dict[str, object], message: str) -> None:
    kw: dict[str, object] = {
        "valid_to": date(2025, 6, 30),
        "successors": (Successor("X", date(2025, 7, 1)),),
        **changes,
    }
    with pytest.raises(InvalidValue, match=message):
        _agency("A", AgencyLevel.COMMUNE, **kw)
    with pytest.raises(InvalidValue, match="share"):
        Successor("X", date(2025, 7, 1), 1.5)


def _procedure(valid_from: date | None, dept: str) -> Procedure:
    route = (RouteStep(WARD, 8), RouteStep(dept, 24), RouteStep(WARD, 8))
    return Procedure("P", "Cấp phép", "test", 40, SupplementPolicy.RESTART, route, valid_from=valid_from)


def test_the_version_in_force_on_a_day() -> None:
    old, new = _procedure(None, DEPT), _procedure(date(2025, 3, 1), NEW_DEPT)
    assert version_on([new, old], date(2025, 2, 28)) is old
    assert version_on([new, old], date(2025, 3, 1)) is new
    assert version_on([new], date(2025, 2, 28)) is None  # not yet in force


def _at_district_on_june_30() -> Rec:
    """Received at the ward on 2025-06-23, at the district since 06-23 13:00 (16 h budget)."""
    walk = Rec(at="2025-06-23T08:00")
    walk.run(c.HandOff(actor=officer(WARD), occurred_at=t("2025-06-23T09:00"), to_agency_code=DISTRICT))
    walk.run(c.AcceptHandoff(actor=officer(DISTRICT), occurred_at=t("2025-06-23T13:00")))
    return walk


def _succession(walk: Rec, *heirs: Heir, at: str = "2025-07-01T00:00") -> list[HolderSucceeded]:
    assert walk.state is not None
    command = c.RecordSuccession(actor=CUTOVER, occurred_at=t(at), heirs=heirs)
    made = decide(walk.state, command, CAL)
    walk.run(command)
    return [e for e in made if isinstance(e, HolderSucceeded)]


def test_the_open_step_splits_at_the_cutover_and_the_due_dates_stay() -> None:
    walk = _at_district_on_june_30()
    assert walk.state is not None
    due, step_due = walk.state.due_at, walk.state.steps[-1].due_at
    (event,) = _succession(walk, Heir(DISTRICT, NEW_WARD, "Nghị quyết 202/2025/QH15"))
    s = walk.state
    # 06-23 13:00-17:00 and five days to 06-30: 44 working hours against a 16 h budget.
    assert event.step_used_working_hours == pytest.approx(44)
    assert event.step_timeliness is Timeliness.LATE  # it had overrun before the cutover
    assert event.successor_budget_working_hours is None  # nothing left: no budget of its own
    assert s.holder_agency_code == NEW_WARD and s.due_at == due
    old_part, new_part = s.steps[-2], s.steps[-1]
    assert (old_part.agency_code, old_part.left_at, old_part.timeliness) == (
        DISTRICT,
        t("2025-07-01T00:00"),
        Timeliness.LATE,
    )
    assert (new_part.agency_code, new_part.entered_at, new_part.route_index) == (
        NEW_WARD,
        t("2025-07-01T00:00"),
        None,
    )
    assert step_due is not None and step_due < t("2025-07-01T00:00")
    # The ended district may no longer act; its successor may.
    with pytest.raises(ActorNotAllowed):
        walk.run(c.HandOff(actor=officer(DISTRICT), occurred_at=t("2025-07-01T08:00"), to_agency_code=DEPT))
    walk.run(c.HandOff(actor=officer(NEW_WARD), occurred_at=t("2025-07-01T08:00"), to_agency_code=DEPT))
    assert walk.state.pending_route_step == 2  # the department's step is still on route
    # Idempotent: nothing left to move.
    assert _succession(walk, Heir(DISTRICT, NEW_WARD), at="2025-07-01T08:00") == []


def test_a_step_within_budget_hands_over_what_is_left_of_it() -> None:
    walk = Rec(at="2025-06-30T08:00")
    walk.run(c.HandOff(actor=officer(WARD), occurred_at=t("2025-06-30T09:00"), to_agency_code=DISTRICT))
    walk.run(c.AcceptHandoff(actor=officer(DISTRICT), occurred_at=t("2025-06-30T13:00")))
    assert walk.state is not None
    step_due = walk.state.steps[-1].due_at
    (event,) = _succession(walk, Heir(DISTRICT, NEW_WARD))
    assert event.step_used_working_hours == pytest.approx(4)
    assert event.step_timeliness is Timeliness.EARLY  # not overrun: never late
    assert event.successor_budget_working_hours == pytest.approx(12)
    new_part = walk.state.steps[-1]
    assert (new_part.route_index, new_part.budget_working_hours, new_part.due_at) == (1, 12, step_due)
    # The successor finishes the district's step: on time against the same due instant.
    walk.run(c.HandOff(actor=officer(NEW_WARD), occurred_at=t("2025-07-02T10:00"), to_agency_code=DEPT))
    assert walk.state.steps[-1].timeliness is Timeliness.ON_TIME
    assert walk.state.done_route_indices() == {0, 1}


def test_in_transit_to_an_ended_agency_its_successor_accepts_and_the_return_leg_closes() -> None:
    walk = Rec(at="2025-06-23T08:00")
    walk.run(c.HandOff(actor=officer(WARD), occurred_at=t("2025-06-23T09:00"), to_agency_code=DISTRICT))
    walk.run(c.AcceptHandoff(actor=officer(DISTRICT), occurred_at=t("2025-06-23T10:00")))
    walk.run(c.HandOff(actor=officer(DISTRICT), occurred_at=t("2025-06-24T10:00"), to_agency_code=DEPT))
    events = _succession(walk, Heir(DEPT, NEW_DEPT), Heir(WARD, NEW_WARD))
    assert [(e.from_agency_code, e.pending, e.desk, e.step_split) for e in events] == [
        (DEPT, True, False, False),
        (WARD, False, True, False),
    ]
    s = walk.state
    assert s is not None and (s.pending_handoff_to, s.receiving_agency_code) == (NEW_DEPT, NEW_WARD)
    walk.run(c.AcceptHandoff(actor=officer(NEW_DEPT), occurred_at=t("2025-07-01T08:00")))
    assert walk.state.steps[-1].route_index == 2
    walk.run(c.DecideDossier(actor=officer(NEW_DEPT), occurred_at=t("2025-07-01T09:00"), outcome="approved"))  # type: ignore[arg-type]
    # The route's return step names the ended ward: its successor (with `succeeds`) takes it.
    walk.run(c.HandOff(actor=officer(NEW_DEPT), occurred_at=t("2025-07-01T10:00"), to_agency_code=NEW_WARD))
    assert walk.state.pending_route_step == 3
    walk.run(c.AcceptHandoff(actor=officer(NEW_WARD), occurred_at=t("2025-07-01T10:30")))
    walk.run(c.MarkResultReady(actor=officer(NEW_WARD), occurred_at=t("2025-07-01T11:00")))
    walk.run(c.ReturnResult(actor=officer(NEW_WARD), occurred_at=t("2025-07-01T14:00")))
    assert walk.state.done_route_indices() == {0, 1, 2, 3}
    # The control sheet marks the handoff its successor received.
    sheet = control_sheet.build("d1", list(enumerate(walk.events, start=1)))
    assert [(r.to_agency_code, r.succeeded_by) for r in sheet.rows][1] == (DEPT, NEW_DEPT)


def test_only_the_system_records_a_succession() -> None:
    walk = _at_district_on_june_30()
    assert walk.state is not None
    command = c.RecordSuccession(
        actor=officer(NEW_WARD), occurred_at=t("2025-07-01T00:00"), heirs=(Heir(DISTRICT, NEW_WARD),)
    )
    with pytest.raises(ActorNotAllowed):
        decide(walk.state, command, CAL)


def test_a_handoff_returned_to_an_ended_giver_goes_back_to_its_successor() -> None:
    walk = Rec(at="2025-06-30T08:00")
    walk.run(c.HandOff(actor=officer(WARD), occurred_at=t("2025-06-30T09:00"), to_agency_code=DISTRICT))
    walk.run(c.AcceptHandoff(actor=officer(DISTRICT), occurred_at=t("2025-06-30T10:00")))
    walk.run(c.HandOff(actor=officer(DISTRICT), occurred_at=t("2025-06-30T14:00"), to_agency_code=DEPT))
    (event,) = _succession(walk, Heir(DISTRICT, NEW_WARD))
    assert (event.holder, event.step_split) == (True, False)  # its step had closed at the handoff
    walk.run(c.ReturnHandoff(actor=officer(DEPT), occurred_at=t("2025-07-01T08:00"), reason="sai nơi"))
    s = walk.state
    assert s is not None and s.holder_agency_code == NEW_WARD
    district, heir = s.steps[-2], s.steps[-1]
    assert (district.agency_code, district.is_open) == (DISTRICT, False)  # stays the district's
    # 10:00-11:30 and 13:00-14:00: 2.5 of 16 h used; the heir has the other 13.5 h.
    assert (heir.agency_code, heir.route_index, heir.budget_working_hours) == (NEW_WARD, 1, 13.5)
    walk.run(c.HandOff(actor=officer(NEW_WARD), occurred_at=t("2025-07-01T09:00"), to_agency_code=DEPT))
    assert walk.state.done_route_indices() == {0, 1}


class _Read(Agency):
    """An agency version that counts how often its successors are read."""

    reads: ClassVar[list[int]] = [0]

    def __getattribute__(self, name: str) -> object:
        if name == "successors":
            _Read.reads[0] += 1
        return super().__getattribute__(name)


def test_a_provinces_rollup_reads_the_countrys_successions_once_not_once_per_agency() -> None:
    # A province of 300 former wards (ended 2025-06-30, each succeeded by one of 30 new wards)
    # among 3,000 other agencies: its supervisor's rollup was asked at every report request and
    # read every successor list of the country once per agency of the subtree (≈ 1 M reads,
    # seconds on the real country of ~14,000 versions).
    end, day = date(2025, 6, 30), date(2025, 7, 1)
    agencies = [_Read("P", "UBND P", AgencyLevel.PROVINCE)]
    agencies += [_Read(f"N{i}", f"UBND N{i}", AgencyLevel.COMMUNE, "P", valid_from=day) for i in range(30)]
    agencies += [
        _Read(f"O{i}", f"UBND O{i}", AgencyLevel.COMMUNE, "P", valid_to=end,
              successors=(Successor(f"N{i % 30}", day),))
        for i in range(300)
    ]  # fmt: skip
    agencies += [_Read(f"Z{i}", f"UBND Z{i}", AgencyLevel.COMMUNE, "Q") for i in range(3000)]
    h = Hierarchy(agencies)
    _Read.reads[0] = 0
    found = h.rollup_ever("P")
    assert found == {"P"} | {f"N{i}" for i in range(30)} | {f"O{i}" for i in range(300)}
    assert _Read.reads[0] <= 2 * len(agencies)
    # The report's agencies over a period across the reform: the same, read once.
    from projections.sla import agencies_during

    _Read.reads[0] = 0
    assert agencies_during(h, "N0", date(2025, 6, 15), date(2025, 7, 14), True) == {"N0"} | {
        f"O{i}" for i in range(0, 300, 30)
    }
    assert _Read.reads[0] <= 2 * len(agencies)
