"""The citizen's satisfaction rating: once, after the result was returned, by the desk or the citizen."""

from __future__ import annotations

import pytest

from domain import commands as c
from domain.decide import allowed_actions
from domain.dossier import Status
from domain.errors import ActorNotAllowed, RuleViolated
from domain.events import Actor, Outcome, Satisfaction, SatisfactionRecorded
from tests.unit.test_dossier import DISTRICT, WARD, Walk, officer, t

CITIZEN = Actor(agency_code="", user="citizen:R1", role="citizen")


def returned(at: str = "2026-03-02T10:00") -> Walk:
    w = Walk()
    w.run(c.DecideDossier(actor=officer(WARD), occurred_at=t("2026-03-02T09:00"), outcome=Outcome.APPROVED))
    w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-02T09:30")))
    w.run(c.ReturnResult(actor=officer(WARD), occurred_at=t(at)))
    return w


def rate(actor: Actor, at: str, rating: Satisfaction = Satisfaction.SATISFIED) -> c.RecordSatisfaction:
    return c.RecordSatisfaction(actor=actor, occurred_at=t(at), rating=rating)


def test_the_desk_records_it_once_after_the_result_was_returned() -> None:
    w = returned()
    assert allowed_actions(w.state, WARD, t("2026-03-02T10:05")) == ["satisfaction"]  # type: ignore[arg-type]
    state = w.run(rate(officer(WARD), "2026-03-02T10:05", Satisfaction.VERY_SATISFIED))
    assert state.satisfaction == Satisfaction.VERY_SATISFIED
    assert state.status == Status.RETURNED  # still returned: the rating is no processing step
    assert allowed_actions(state, WARD, t("2026-03-02T10:06")) == []
    with pytest.raises(RuleViolated, match="already recorded"):
        w.run(rate(CITIZEN, "2026-03-03T10:00"))


def test_the_citizen_records_it_on_behalf_of_nobody_but_the_desk() -> None:
    w = returned()
    decided = w.run(rate(CITIZEN, "2026-03-04T20:00", Satisfaction.NOT_SATISFIED))
    assert decided.satisfaction == Satisfaction.NOT_SATISFIED
    assert decided.version == 5  # received, decided, ready, returned, rated


def test_not_before_the_result_was_returned() -> None:
    w = Walk()
    with pytest.raises(RuleViolated, match="once the result was returned"):
        w.run(rate(officer(WARD), "2026-03-02T09:00"))
    w.run(c.DecideDossier(actor=officer(WARD), occurred_at=t("2026-03-02T09:00"), outcome=Outcome.APPROVED))
    w.run(c.MarkResultReady(actor=officer(WARD), occurred_at=t("2026-03-02T09:30")))
    with pytest.raises(RuleViolated, match="result_ready"):
        w.run(rate(CITIZEN, "2026-03-02T09:40"))


def test_only_the_receiving_desk_or_the_citizen() -> None:
    w = returned()
    with pytest.raises(ActorNotAllowed, match="receiving desk W"):
        w.run(rate(officer(DISTRICT), "2026-03-02T10:05"))
    with pytest.raises(ActorNotAllowed, match="inspector"):
        w.run(rate(Actor(agency_code="", user="i", role="inspector"), "2026-03-02T10:05"))
    assert allowed_actions(w.state, DISTRICT, t("2026-03-02T10:05")) == []  # type: ignore[arg-type]


def test_the_integration_role_is_recorded_as_the_desk() -> None:
    w = returned()
    portal = Actor(agency_code="", user="portal", role="integration")
    w.run(rate(portal, "2026-03-02T10:05"))
    assert w.state is not None and w.state.satisfaction == Satisfaction.SATISFIED


def test_the_event_names_its_rating() -> None:
    event = SatisfactionRecorded(
        occurred_at=t("2026-03-02T10:05"), actor=CITIZEN, rating=Satisfaction.SATISFIED
    )
    assert event.rating.value == "satisfied"
