"""The guards and the dossier's steps copy records as `dataclasses.replace` would.

`domain.guards.act_as` (the actor a decision records) and the step closed, paused, resumed or
reopened by `evolve` are copied with `domain.records.copy_with`. For random actors and random
dossier histories (the walks of tests/unit/test_batch_folds.py), every copy equals the one
`replace` makes and holds exactly the record's fields.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import decide as decide_module
from domain import guards
from domain.dossier import Step, evolve
from domain.errors import DomainError
from domain.events import Actor
from tests.unit.test_batch_folds import Move, history, moves

CODES = st.sampled_from(["", "DESK", "A", "B"])
ROLES = st.sampled_from(["integration", "officer", "citizen", "auditor"])


def _acted(actor: Actor, code: str) -> Actor | type[DomainError]:
    try:
        return guards.act_as(actor, code, "act")
    except DomainError as error:
        return type(error)


@given(CODES, st.sampled_from(["", "u", "clerk"]), ROLES, CODES)
@settings(max_examples=200, deadline=None)
def test_the_actor_a_guard_records_is_the_one_replace_makes(
    agency: str, user: str, role: str, code: str
) -> None:
    actor = Actor(agency_code=agency, user=user, role=role)
    fast = _acted(actor, code)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guards, "_with", dataclasses.replace)
        slow = _acted(actor, code)
    assert fast == slow
    if isinstance(fast, Actor):
        assert type(fast) is Actor and set(vars(fast)) == {f.name for f in dataclasses.fields(Actor)}
        assert fast.agency_code == code and actor.agency_code == agency  # the original is kept


@given(st.booleans(), st.integers(0, 60 * 24 * 20), st.lists(moves, max_size=24))
@settings(max_examples=100, deadline=None)
def test_every_step_and_actor_of_a_history_holds_exactly_its_fields(
    online: bool, minutes: int, walk: list[Move]
) -> None:
    start = datetime.fromisoformat("2026-03-02T08:00+07:00") + timedelta(minutes=minutes)
    fast = history("d0", online, start, walk)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guards, "_with", dataclasses.replace)
        patch.setattr(decide_module, "_with", dataclasses.replace)
        slow = history("d0", online, start, walk)
    assert fast == slow
    step_fields = {f.name for f in dataclasses.fields(Step)}
    state = None
    for event in fast:
        assert set(vars(event.actor)) == {f.name for f in dataclasses.fields(Actor)}
        state = evolve(state, event)
        assert all(set(vars(step)) == step_fields for step in state.steps)
