"""The citizen's satisfaction rating (đánh giá mức độ hài lòng), recorded once per dossier
after its result was returned.

Unlike every other command it comes after the terminal state `returned`: it records no step
of the processing, only how the citizen judged the service (the indicators of
Decision 766/QĐ-TTg count it). Who records it: the receiving desk (an officer of that agency,
or the integration role acting for it) asking the citizen at the counter, or the citizen
through the lookup (role `citizen`; the gateway checked the receipt code and its secret).
"""

from __future__ import annotations

from dataclasses import replace

from domain import commands as cmd
from domain import events as ev
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier, Status
from domain.errors import ActorNotAllowed, RuleViolated

CITIZEN = "citizen"
ACTION = "satisfaction"
_DESK_ROLES = frozenset({"officer", "integration"})


def _recorder(state: Dossier, actor: ev.Actor) -> ev.Actor:
    """The actor as recorded: always on behalf of the receiving desk."""
    desk = state.receiving_agency_code
    if actor.role in (CITIZEN, "integration"):
        return replace(actor, agency_code=desk)
    if actor.role not in _DESK_ROLES:
        raise ActorNotAllowed(f"role '{actor.role}' may not record the citizen's satisfaction")
    if actor.agency_code != desk:
        raise ActorNotAllowed(
            f"only the receiving desk {desk} records the citizen's satisfaction; "
            f"you act for {actor.agency_code or 'no agency'}"
        )
    return actor


def record_satisfaction(
    state: Dossier, c: cmd.RecordSatisfaction, cal: WorkingCalendar
) -> list[ev.DossierEvent]:
    actor = _recorder(state, c.actor)
    if state.status != Status.RETURNED:
        raise RuleViolated(
            f"satisfaction is recorded once the result was returned; dossier {state.receipt_code} "
            f"is {state.status.value}"
        )
    if state.satisfaction is not None:
        raise RuleViolated(
            f"the citizen's satisfaction with dossier {state.receipt_code} was already recorded "
            f"({state.satisfaction.value}); it is recorded once"
        )
    return [ev.SatisfactionRecorded(occurred_at=c.occurred_at, actor=actor, rating=ev.Satisfaction(c.rating))]


def satisfaction_actions(state: Dossier, agency_code: str | None) -> list[str]:
    """The one action left on a returned dossier, for the desk (None: the integration role)."""
    if state.status != Status.RETURNED or state.satisfaction is not None:
        return []
    if agency_code is not None and agency_code != state.receiving_agency_code:
        return []
    return [ACTION]
