"""Service indicators: hand-computed values for a small batch of five dossiers at one desk."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from domain import commands as c
from domain.decide import decide
from domain.dossier import Dossier, evolve
from domain.events import Actor, Channel, DossierEvent, Outcome, Satisfaction
from projections import indicators
from tests.unit.test_dossier import CAL, WARD, procedure, t

PORTAL = Actor("", "portal", "integration")
CITIZEN = Actor("", "citizen", "citizen")


def _command(action: str, at: datetime) -> c.Command:
    who = CITIZEN if action.startswith("rate") else PORTAL
    match action:
        case "intake":
            return c.AcceptIntake(actor=who, occurred_at=at, procedure=procedure())
        case "refuse":
            return c.RefuseIntake(actor=who, occurred_at=at, reason="thiếu giấy tờ")
        case "decide":
            return c.DecideDossier(actor=who, occurred_at=at, outcome=Outcome.APPROVED)
        case "ready":
            return c.MarkResultReady(actor=who, occurred_at=at)
        case "return":
            return c.ReturnResult(actor=who, occurred_at=at)
        case "withdraw":
            return c.Withdraw(actor=who, occurred_at=at, reason="rút")
        case "fee":
            return c.RequestFee(actor=who, occurred_at=at, amount_vnd=30_000)
        case "paid":
            return c.PayFee(actor=who, occurred_at=at)
        case "rate_very":
            return c.RecordSatisfaction(actor=who, occurred_at=at, rating=Satisfaction.VERY_SATISFIED)
        case "rate_not":
            return c.RecordSatisfaction(actor=who, occurred_at=at, rating=Satisfaction.NOT_SATISFIED)
    if action.startswith(("attach:", "result:")):
        purpose, _, rest = action.partition(":")
        component, _, digest = rest.partition("#")
        return c.AttachDocument(
            actor=who, occurred_at=at, purpose="result" if purpose == "result" else "component",
            component=component, file_name={"sealed": "x"}, media_type="application/pdf", size_bytes=10,
            sha256=(digest or "a") * 64, required_components=REQUIRED,
        )  # fmt: skip
    raise ValueError(action)


REQUIRED = ("Tờ khai", "CCCD")


def history(dossier_id: str, channel: Channel | None, steps: list[tuple[str, str]]) -> list[DossierEvent]:
    """A dossier's events through the domain: received by `channel` (None: submitted online,
    then taken in at the desk unless refused), then `steps` (action, local time)."""
    common = {"dossier_id": dossier_id, "receipt_code": "R-" + dossier_id, "procedure": procedure()}
    first_at = t(steps[0][1])
    first: c.Command
    if channel is None:
        first = c.SubmitOnline(
            actor=PORTAL, occurred_at=first_at, receiving_agency_code=WARD, applicant={},
            lookup_secret_hash="h", **common,
        )  # fmt: skip
    else:
        first = c.ReceiveDossier(
            actor=PORTAL, occurred_at=first_at, channel=channel, receiving_agency_code=WARD,
            applicant={}, lookup_secret_hash="h", **common,
        )  # fmt: skip
    events = decide(None, first, CAL)
    state: Dossier | None = None
    for e in events:
        state = evolve(state, e)
    for action, at in steps[1:]:
        command = _command(action, t(at))
        for e in decide(state, command, CAL):
            state = evolve(state, e)
            events.append(e)
    return events


def small_batch() -> list[tuple[str, int, DossierEvent]]:
    dossiers = {
        # direct, resolved the same day (early against a 40 working-hour deadline), returned, rated
        # its two components scanned (the second completes it, a rescan counts nothing), a result file
        "d1": history("d1", Channel.DIRECT, [("receive", "2026-03-02T08:00"),
              ("attach:Tờ khai", "2026-03-02T08:10"), ("attach:CCCD#b", "2026-03-02T08:20"),
              ("attach:Tờ khai#c", "2026-03-02T08:30"), ("decide", "2026-03-02T09:00"),
              ("result:#d", "2026-03-02T09:10"), ("ready", "2026-03-02T09:30"),
              ("return", "2026-03-02T10:00"), ("rate_very", "2026-03-02T10:05")]),
        # online, taken in, resolved after its due day (late), returned, rated not satisfied
        "d2": history("d2", None, [("submit", "2026-03-03T08:00"), ("intake", "2026-03-03T08:30"),
              ("decide", "2026-03-12T09:00"), ("ready", "2026-03-12T15:00"),
              ("return", "2026-03-13T08:00"), ("rate_not", "2026-03-13T09:00")]),
        # postal, withdrawn: closed without result
        "d3": history("d3", Channel.POSTAL, [("receive", "2026-03-04T08:00"),
              ("withdraw", "2026-03-05T08:00")]),
        # online submission refused at the desk: never received, closed without result
        "d4": history("d4", None, [("submit", "2026-03-04T09:00"), ("refuse", "2026-03-04T10:00")]),
        # direct, one of its two components scanned (not digitized), a fee requested and paid,
        # still in process
        "d5": history("d5", Channel.DIRECT, [("receive", "2026-03-05T08:00"),
              ("attach:CCCD", "2026-03-05T08:30"), ("fee", "2026-03-05T09:00"),
              ("paid", "2026-03-06T09:00")]),
    }  # fmt: skip
    return [(d, seq, e) for d, events in dossiers.items() for seq, e in enumerate(events, start=1)]


def test_small_batch_hand_computed() -> None:
    facts, tallies = indicators.fold_batch({}, small_batch())
    assert {d: (f.agency_code, f.imported) for d, f in facts.items() if f} == {
        d: (WARD, False) for d in ("d1", "d2", "d3", "d4", "d5")
    }
    counts = Counter(tally.column for tally in tallies)
    assert counts == {
        "submitted_online": 2,  # d2, d4
        "received": 4,  # d1, d2, d3, d5 (d4 was refused, never received)
        "received_direct": 2,
        "received_online": 1,
        "received_postal": 1,
        "resolved": 2,
        "resolved_early": 1,  # d1
        "resolved_late": 1,  # d2
        "closed_without_result": 2,  # d3 withdrawn, d4 refused
        "returned": 2,
        "fees_requested": 1,
        "fees_paid": 1,
        "rated": 2,
        "rated_very_satisfied": 1,
        "rated_not_satisfied": 1,
        "digitized": 1,  # d1, once (the rescan after it was complete counts nothing)
        "result_digitized": 1,  # d1
    }
    values = {i.key: (i.numerator, i.denominator, i.value) for i in indicators.indicators(counts)}
    assert values == {
        "on_time_rate": (1, 2, 0.5),
        "resolved_per_received": (2, 4, 0.5),
        "online_rate": (1, 4, 0.25),
        "satisfaction_rate": (1, 2, 0.5),
        "rating_coverage": (2, 2, 1.0),
        "digitization_rate": (1, 4, 0.25),
        "result_digitization_rate": (1, 2, 0.5),
    }
    # Each tally is dated by its event: d2's late resolution on 12 March.
    late = [tally for tally in tallies if tally.column == "resolved_late"]
    assert [tally.at for tally in late] == [t("2026-03-12T15:00")]


def test_nothing_to_count_is_no_value_not_zero() -> None:
    values = {i.key: i.value for i in indicators.indicators(Counter({"received": 3}))}
    assert values["on_time_rate"] is None and values["online_rate"] == 0.0


def test_a_replayed_batch_counts_nothing() -> None:
    events = small_batch()
    facts, _ = indicators.fold_batch({}, events)
    again, tallies = indicators.fold_batch(facts, events)
    assert tallies == [] and again == facts


def test_what_cannot_be_measured_says_why() -> None:
    assert set(indicators.NOT_MEASURABLE) == {"online_payment", "publicity"}
    assert "how" in indicators.NOT_MEASURABLE["online_payment"]
