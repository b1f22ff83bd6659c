"""A batch fold equals the event-by-event fold, for every view (Hypothesis).

Random histories come from the domain itself: random commands are run through `decide`
and `evolve` (the aggregate tests' procedure and calendar), commands the domain refuses
are dropped, and several dossiers are interleaved the way a feed delivers them. The
interleaved log is then cut into random batches; folding batch after batch (state carried
over, as a store does) must give the same rows, facts and sums as folding each event.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import commands as c
from domain import dossier as dossier_module
from domain.decide import allowed_actions, decide
from domain.dossier import Dossier, evolve
from domain.errors import DomainError
from domain.events import Actor, Channel, DossierEvent, Outcome, Satisfaction
from domain.succession import SYSTEM, Heir, involves
from projections import bottleneck as b
from projections import control_sheet, dossier_index, indicators, sla
from tests.unit.test_dossier import CAL, DEPT, DISTRICT, WARD, procedure, t

OFF_ROUTE = "T"
AGENCIES = (WARD, DISTRICT, DEPT, OFF_ROUTE)
PORTAL = Actor("", "portal", "integration")
CUTOVER = Actor("", "cutover", SYSTEM)

COMPONENTS = ("Tờ khai", "CCCD")
ENDINGS = frozenset({"withdraw", "stop", "refuse"})
Item = tuple[str, int, DossierEvent]  # (dossier_id, seq, event) as a feed delivers it


@dataclass(frozen=True)
class Move:
    action: int  # which of the allowed actions (modulo their number)
    minutes: int  # time since the previous command
    pick: int  # an agency, an outcome, a number of days


def _command(name: str, at: datetime, move: Move) -> c.Command | None:
    agency = AGENCIES[move.pick % len(AGENCIES)]
    common = {"actor": PORTAL, "occurred_at": at}
    match name:
        case "intake":
            return c.AcceptIntake(**common, procedure=procedure())
        case "refuse":
            return c.RefuseIntake(**common, reason="thiếu giấy tờ")
        case "handoff":
            return c.HandOff(**common, to_agency_code=agency)
        case "accept":
            return c.AcceptHandoff(**common)
        case "return":
            return c.ReturnHandoff(**common, reason="trả lại")
        case "consult":
            return c.RequestConsultation(**common, agency_code=agency, question="?")
        case "answer":
            return c.AnswerConsultation(**common, answer="ok")
        case "request_supplement":
            return c.RequestSupplement(**common, reason="bổ sung")
        case "supplement_received":
            return c.ReceiveSupplement(**common)
        case "request_fee":
            return c.RequestFee(**common, amount_vnd=50_000)
        case "fee_paid":
            return c.PayFee(**common)
        case "apologize":
            return c.IssueApology(
                **common, new_due_at=at + timedelta(days=1 + move.pick % 9), reason="xin lỗi"
            )
        case "decide":
            outcome = Outcome.APPROVED if move.pick % 3 else Outcome.REJECTED
            return c.DecideDossier(**common, outcome=outcome)
        case "result_ready":
            return c.MarkResultReady(**common)
        case "result_returned":
            return c.ReturnResult(**common)
        case "withdraw":
            return c.Withdraw(**common, reason="rút")
        case "stop":
            return c.StopProcessing(**common, reason="dừng")
        case "satisfaction":
            return c.RecordSatisfaction(**common, rating=list(Satisfaction)[move.pick % len(Satisfaction)])
    return None


def history(dossier_id: str, online: bool, start: datetime, moves: Sequence[Move]) -> list[DossierEvent]:
    """One dossier's events: received (or submitted online), then whatever `moves` the domain allows."""
    first: c.Command
    if online:
        first = c.SubmitOnline(
            actor=PORTAL,
            occurred_at=start,
            dossier_id=dossier_id,
            receipt_code="R-" + dossier_id,
            procedure=procedure(),
            receiving_agency_code=WARD,
            applicant={},
            lookup_secret_hash="h",
        )
    else:
        first = c.ReceiveDossier(
            actor=PORTAL,
            occurred_at=start,
            dossier_id=dossier_id,
            receipt_code="R-" + dossier_id,
            procedure=procedure(),
            channel=Channel.DIRECT,
            receiving_agency_code=WARD,
            applicant={},
            lookup_secret_hash="h",
        )
    events = list(decide(None, first, CAL))
    state: Dossier | None = None
    for event in events:
        state = evolve(state, event)
    at = start
    for move in moves:
        assert state is not None
        at += timedelta(minutes=move.minutes)
        actions = allowed_actions(state, None, at)
        if not actions:
            break
        ended = AGENCIES[move.action % len(AGENCIES)]
        if move.pick % 7 == 3 and involves(state, ended):
            # A cutover: the agency ends and its successor takes its parts (holder, transit, desk).
            heir = Heir(ended, ended + "-successor", "basis")
            made = decide(state, c.RecordSuccession(actor=CUTOVER, occurred_at=at, heirs=(heir,)), CAL)
            for event in made:
                state = evolve(state, event)
                events.append(event)
            continue
        if move.pick % 7 == 5:
            # A file: a component scan (two make the dossier digitized) or, once decided, the result.
            attach = c.AttachDocument(
                actor=PORTAL,
                occurred_at=at,
                purpose="result" if move.action % 3 == 0 else "component",
                component=COMPONENTS[move.action % 2],
                file_name={"sealed": "x"},
                media_type="application/pdf",
                size_bytes=1,
                sha256=f"{move.minutes % 16:x}" * 64,
                required_components=COMPONENTS,
            )
            try:
                made = decide(state, attach, CAL)
            except DomainError:
                made = []
            for event in made:
                state = evolve(state, event)
                events.append(event)
            continue
        if move.pick % 8:  # endings (withdrawal, stop, refusal) only now and then: longer lives
            actions = [a for a in actions if a not in ENDINGS] or actions
        command = _command(actions[move.action % len(actions)], at, move)
        if command is None:
            continue
        try:
            made = decide(state, command, CAL)
        except DomainError:
            continue  # the domain refused it: a real officer would get a 4xx
        for event in made:
            state = evolve(state, event)
            events.append(event)
    return events


moves = st.builds(Move, st.integers(0, 40), st.integers(1, 60 * 24 * 4), st.integers(0, 100))
dossier = st.tuples(st.booleans(), st.integers(0, 60 * 24 * 20), st.lists(moves, max_size=24))


@st.composite
def feeds(draw: st.DrawFn) -> tuple[list[Item], list[int]]:
    """Interleaved events of a few dossiers, and where the feed cuts them into batches."""
    specs = draw(st.lists(dossier, min_size=1, max_size=4))
    base = datetime.fromisoformat("2026-03-02T08:00+07:00")
    queues = [
        [
            (f"d{n}", seq, e)
            for seq, e in enumerate(history(f"d{n}", online, base + timedelta(minutes=m), ms), 1)
        ]
        for n, (online, m, ms) in enumerate(specs)
    ]
    order = draw(st.permutations([n for n, q in enumerate(queues) for _ in q]))
    items = [queues[n].pop(0) for n in order]  # per-dossier order kept, dossiers interleaved
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(items) - 1)), max_size=5)))
    return items, cuts


def batches(items: list[Item], cuts: list[int]) -> list[list[Item]]:
    edges = [0, *cuts, len(items)]
    return [items[a:z] for a, z in itertools.pairwise(edges) if a < z]


def test_walks_produce_rich_histories() -> None:
    # The generator reaches handoffs, returns, pauses and closures (not only receipts).
    events = history("d0", False, t("2026-03-02T08:00"), [Move(a, 90, p) for a in range(20) for p in (1, 2)])
    names = {type(e).__name__ for e in events}
    assert {"DossierReceived", "HandedOff"} <= names and len(events) > 5
    walked = history("d0", False, t("2026-03-02T08:00"), [Move(a, 90, 3 + 7 * a) for a in range(8)])
    assert "HolderSucceeded" in {type(e).__name__ for e in walked}
    scanned = history("d0", False, t("2026-03-02T08:00"), [Move(a, 30 + a, 5 + 7 * a) for a in range(6)])
    attached = [e for e in scanned if type(e).__name__ == "DocumentAttached"]
    assert attached and any(getattr(e, "all_components_digitized", False) for e in attached)


@settings(max_examples=150, deadline=None)
@given(feeds())
def test_dossier_index_batch_fold_equals_event_by_event(feed: tuple[list[Item], list[int]]) -> None:
    items, cuts = feed
    one_by_one: dict[str, dossier_index.DossierRow | None] = {}
    for dossier_id, seq, event in items:
        one_by_one[dossier_id] = dossier_index.apply(one_by_one.get(dossier_id), dossier_id, seq, event)
    batched: dict[str, dossier_index.DossierRow | None] = {}
    for batch in batches(items, cuts):
        batched.update(dossier_index.fold_batch(batched, batch))
    assert batched == one_by_one


@settings(max_examples=150, deadline=None)
@given(feeds())
def test_sla_batch_fold_equals_event_by_event(feed: tuple[list[Item], list[int]]) -> None:
    items, cuts = feed
    one_by_one: dict[str, sla.DossierFacts | None] = {}
    for dossier_id, seq, event in items:
        one_by_one[dossier_id] = sla.apply(one_by_one.get(dossier_id), dossier_id, seq, event)
    batched: dict[str, sla.DossierFacts | None] = {}
    for batch in batches(items, cuts):
        batched.update(sla.fold_batch(batched, batch))
    assert batched == one_by_one
    # A redelivered batch changes nothing (the runtime filters them, the fold holds anyway).
    assert {**batched, **sla.fold_batch(batched, items)} == one_by_one


def _nonzero(totals: b.Totals) -> tuple[dict[object, list[int]], dict[object, dict[int, int]]]:
    sums = {k: v for k, v in totals.sums.items() if any(v)}
    hists = {k: h for k, v in totals.hists.items() if (h := {x: n for x, n in v.items() if n})}
    return sums, hists


@settings(max_examples=150, deadline=None)
@given(feeds())
def test_bottleneck_batch_fold_equals_event_by_event(feed: tuple[list[Item], list[int]]) -> None:
    items, cuts = feed
    flows: dict[str, b.Flow | None] = {}
    expected = b.Totals()
    for dossier_id, seq, event in items:
        flows[dossier_id], facts = b.apply(flows.get(dossier_id), dossier_id, seq, event, CAL)
        for fact in facts:
            expected.add(fact)
    batched: dict[str, b.Flow | None] = {}
    totals = b.Totals()
    for batch in batches(items, cuts):
        after, totals = b.fold_batch(batched, batch, CAL, totals)
        batched.update(after)
    assert batched == flows
    assert _nonzero(totals) == _nonzero(expected)
    assert totals.stays == expected.stays and totals.transits == expected.transits


@settings(max_examples=150, deadline=None)
@given(feeds())
def test_indicators_batch_fold_equals_event_by_event(feed: tuple[list[Item], list[int]]) -> None:
    items, cuts = feed
    one: dict[str, indicators.DossierFacts | None] = {}
    one_tallies: list[indicators.Tally] = []
    for dossier_id, seq, event in items:
        one[dossier_id], made = indicators.apply(one.get(dossier_id), dossier_id, seq, event)
        one_tallies.extend(made)
    many: dict[str, indicators.DossierFacts | None] = {}
    many_tallies: list[indicators.Tally] = []
    for batch in batches(items, cuts):
        after, made = indicators.fold_batch(many, batch)
        many.update(after)
        many_tallies.extend(made)
        # A redelivered batch (already applied) counts nothing more.
        assert indicators.fold_batch(many, batch) == ({d: many[d] for d in after}, [])
    assert many == one
    assert many_tallies == one_tallies


@settings(max_examples=100, deadline=None)
@given(st.booleans(), st.integers(0, 60 * 24 * 20), st.lists(moves, max_size=24))
def test_the_fast_fold_copy_equals_dataclasses_replace(online: bool, minutes: int, walk: list[Move]) -> None:
    """`evolve` copies the state's fields instead of running `replace`; every state it makes
    equals the one `replace` makes, and holds exactly the dossier's fields."""
    events = history(
        "d0", online, datetime.fromisoformat("2026-03-02T08:00+07:00") + timedelta(minutes=minutes), walk
    )
    fields = {f.name for f in dataclasses.fields(Dossier)}
    fast: Dossier | None = None
    for event in events:
        fast = evolve(fast, event)
        assert set(vars(fast)) == fields
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dossier_module, "_with", dataclasses.replace)
        slow: Dossier | None = None
        for event in events:
            slow = evolve(slow, event)
    assert fast == slow


FOLD_MODULES = (
    "projections.dossier_index",
    "projections.sla.fold",
    "projections.bottleneck.fold",
    "projections.indicators.fold",
    "projections.control_sheet",
)


def _every_fold(items: list[Item]) -> tuple[object, ...]:
    """What each view's event-by-event fold makes of the feed."""
    rows: dict[str, object] = {}
    facts: dict[str, object] = {}
    flows: dict[str, b.Flow | None] = {}
    made: list[object] = []
    ind: dict[str, indicators.DossierFacts | None] = {}
    by_dossier: dict[str, list[tuple[int, DossierEvent]]] = {}
    for dossier_id, seq, event in items:
        rows[dossier_id] = dossier_index.apply(rows.get(dossier_id), dossier_id, seq, event)  # type: ignore[arg-type]
        facts[dossier_id] = sla.apply(facts.get(dossier_id), dossier_id, seq, event)  # type: ignore[arg-type]
        flows[dossier_id], stays = b.apply(flows.get(dossier_id), dossier_id, seq, event, CAL)
        ind[dossier_id], tallies = indicators.apply(ind.get(dossier_id), dossier_id, seq, event)
        made += [*stays, *tallies]
        by_dossier.setdefault(dossier_id, []).append((seq, event))
    sheets = [control_sheet.build(d, events) for d, events in by_dossier.items()]
    return rows, facts, flows, ind, made, sheets


@settings(max_examples=100, deadline=None)
@given(feeds())
def test_the_views_fast_copies_equal_dataclasses_replace(feed: tuple[list[Item], list[int]]) -> None:
    """The folds copy their frozen records (domain/records.py) instead of running
    `replace`: every view's fold makes the same records either way."""
    items, _cuts = feed
    fast = _every_fold(items)
    with pytest.MonkeyPatch.context() as patch:
        for module in FOLD_MODULES:
            patch.setattr(importlib.import_module(module), "replace", dataclasses.replace)
        slow = _every_fold(items)
    assert fast == slow
