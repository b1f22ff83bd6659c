"""Which dossiers and events an export holds, read straight from the event store.

Exports need each dossier's events together (a trace). Rather than sort the whole
log, the store is walked in creation order: the notification log, filtered to the
event types that open a stream, names each dossier once, and that dossier's
stream is loaded on its own. Memory holds one page of ids and one stream,
whatever the number of dossiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from domain.errors import InvalidValue
from domain.guards import INTEGRATION
from domain.legacy import is_synthesized
from gateways.eventstore.codec import DecodeError
from gateways.eventstore.store import EventStore, RecordedEvent

# A stream starts with one of these (seq 1).
_OPENING_TYPES = ("DossierSubmittedOnline", "DossierReceived")
_PAGE = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_date(text: str) -> bool:
    """Whether a bound is written as a day (2026-03-14), not an instant."""
    return _DATE.fullmatch(text.strip()) is not None


def parse_bound(text: str | None, tz: tzinfo, *, end: bool, name: str = "the bound") -> datetime | None:
    """A report bound: a date is a whole local day (`end`: inclusive), else an instant.

    An instant without offset is read as local time. `name` (the option, `--from`) names it
    in the message when it is no date (2026-02-30) or no instant.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    day_form, instant_form = "a date (YYYY-MM-DD, 2026-03-14)", "an ISO instant (2026-03-14T17:00:00+07:00)"
    if is_date(text):
        try:
            day = date.fromisoformat(text)
            if end:
                return datetime.combine(day + timedelta(days=1), time(), tz) - timedelta(microseconds=1)
            return datetime.combine(day, time(), tz)
        except ValueError as exc:  # 2026-13-01, 2026-02-30
            raise InvalidValue(
                f"{name} '{text}' is no day of the calendar ({exc}): give {day_form} or {instant_form}"
            ) from exc
        except OverflowError as exc:  # the last day of year 9999 has no day after it
            raise InvalidValue(f"{name} '{text}' is out of the range of dates this service handles") from exc
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidValue(f"{name} '{text}' is neither {day_form} nor {instant_form}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def agencies_named(envelope: dict[str, Any]) -> set[str]:
    """Every agency an event names: the acting one and any in its payload."""
    payload = envelope.get("payload") or {}
    names = {str(envelope.get("agency_code") or "")}
    for key in (
        "receiving_agency_code",
        "from_agency_code",
        "to_agency_code",
        "consulted_agency_code",
        "agency_code",
    ):
        value = payload.get(key)
        if value:
            names.add(str(value))
    names.discard("")
    return names


@dataclass(frozen=True)
class Selection:
    """Events with `start <= occurred_at <= end`, of dossiers `agency` took part in and of
    `procedure` (an imported log is a procedure of its own); the events an import synthesized
    (its receipts and case records) only with `synthesized` (what happened in the legacy
    system is what a miner wants by default). With `whole_cases`, the window chooses dossiers
    (those with an event in it) and each is exported with every event: a miner's model is
    not then fed cases cut in the middle."""

    start: datetime | None = None
    end: datetime | None = None
    agency: str | None = None
    synthesized: bool = False
    procedure: str | None = None
    whole_cases: bool = False

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise InvalidValue("--to is before --from")

    def shown(self, record: RecordedEvent) -> bool:
        """Whether the export writes this event at all (synthesized ones only when asked)."""
        return self.synthesized or not is_synthesized(record.envelope.get("actor"))

    def in_window(self, record: RecordedEvent) -> bool:
        if not self.shown(record):
            return False
        if self.start is None and self.end is None:
            return True
        at = datetime.fromisoformat(str(record.envelope["occurred_at"]))
        return (self.start is None or at >= self.start) and (self.end is None or at <= self.end)

    def involves_agency(self, records: list[RecordedEvent]) -> bool:
        """The agency took part in the dossier at any time of its history."""
        if self.agency is None:
            return True
        return any(self.agency in agencies_named(r.envelope) for r in records)


@dataclass(frozen=True)
class Trace:
    """One dossier's selected events, with facts from its whole stream."""

    dossier_id: str
    receipt_code: str
    procedure_code: str
    channel: str
    imported: bool
    events: list[RecordedEvent]  # the selected ones
    stream: list[RecordedEvent]  # the whole history, for facts as of each event
    case_id: str | None = None  # the case id in the legacy log it was imported from
    case_attributes: dict[str, Any] | None = None  # that case's attributes (typed values)


_TRACE = "LegacyTraceRecorded"


def unpacked(records: list[RecordedEvent]) -> list[RecordedEvent]:
    """The records with each imported trace (`LegacyTraceRecorded`) as the events it holds, as
    they would have been recorded one by one: its case record (`LegacyCaseRecorded`, at the
    receipt's time), then each of its events (`LegacyActivityRecorded`, at its own time, the
    unit it happened at acting). These share the trace's seq and hash; each has an event id of
    its own, the trace's with `.n` for its n-th event."""
    if not any(r.type == _TRACE for r in records):
        return records
    opened_at = records[0].envelope.get("occurred_at")
    out: list[RecordedEvent] = []
    for record in records:
        if record.type != _TRACE:
            out.append(record)
            continue
        envelope = record.envelope
        payload = envelope.get("payload") or {}
        out.append(
            RecordedEvent(
                {
                    **envelope,
                    "type": "LegacyCaseRecorded",
                    "occurred_at": opened_at or envelope["occurred_at"],
                    "payload": {
                        "case_id": payload.get("case_id"),
                        "attributes": payload.get("attributes") or {},
                    },
                },
                record.raw,
                record.notification_id,
            )
        )
        for n, activity in enumerate(payload.get("activities") or (), start=1):
            unit = activity.get("agency_code")
            out.append(
                RecordedEvent(
                    {
                        **envelope,
                        "event_id": f"{envelope.get('event_id')}.{n}",
                        "type": "LegacyActivityRecorded",
                        "occurred_at": activity.get("occurred_at"),
                        "agency_code": unit,
                        "actor": {"agency_code": unit, "user": activity.get("user"), "role": INTEGRATION},
                        "payload": {
                            "activity": activity.get("activity"),
                            "agency_code": unit,
                            "resource": activity.get("resource", ""),
                            "attributes": {},
                            "original": activity.get("original") or {},
                        },
                    },
                    record.raw,
                    record.notification_id,
                )
            )
    return out


def dossier_ids(store: EventStore) -> Iterator[str]:
    """Every dossier in the store, once, in the order they were created."""
    position = 0
    while True:
        page = store.recorder.select_notifications(
            position, _PAGE, topics=_OPENING_TYPES, inclusive_of_start=False
        )
        if not page:
            return
        for notification in page:
            if notification.originator_version == 1:
                yield str(notification.originator_id)
        position = page[-1].id


class History:
    """The selected dossiers' events, one dossier at a time (dossiers without any are left out).

    A dossier whose stored events cannot be read is left out and counted in
    `damaged`: `lienthong audit verify` names the record. A dossier the window cut (some of
    its events left out for their time) is counted in `cut`.
    """

    def __init__(self, store: EventStore, selection: Selection) -> None:
        self.store = store
        self.selection = selection
        self.damaged = 0
        self.cut = 0

    def __iter__(self) -> Iterator[Trace]:
        for dossier_id in dossier_ids(self.store):
            try:
                records = unpacked(self.store.load(dossier_id))
            except DecodeError:
                self.damaged += 1
                continue
            if not records or not self.selection.involves_agency(records):
                continue
            opening = records[0].envelope["payload"]
            procedure = self.selection.procedure
            if procedure is not None and str(opening.get("procedure_code", "")) != procedure:
                continue
            kept = [r for r in records if self.selection.in_window(r)]
            if not kept:
                continue
            shown = [r for r in records if self.selection.shown(r)]
            if self.selection.whole_cases:
                kept = shown
            elif len(kept) < len(shown):
                self.cut += 1
            received = next((r.envelope["payload"] for r in records if r.type == "DossierReceived"), opening)
            case = next((r.envelope["payload"] for r in records if r.type == "LegacyCaseRecorded"), None)
            yield Trace(
                dossier_id=dossier_id,
                receipt_code=str(opening.get("receipt_code", "")),
                procedure_code=str(opening.get("procedure_code", "")),
                channel=str(received.get("channel", "online")),
                imported=bool(received.get("imported", False)),
                events=kept,
                stream=records,
                case_id=str(case["case_id"]) if case else None,
                case_attributes=dict(case.get("attributes") or {}) if case else None,
            )
