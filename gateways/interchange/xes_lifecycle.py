"""The lienthong lifecycle events an exported log names (`lienthong:type`), as the commands
that replay them on import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain import commands as cmd
from domain.errors import InvalidValue
from domain.events import Actor, Outcome
from gateways.interchange.xes import LIENTHONG_PREFIX, XesEvent

LIFECYCLE_TYPES = frozenset(
    {
        "HandedOff",
        "HandoffAccepted",
        "HandoffReturned",
        "DossierDecided",
        "ResultReady",
        "ResultReturned",
        "DossierWithdrawn",
        "ProcessingStopped",
    }
)


def lienthong_type(event: XesEvent) -> str | None:
    """The event type of an event exported by lienthong (None for a legacy log's event)."""
    return event.text(LIENTHONG_PREFIX + "type")


def _attr(event: XesEvent, name: str, default: str = "") -> str:
    return (event.text(LIENTHONG_PREFIX + name) or "").strip() or default


def _outcome(event: XesEvent) -> Outcome:
    try:
        return Outcome(_attr(event, "outcome"))
    except ValueError as exc:
        raise InvalidValue("DossierDecided without a valid lienthong:outcome") from exc


def handoff_target(event: XesEvent) -> str:
    """The agency a replayed handoff names ("" when none): the one agency a lifecycle event of
    an export names, so the one its replay may add to the catalogue."""
    return _attr(event, "to_agency_code") if lienthong_type(event) == "HandedOff" else ""


def lifecycle_command(
    event: XesEvent, actor: Actor, at: datetime, agency_code: Callable[[str], str]
) -> cmd.Command | None:
    """The command that replays a lienthong lifecycle activity (a log lienthong exported)."""
    match lienthong_type(event):
        case "HandedOff":
            target = handoff_target(event)
            if not target:
                raise InvalidValue("HandedOff without lienthong:to_agency_code")
            return cmd.HandOff(
                actor=actor,
                occurred_at=at,
                to_agency_code=agency_code(target),
                note=_attr(event, "note"),
            )
        case "HandoffAccepted":
            return cmd.AcceptHandoff(actor=actor, occurred_at=at)
        case "HandoffReturned":
            return cmd.ReturnHandoff(
                actor=actor, occurred_at=at, reason=_attr(event, "reason", "returned (imported history)")
            )
        case "DossierDecided":
            return cmd.DecideDossier(
                actor=actor,
                occurred_at=at,
                outcome=_outcome(event),
                decision_number=_attr(event, "decision_number"),
            )
        case "ResultReady":
            return cmd.MarkResultReady(actor=actor, occurred_at=at)
        case "ResultReturned":
            return cmd.ReturnResult(actor=actor, occurred_at=at)
        case "DossierWithdrawn":
            return cmd.Withdraw(
                actor=actor, occurred_at=at, reason=_attr(event, "reason", "withdrawn (imported history)")
            )
        case "ProcessingStopped":
            return cmd.StopProcessing(
                actor=actor, occurred_at=at, reason=_attr(event, "reason", "stopped (imported history)")
            )
    return None
