"""The next route step for an agency, found reading only as many steps as needed, is the one
the whole walk over the steps done finds, on the histories the batch-fold properties use
(handoffs, returns, successions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings

from domain.dossier import Dossier, evolve
from tests.unit.test_batch_folds import AGENCIES, dossier, history


def reference(state: Dossier, agency_code: str) -> int | None:
    """The rule as written: the first route step of the agency (or one it succeeds) that is
    neither closed nor the current step."""
    done = state.done_route_indices()
    current = state.current_step
    if current is not None and current.route_index is not None:
        done.add(current.route_index)
    names = {agency_code}
    names |= {ended for successor, ended in state.succeeded if successor in names}
    return next(
        (i for i, step in enumerate(state.route) if i not in done and step.agency_code in names), None
    )


@settings(max_examples=150, deadline=None)
@given(dossier)
def test_the_next_route_step_is_the_one_the_rule_names(spec: tuple[bool, int, list[Any]]) -> None:
    online, minutes, moves = spec
    start = datetime.fromisoformat("2026-03-02T08:00+07:00") + timedelta(minutes=minutes)
    state: Dossier | None = None
    for event in history("d0", online, start, moves):
        state = evolve(state, event)
        agencies = {*AGENCIES, *(step.agency_code for step in state.route)}
        agencies |= {successor for successor, _ended in state.succeeded}
        for agency in sorted(agencies):
            assert state.next_route_step_for(agency) == reference(state, agency), agency
