"""The cutover (chuyển giao khi sắp xếp tổ chức): open dossiers of ended agencies move to
their successors, through the write path, recorded by the system.

For every cutover day up to the one asked (a successor's `valid_from`), the open dossiers an
ended agency holds, awaits in transit, or received at its desk are found in the dossier index
and decided on their state in the event store (`domain.succession`): the decision is the
authority, so a second run moves nothing, and a dossier the index had not yet seen is moved
by the next run. Which successor takes a dossier: `Hierarchy.heir_on`, preferring the
successor of the dossier's own desk (a district split into many wards hands a dossier to the
ward that serves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from domain import commands as cmd
from domain import events as ev
from domain.agencies import Hierarchy
from domain.decide import decide
from domain.dossier import Dossier
from domain.succession import SYSTEM, Heir
from gateways.application.service import DossierService
from gateways.views.dossier_index import DossierIndex

SYSTEM_ACTOR = ev.Actor(agency_code="", user="cutover", role=SYSTEM)


@dataclass(frozen=True)
class Move:
    """One succession event that was (or, in a dry run, would be) recorded."""

    dossier_id: str
    receipt_code: str
    at: datetime
    from_agency_code: str
    to_agency_code: str
    parts: tuple[str, ...]  # holder | pending | desk | consulted
    basis: str


def cutover_instant(day: date, service: DossierService) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=service.calendar.tz)


def ended_on(hierarchy: Hierarchy, day: date) -> dict[str, str]:
    """Agencies whose successors take over on `day`, with the legal basis of the ending."""
    return {
        agency.code: agency.basis
        for agency in hierarchy
        if agency.successors and any(s.valid_from == day for s in agency.successors)
    }


def heirs_for(state: Dossier, hierarchy: Hierarchy, day: date, ended: dict[str, str]) -> tuple[Heir, ...]:
    involved = [
        code
        for code in (state.holder_agency_code, state.pending_handoff_to, state.receiving_agency_code)
        if code in ended
    ]
    involved += sorted(code for code in state.open_consultations if code in ended)
    desk_heir = hierarchy.heir_on(state.receiving_agency_code, day)
    heirs: list[Heir] = []
    for code in dict.fromkeys(involved):
        successor = hierarchy.heir_on(code, day, prefer=[desk_heir])
        if successor != code:
            heirs.append(Heir(code, successor, ended[code]))
    return tuple(heirs)


def cutover(
    service: DossierService, index: DossierIndex, until: date, dry_run: bool, reason: str = ""
) -> list[Move]:
    """Move (or list, when `dry_run`) what every cutover up to `until` moves, in order."""
    hierarchy = service.catalogue.hierarchy
    moves: list[Move] = []
    for day in (d for d in hierarchy.cutover_days() if d <= until):
        ended = ended_on(hierarchy, day)
        instant = cutover_instant(day, service)
        for dossier_id in index.open_involving(sorted(ended)):
            moves += _move_one(service, hierarchy, dossier_id, day, instant, ended, dry_run, reason)
    return moves


def _command(state: Dossier, heirs: tuple[Heir, ...], instant: datetime, reason: str) -> cmd.RecordSuccession:
    # Never before the dossier's last event: event times do not go backwards.
    at = max(instant, state.last_occurred_at)
    return cmd.RecordSuccession(actor=SYSTEM_ACTOR, occurred_at=at, heirs=heirs, reason=reason)


def _move_one(
    service: DossierService,
    hierarchy: Hierarchy,
    dossier_id: str,
    day: date,
    instant: datetime,
    ended: dict[str, str],
    dry_run: bool,
    reason: str,
) -> list[Move]:
    state = service.load(dossier_id).state
    if state is None:
        return []
    heirs = heirs_for(state, hierarchy, day, ended)
    if not heirs:
        return []
    events = decide(state, _command(state, heirs, instant, reason), service.calendar)
    if not events:
        return []
    if not dry_run:
        service.execute(dossier_id, lambda current: _command(current, heirs, instant, reason))
    return [_as_move(state, e) for e in events if isinstance(e, ev.HolderSucceeded)]


def _as_move(state: Dossier, e: ev.HolderSucceeded) -> Move:
    parts = tuple(name for name in ("holder", "pending", "desk", "consulted") if getattr(e, name))
    return Move(
        dossier_id=state.id,
        receipt_code=state.receipt_code,
        at=e.occurred_at,
        from_agency_code=e.from_agency_code,
        to_agency_code=e.to_agency_code,
        parts=parts,
        basis=e.basis,
    )
