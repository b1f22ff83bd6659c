"""Tallies: every fact a report counts, at the instant it happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.sla.facts import HANDLED, RECEIVED, DossierFacts, Span


@dataclass(frozen=True)
class Tally:
    scope: str
    agency_code: str
    procedure_code: str
    imported: bool
    column: str
    at: datetime


def tallies(facts: DossierFacts) -> list[Tally]:
    """Everything `facts` contributes to the reports, each at the instant it happened."""
    out: list[Tally] = []
    proc, imported = facts.procedure_code, facts.imported

    def add(scope: str, agency: str, column: str, at: datetime) -> None:
        out.append(Tally(scope, agency, proc, imported, column, at))

    def spans(scope: str, agency: str, items: tuple[Span, ...]) -> None:
        for span in items:
            add(scope, agency, "ov_start", span.start)
            if span.end is not None:
                add(scope, agency, "ov_end", span.end)

    if facts.received_at is not None:
        desk = facts.receiving_agency_code
        add(RECEIVED, desk, f"rcv_{facts.channel}", facts.received_at)
        if facts.resolved_at is not None and facts.timeliness is not None:
            add(RECEIVED, desk, f"res_{facts.timeliness}", facts.resolved_at)
        if facts.closed_at is not None:
            add(RECEIVED, desk, "closed", facts.closed_at)
        spans(RECEIVED, desk, facts.spans)
    for step in facts.steps:
        if not step.on_route:
            continue  # no budget of its own: Biểu 06's columns do not apply
        add(HANDLED, step.agency_code, f"rcv_{facts.channel}", step.entered_at)
        if step.left_at is not None:
            if step.closed_without_result:
                add(HANDLED, step.agency_code, "closed", step.left_at)
            elif step.timeliness is not None:
                add(HANDLED, step.agency_code, f"res_{step.timeliness}", step.left_at)
        spans(HANDLED, step.agency_code, step.spans)
        if step.overrun_at is not None:
            add(HANDLED, step.agency_code, "overrun", step.overrun_at)
    return out
