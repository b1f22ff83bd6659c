"""`decide_trace` gives the events, and the state, of the per-event path's commands.

The reference is the per-event path of the importer in domain terms: each command decided
by `decide` on the state `evolve` folded so far — the receipt; for a foreign log's trace one
`RecordLegacyTrace` (its case and every event); for a lienthong export's, the case record, then
per event the lifecycle command it names (recorded as legacy when refused) or the legacy
activity.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import commands as cmd
from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.errors import DomainError, InvalidValue, RuleViolated
from domain.legacy import LegacyStep, RecordLegacyCase, RecordLegacyTrace
from domain.legacy_import import (
    NO_ACTIVITY,
    NO_GROUP,
    SYNTHESIZED,
    TraceStep,
    decide_trace,
    remembering,
    replay_refused,
)
from domain.procedures import Procedure, RouteStep, SupplementPolicy

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar(tz=VN)
START = datetime(2024, 3, 1, 8, 0, tzinfo=VN)
DESK = "DESK"
PROCEDURE = Procedure(
    code="IMPORTED-test",
    name="Imported history: test",
    field="imported",
    deadline_working_hours=120.0,
    supplement_policy=SupplementPolicy.RESTART,
    route=(RouteStep(agency_code=DESK, budget_working_hours=120.0),),
)
# A lienthong export may name a catalogued procedure: handoffs then follow route steps.
ROUTED = Procedure(
    code="CATALOGUED",
    name="Catalogued",
    field="test",
    deadline_working_hours=120.0,
    supplement_policy=SupplementPolicy.RESTART,
    route=(
        RouteStep(agency_code=DESK, budget_working_hours=16.0),
        RouteStep(agency_code="A", budget_working_hours=80.0),
        RouteStep(agency_code="B", budget_working_hours=16.0),
        RouteStep(agency_code=DESK, budget_working_hours=8.0),
    ),
)
PROCEDURES = st.sampled_from([PROCEDURE, ROUTED])


def receipt(at: datetime, procedure: Procedure = PROCEDURE) -> cmd.ReceiveDossier:
    return cmd.ReceiveDossier(
        actor=SYNTHESIZED,
        occurred_at=at,
        dossier_id="7b4c3d3e-3f0a-4f53-9d2b-2a1f6b3c1d00",
        receipt_code="DESK-240301-7B4C3D",
        procedure=procedure,
        channel=ev.Channel.DIRECT,
        receiving_agency_code=DESK,
        applicant={},
        lookup_secret_hash="",
        imported=True,
    )


def per_event(
    opening: cmd.ReceiveDossier, case: RecordLegacyCase, steps: list[TraceStep], *, exported: bool
) -> tuple[list[ev.DossierEvent], Dossier, Counter[str]]:
    events: list[ev.DossierEvent] = []
    unmapped: Counter[str] = Counter()
    state: Dossier | None = None

    def run(command: cmd.Command) -> Dossier:
        nonlocal state
        decided = decide(state, command, CAL)
        for event in decided:
            state = evolve(state, event)
        events.extend(decided)
        assert state is not None
        return state

    current = run(opening)
    if not exported:
        # A foreign log: its case and events in one command, each event at the unit its group
        # names, else the last one named (the desk at first).
        unit, recorded = DESK, []
        for step in steps:
            if step.group is None:
                unmapped[NO_GROUP] += 1
            else:
                unit = step.group
            if not step.activity:
                unmapped[NO_ACTIVITY] += 1
            recorded.append(
                LegacyStep(
                    step.at, step.activity or "(unnamed)", unit, step.user, step.resource, step.original
                )
            )
        last = max([START, *(step.at for step in steps)])
        command = RecordLegacyTrace(
            actor=case.actor,
            occurred_at=last,
            case_id=case.case_id,
            attributes=case.attributes,
            steps=recorded,
        )
        return events, run(command), unmapped
    current = run(case)
    for step in steps:
        if step.replay is not None or step.replay_problem is not None:
            if step.replay is None:
                assert step.replay_problem is not None
                unmapped[step.replay_problem] += 1
            else:
                try:
                    current = run(step.replay)
                    continue
                except DomainError:
                    unmapped[replay_refused(step.activity)] += 1
        if step.group is None:
            unmapped[NO_GROUP] += 1
        if not step.activity:
            unmapped[NO_ACTIVITY] += 1
        current = run(
            cmd.RecordLegacyActivity(
                actor=ev.Actor(agency_code="", user=step.user, role="integration"),
                occurred_at=step.at,
                activity=step.activity or "(unnamed)",
                agency_code=step.group or current.holder_agency_code,
                resource=step.resource,
                original=step.original,
            )
        )
    return events, current, unmapped


def _officer(agency: str) -> ev.Actor:
    return ev.Actor(agency_code="", user="clerk", role="integration")


REPLAYS: list[Any] = [
    None,
    None,
    None,
    lambda at, group: cmd.HandOff(actor=_officer(group), occurred_at=at, to_agency_code=group or "B"),
    lambda at, group: cmd.AcceptHandoff(actor=_officer(group), occurred_at=at),
    lambda at, group: cmd.DecideDossier(
        actor=_officer(group), occurred_at=at, outcome=ev.Outcome.APPROVED, decision_number="1"
    ),
    lambda at, group: cmd.MarkResultReady(actor=_officer(group), occurred_at=at),
    lambda at, group: cmd.ReturnResult(actor=_officer(group), occurred_at=at),
    lambda at, group: cmd.StopProcessing(actor=_officer(group), occurred_at=at, reason="stopped"),
    "DossierDecided without the attributes to replay it: recorded as legacy",
]


@st.composite
def traces(draw: st.DrawFn, replays: bool) -> list[TraceStep]:
    steps = []
    at = START
    for n in range(draw(st.integers(min_value=0, max_value=12))):
        at += timedelta(minutes=draw(st.sampled_from([0, 5, 90, 60 * 20, 60 * 24 * 4])))
        group = draw(st.sampled_from([DESK, "A", "B", "C", None]))
        replay = draw(st.sampled_from(REPLAYS)) if replays else None
        resource = draw(st.sampled_from(["", "Anna", "xes-import"]))
        steps.append(
            TraceStep(
                at=at,
                activity=draw(st.sampled_from(["", "Register", "Check"])),
                group=group,
                user=resource or "",
                resource=resource,
                original={"concept:name": {"type": "string", "value": f"e{n}"}},
                replay=replay(at, group) if callable(replay) else None,
                replay_problem=replay if isinstance(replay, str) else None,
            )
        )
    return steps


def _case() -> RecordLegacyCase:
    return RecordLegacyCase(actor=SYNTHESIZED, occurred_at=START, case_id="case-1", attributes={"x": {}})


@given(traces(replays=False), PROCEDURES)
@settings(max_examples=200, deadline=None)
def test_a_legacy_trace_gives_the_events_of_its_commands(
    steps: list[TraceStep], procedure: Procedure
) -> None:
    decided = decide_trace(receipt(START, procedure), _case(), steps, remembering(CAL), exported=False)
    events, state, unmapped = per_event(receipt(START, procedure), _case(), steps, exported=False)
    assert decided.events == events
    assert decided.state == state
    assert decided.unmapped == unmapped
    assert decided.legacy == len(steps)
    # The receipt, then the whole trace in one event; nothing synthesized off the groups.
    assert [type(e).__name__ for e in decided.events] == ["DossierReceived", "LegacyTraceRecorded"]
    assert decided.state.holder_agency_code == DESK and decided.state.external_case_id == "case-1"


@given(traces(replays=True), PROCEDURES)
@settings(max_examples=200, deadline=None)
def test_an_exported_trace_replays_as_one_command_per_event(
    steps: list[TraceStep], procedure: Procedure
) -> None:
    decided = decide_trace(receipt(START, procedure), _case(), steps, CAL, exported=True)
    events, state, unmapped = per_event(receipt(START, procedure), _case(), steps, exported=True)
    assert decided.events == events
    assert decided.state == state
    assert decided.unmapped == unmapped
    assert decided.mapped + decided.legacy == len(steps)


def test_each_event_of_a_trace_happened_at_the_unit_its_group_names() -> None:
    later = START + timedelta(days=1)
    steps = [
        TraceStep(at=START, activity="Register", group=DESK, user="Anna", resource="Anna", original={}),
        TraceStep(at=later, activity="Check", group="A", user="Binh", resource="Binh", original={"k": {}}),
        TraceStep(at=later, activity="", group=None, user="", resource="", original={}),
    ]
    decided = decide_trace(receipt(START), _case(), steps, CAL, exported=False)
    _received, trace = decided.events
    assert isinstance(trace, ev.LegacyTraceRecorded) and trace.occurred_at == later
    # Each event as the per-event path of earlier imports recorded it.
    assert [(a["activity"], a["agency_code"], a["user"], a["occurred_at"]) for a in trace.activities] == [
        ("Register", DESK, "Anna", START.isoformat()),
        ("Check", "A", "Binh", later.isoformat()),
        ("(unnamed)", "A", "", later.isoformat()),  # no group: where the last one named was
    ]
    assert decided.unmapped == Counter({NO_GROUP: 1, NO_ACTIVITY: 1})
    # The log's units are on its events; the dossier stays with the desk that received it.
    assert decided.state.holder_agency_code == DESK and decided.state.status.value == "in_process"


def test_a_trace_out_of_time_order_or_unnamed_is_refused() -> None:
    state = decide_trace(receipt(START), _case(), [], CAL, exported=False).state
    later = START + timedelta(hours=1)
    backwards = [
        LegacyStep(later, "a", DESK, "", "", {}),
        LegacyStep(START, "b", DESK, "", "", {}),
    ]
    fresh = evolve(None, decide(None, receipt(START), CAL)[0])
    with pytest.raises(RuleViolated, match="time order"):
        decide(
            fresh, RecordLegacyTrace(actor=SYNTHESIZED, occurred_at=later, case_id="c", steps=backwards), CAL
        )
    with pytest.raises(InvalidValue, match="activity"):
        decide(
            fresh,
            RecordLegacyTrace(
                actor=SYNTHESIZED,
                occurred_at=START,
                case_id="c",
                steps=[LegacyStep(START, " ", DESK, "", "", {})],
            ),
            CAL,
        )
    with pytest.raises(RuleViolated, match="already names its legacy case"):
        decide(state, RecordLegacyTrace(actor=SYNTHESIZED, occurred_at=START, case_id="c"), CAL)


HOLIDAYS = WorkingCalendar(
    tz=VN,
    days_off=frozenset({date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 1), date(2024, 9, 2)}),
    extra_working_days=frozenset({date(2024, 5, 4)}),
)


@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 1, 1), timezones=st.just(VN)),
    st.sampled_from([0.5, 8.0, 16.0, 120.0, 400.0]),
    st.sampled_from([CAL, HOLIDAYS]),
)
@settings(max_examples=300, deadline=None)
def test_a_remembering_calendar_answers_as_the_calendar(
    at: datetime, hours: float, calendar: WorkingCalendar
) -> None:
    again = remembering(calendar)
    for _ in range(2):  # the second time from what it remembers
        assert again.add_working_hours(at, hours) == calendar.add_working_hours(at, hours)
        assert again.counting_start(at, hours) == calendar.counting_start(at, hours)
        assert again.next_working_day(at.date()) == calendar.next_working_day(at.date())
        assert again.working_days_after(at.date(), 15) == calendar.working_days_after(at.date(), 15)
