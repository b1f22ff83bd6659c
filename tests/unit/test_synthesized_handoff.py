"""The synthesized handoff's fast path gives what `decide` and `evolve` give.

`domain.legacy_import._handed_over` builds a synthesized handoff and its acceptance, and
folds them in one copy of the state, when the rules are sure to allow both. On random
dossiers (random legacy traces, lifecycle events replayed on them: received, in process,
paused, in transit, decided, closed, with routed procedures and off-route steps) and a
random group and instant, it must either do nothing or give exactly the events, state and
counts of the two commands decided one by one (`_follow_group` without the fast path).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import commands as cmd
from domain import events as ev
from domain.decide import decide
from domain.dossier import Dossier, Status, evolve
from domain.errors import DomainError
from domain.legacy_import import (
    HANDOFF_REFUSED,
    SYNTHESIZED,
    DecidedTrace,
    TraceStep,
    _handed_over,
    decide_trace,
    remembering,
)
from domain.procedures import Procedure
from tests.unit.test_legacy_import import CAL, DESK, PROCEDURES, START, _case, receipt, traces


def _by_commands(out: DecidedTrace, group: str, at: datetime) -> None:
    """The old path: a HandOff, then an AcceptHandoff, each decided and folded."""

    def apply(command: cmd.Command) -> None:
        decided = decide(out.state, command, CAL)
        state: Dossier = out.state
        for event in decided:
            state = evolve(state, event)
        out.state = state
        out.events.extend(decided)

    try:
        if out.state.pending_handoff_to is None:
            apply(cmd.HandOff(actor=SYNTHESIZED, occurred_at=at, to_agency_code=group))
            out.handoffs_inferred += 1
            out.synthesized += 1
        if out.state.pending_handoff_to == group:
            apply(cmd.AcceptHandoff(actor=SYNTHESIZED, occurred_at=at))
            out.synthesized += 1
    except DomainError:
        out.unmapped[HANDOFF_REFUSED] += 1


def _snapshot(out: DecidedTrace) -> tuple[object, ...]:
    return (list(out.events), out.state, out.synthesized, out.handoffs_inferred, dict(out.unmapped))


@given(
    traces(replays=True),
    PROCEDURES,
    st.sampled_from([DESK, "A", "B", "C", " B", ""]),
    st.sampled_from([-60 * 24, 0, 5, 90, 60 * 20, 60 * 24 * 9]),
)
@settings(max_examples=400, deadline=None)
def test_the_fast_path_gives_the_events_and_state_of_the_two_commands(
    steps: list[TraceStep], procedure: Procedure, group: str, minutes: int
) -> None:
    out = decide_trace(receipt(START, procedure), _case(), steps, CAL, follow_groups=False)
    at = out.state.last_occurred_at + timedelta(minutes=minutes)
    fast, slow = copy.deepcopy(out), copy.deepcopy(out)
    before = _snapshot(fast)
    if _handed_over(fast, group, at, remembering(CAL)):
        _by_commands(slow, group, at)
        assert _snapshot(fast) == _snapshot(slow)
        assert [type(e) for e in fast.events[-2:]] == [ev.HandedOff, ev.HandoffAccepted]
    else:
        assert _snapshot(fast) == before


def test_the_fast_path_is_taken_for_a_running_dossier_moving_to_another_group() -> None:
    out = decide_trace(receipt(START), _case(), [], CAL, follow_groups=True)
    assert out.state.status == Status.RECEIVED
    at = START + timedelta(days=2)
    slow = copy.deepcopy(out)
    assert _handed_over(out, "A", at, CAL)
    _by_commands(slow, "A", at)
    assert _snapshot(out) == _snapshot(slow)
    after = out.state
    assert after.holder_agency_code == "A" and after.status == Status.IN_PROCESS
    assert after.steps[0].left_at == at and after.steps[-1].segment_start == at
