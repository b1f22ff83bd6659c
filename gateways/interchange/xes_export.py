"""Write dossier history as an XES log (IEEE 1849-2016), one trace per dossier.

Written element by element as the store is read: nothing is built in memory beyond
the current trace. The file follows the standard's XML schema (`schemas/`), which has
no target namespace, so the elements carry none; `xes.version` is the decimal 1849.2016.

Imported history is written as the legacy log had it: the trace's case id and
attributes, and each `LegacyActivityRecorded` with every attribute it was imported with
(types, order, timestamp text, lists and nested attributes), plus the trace attributes
`lienthong:dossier_id` and `lienthong:procedure`, from which an import finds the same
dossier again. So export -> import -> export writes the same bytes. Events an import
synthesized are left out unless the selection asks for them.

Other events: `concept:name` (the event type, or the legacy step's activity),
`time:timestamp` (with its offset), `org:group` (the agency that acted), `org:resource`
(the user), `lifecycle:transition` (`complete`: lienthong records facts once done), and
`lienthong:*` attributes (seq, hash, type, procedure and the event's scalar fields), from
which a lienthong import replays handoffs and results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from xml.sax.saxutils import quoteattr

from gateways.eventstore.store import RecordedEvent
from gateways.interchange.fields import activity_of, payload_fields
from gateways.interchange.selection import Trace
from gateways.interchange.xes import (
    EXTENSIONS,
    GROUP,
    LIENTHONG_PREFIX,
    NAME,
    POSITION,
    RESOURCE,
    TIMESTAMP,
    TRANSITION,
)

LOG_NAME = "lienthong export"
XES_VERSION = "1849.2016"  # xs:decimal, as the standard's schema requires
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _q(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value))


def _attribute(kind: str, key: str, value: Any) -> str:
    if kind == "boolean":
        value = "true" if value else "false"
    return f"<{kind} key={_q(key)} value={_q(str(value))}/>"


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def typed_xml(key: str, typed: Mapping[str, Any], indent: str) -> str:
    """One typed value (`domain.legacy`) as its XES element, nested attributes included."""
    kind = str(typed.get("type", "string"))
    children = typed.get("children") or {}
    inner = "".join(typed_xml(k, v, indent + "\t") for k, v in children.items())
    if kind in ("list", "container"):
        # IEEE 1849-2016 has one collection, the list: a container read from an older XES is
        # written as one, its items in order with their keys (docs/decisions.md, entry 147).
        items = "".join(
            typed_xml(str(i.get("key", "")), i, indent + "\t\t") for i in typed.get("value") or []
        )
        values = f"{indent}\t<values>\n{items}{indent}\t</values>\n" if items else f"{indent}\t<values/>\n"
        return f"{indent}<list key={_q(key)}>\n{inner}{values}{indent}</list>\n"
    head = f"{indent}<{kind} key={_q(key)} value={_q(_lexical(typed.get('value', '')))}"
    if inner:
        return f"{head}>\n{inner}{indent}</{kind}>\n"
    return head + "/>\n"


def _position(record: RecordedEvent) -> int | None:
    if record.type != "LegacyActivityRecorded":
        return None
    original = (record.envelope.get("payload") or {}).get("original") or {}
    place = original.get(POSITION)
    return place.get("value") if isinstance(place, dict) else None


def in_log_order(records: list[RecordedEvent]) -> list[RecordedEvent]:
    """The records in store (time) order, except that the imported events of a trace whose
    times went back take their places as the log wrote them, among the slots they hold."""
    places = [_position(r) for r in records]
    slots = [i for i, place in enumerate(places) if place is not None]
    if not slots:
        return records
    out = list(records)
    for slot, source in zip(slots, sorted(slots, key=lambda i: places[i] or 0), strict=True):
        out[slot] = records[source]
    return out


class XesWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.traces = 0
        self.events = 0

    def start(self, log_attributes: dict[str, str]) -> None:
        w = self.out.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n')
        w(f'<log xes.version="{XES_VERSION}" xes.features="nested-attributes">\n')
        for prefix, (name, uri) in EXTENSIONS.items():
            w(f"\t<extension name={_q(name)} prefix={_q(prefix)} uri={_q(uri)}/>\n")
        # Only what every trace and event has is global (a missing resource stays missing).
        w('\t<global scope="trace">\n\t\t' + _attribute("string", NAME, "__INVALID__") + "\n\t</global>\n")
        w('\t<global scope="event">\n')
        w("\t\t" + _attribute("string", NAME, "__INVALID__") + "\n")
        w("\t\t" + _attribute("date", TIMESTAMP, "1970-01-01T00:00:00.000+00:00") + "\n")
        w("\t</global>\n")
        w(f'\t<classifier name="Activity" keys="{NAME}"/>\n')
        w("\t" + _attribute("string", NAME, LOG_NAME) + "\n")
        for key, value in log_attributes.items():
            w("\t" + _attribute("string", LIENTHONG_PREFIX + key, value) + "\n")

    def trace(self, trace: Trace) -> None:
        w = self.out.write
        w("\t<trace>\n")
        if trace.case_id is not None:
            attributes = dict(trace.case_attributes or {})
            if NAME not in attributes:
                w("\t\t" + _attribute("string", NAME, trace.case_id) + "\n")
            for key, typed in attributes.items():
                w(typed_xml(key, typed, "\t\t"))
            for name, text in (("dossier_id", trace.dossier_id), ("procedure", trace.procedure_code)):
                w("\t\t" + _attribute("string", LIENTHONG_PREFIX + name, text) + "\n")
        else:
            w("\t\t" + _attribute("string", NAME, trace.receipt_code or trace.dossier_id) + "\n")
            for kind, key, value in (
                ("string", "lienthong:dossier_id", trace.dossier_id),
                ("string", "lienthong:procedure", trace.procedure_code),
                ("string", "channel", trace.channel),
                ("boolean", "lienthong:imported", trace.imported),
            ):
                w("\t\t" + _attribute(kind, key, value) + "\n")
        for record in in_log_order(trace.events):
            if record.type == "LegacyCaseRecorded":
                continue  # the trace's own attributes, written above
            self._event(record.envelope, trace.procedure_code)
        w("\t</trace>\n")
        self.traces += 1

    def _event(self, e: dict[str, Any], procedure_code: str) -> None:
        payload = e.get("payload") or {}
        original = payload.get("original") if e["type"] == "LegacyActivityRecorded" else None
        if original:
            body = "".join(
                typed_xml(key, typed, "\t\t\t") for key, typed in original.items() if key != POSITION
            )
            if TIMESTAMP not in original:
                body += "\t\t\t" + _attribute("date", TIMESTAMP, e["occurred_at"]) + "\n"
            self.out.write("\t\t<event>\n" + body + "\t\t</event>\n")
            self.events += 1
            return
        actor = e.get("actor") or {}
        lines = [
            _attribute("string", NAME, activity_of(e)),
            _attribute("date", TIMESTAMP, e["occurred_at"]),
            _attribute("string", GROUP, e.get("agency_code") or ""),
            _attribute("string", RESOURCE, actor.get("user") or ""),
            _attribute("string", TRANSITION, "complete"),
            _attribute("string", "lienthong:type", e["type"]),
            _attribute("int", "lienthong:seq", e["seq"]),
            _attribute("string", "lienthong:hash", e["hash"]),
            _attribute("string", "lienthong:procedure", procedure_code),
            _attribute("string", "lienthong:role", actor.get("role") or ""),
        ]
        for name, kind in payload_fields(e["type"]):
            value = payload.get(name)
            if value is not None:
                lines.append(_attribute(kind, LIENTHONG_PREFIX + name, value))
        written = {NAME, TIMESTAMP, GROUP, RESOURCE, TRANSITION}
        for key, value in (payload.get("attributes") or {}).items():
            # What a legacy log said beyond the standard keys (imports before `original`).
            if key not in written and not key.startswith(LIENTHONG_PREFIX):
                lines.append(_attribute("string", key, value))
        self.out.write("\t\t<event>\n\t\t\t" + "\n\t\t\t".join(lines) + "\n\t\t</event>\n")
        self.events += 1

    def end(self) -> None:
        self.out.write("</log>\n")


def write_xes(out: TextIO, traces: Iterable[Trace], log_attributes: dict[str, str]) -> tuple[int, int]:
    """Write the log; returns (traces, events) written."""
    writer = XesWriter(out)
    writer.start(log_attributes)
    for trace in traces:
        writer.trace(trace)
    writer.end()
    return writer.traces, writer.events
