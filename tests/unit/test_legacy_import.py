"""`decide_trace` gives the events, and the state, of one command per event.

The reference is the per-event path of the importer in domain terms: each command decided
by `decide` on the state `evolve` folded so far — the receipt, the case record, then per
event a handoff and its acceptance when the group changes (when groups are followed), a
lienthong lifecycle command when the event names one (recorded as legacy when refused),
and the legacy activity.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import commands as cmd
from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.errors import DomainError
from domain.legacy import RecordLegacyCase
from domain.legacy_import import (
    HANDOFF_REFUSED,
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
    opening: cmd.ReceiveDossier, case: RecordLegacyCase, steps: list[TraceStep], *, follow_groups: bool
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

    run(opening)
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
        elif follow_groups and step.group is not None and step.group != current.holder_agency_code:
            try:
                if current.pending_handoff_to is None:
                    current = run(
                        cmd.HandOff(actor=SYNTHESIZED, occurred_at=step.at, to_agency_code=step.group)
                    )
                if current.pending_handoff_to == step.group:
                    current = run(cmd.AcceptHandoff(actor=SYNTHESIZED, occurred_at=step.at))
            except DomainError:
                unmapped[HANDOFF_REFUSED] += 1
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
def test_a_legacy_trace_gives_the_events_of_one_command_per_event(
    steps: list[TraceStep], procedure: Procedure
) -> None:
    decided = decide_trace(receipt(START, procedure), _case(), steps, remembering(CAL), follow_groups=True)
    events, state, unmapped = per_event(receipt(START, procedure), _case(), steps, follow_groups=True)
    assert decided.events == events
    assert decided.state == state
    assert decided.unmapped == unmapped
    assert decided.legacy == len(steps)
    assert decided.synthesized == sum(isinstance(e, ev.HandedOff | ev.HandoffAccepted) for e in events)


@given(traces(replays=True), PROCEDURES)
@settings(max_examples=200, deadline=None)
def test_an_exported_trace_replays_as_one_command_per_event(
    steps: list[TraceStep], procedure: Procedure
) -> None:
    decided = decide_trace(receipt(START, procedure), _case(), steps, CAL, follow_groups=False)
    events, state, unmapped = per_event(receipt(START, procedure), _case(), steps, follow_groups=False)
    assert decided.events == events
    assert decided.state == state
    assert decided.unmapped == unmapped
    assert decided.mapped + decided.legacy == len(steps)


def test_a_change_of_group_is_a_handoff_and_its_acceptance() -> None:
    later = START + timedelta(days=1)
    steps = [
        TraceStep(at=START, activity="Register", group=DESK, user="Anna", resource="Anna", original={}),
        TraceStep(at=later, activity="Check", group="A", user="Binh", resource="Binh", original={}),
    ]
    decided = decide_trace(receipt(START), _case(), steps, CAL, follow_groups=True)
    kinds = [type(e).__name__ for e in decided.events]
    assert kinds == [
        "DossierReceived",
        "LegacyCaseRecorded",
        "LegacyActivityRecorded",
        "HandedOff",
        "HandoffAccepted",
        "LegacyActivityRecorded",
    ]
    assert decided.state.holder_agency_code == "A" and decided.handoffs_inferred == 1


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
