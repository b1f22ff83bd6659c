"""Dossier documents in the domain (who attaches what, when; idempotence; the digitized fact),
procedure components with effective dates, and the content sniffer."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import date

import pytest

from domain import commands as c
from domain.decide import decide
from domain.dossier import Dossier, evolve, fold
from domain.errors import ActorNotAllowed, InvalidValue, RuleViolated
from domain.events import DocumentAttached, DocumentPurpose, Outcome
from domain.procedures import Component, ComponentForm, Procedure, RouteStep, SupplementPolicy
from gateways.blobs.sniff import DOCX, JPEG, PDF, PNG, TIFF, XLSX, sniff
from gateways.catalogue import procedure_from_json, procedure_to_json
from tests.unit.test_dossier import CAL, DEPT, DISTRICT, WARD, officer, receive, t

FORM, PAPER = "Tờ khai", "Giấy xác nhận"
REQUIRED = (FORM, PAPER)
SHA_A, SHA_B = "a" * 64, "b" * 64


def attach(
    at: str,
    component: str = FORM,
    sha: str = SHA_A,
    who: str = WARD,
    purpose: str = "component",
    required: tuple[str, ...] = REQUIRED,
) -> c.AttachDocument:
    return c.AttachDocument(
        actor=officer(who),
        occurred_at=t(at),
        purpose=purpose,
        component=component,
        file_name={"ciphertext": "x"},
        media_type="application/pdf",
        size_bytes=10,
        sha256=sha,
        required_components=required,
    )


def run(state: Dossier | None, command: c.Command) -> Dossier:
    for event in decide(state, command, CAL):
        state = evolve(state, event)
    assert state is not None
    return state


def received() -> Dossier:
    state = fold(decide(None, receive("2026-03-02T08:00"), CAL))
    assert state is not None
    return state


def test_components_are_attached_once_and_complete_the_dossier() -> None:
    state = run(received(), attach("2026-03-02T08:10"))
    assert [(d.component, d.sha256, d.seq) for d in state.documents] == [(FORM, SHA_A, 2)]
    assert not state.all_components_digitized
    assert decide(state, attach("2026-03-02T08:11"), CAL) == []  # same content, same component
    events = decide(state, attach("2026-03-02T08:12", PAPER, SHA_B), CAL)
    assert isinstance(events[0], DocumentAttached) and events[0].all_components_digitized
    state = run(state, attach("2026-03-02T08:12", PAPER, SHA_B))
    assert state.all_components_digitized and state.status.value == "received"


def test_who_may_attach_and_what() -> None:
    state = received()
    with pytest.raises(ActorNotAllowed):
        decide(state, attach("2026-03-02T08:10", who=DEPT), CAL)
    with pytest.raises(InvalidValue, match="not a component of this procedure"):
        decide(state, attach("2026-03-02T08:10", component="Sổ hộ khẩu"), CAL)
    with pytest.raises(InvalidValue, match="sha256"):
        decide(state, attach("2026-03-02T08:10", sha="XYZ"), CAL)
    with pytest.raises(RuleViolated, match="decided"):
        decide(state, attach("2026-03-02T08:10", purpose="result"), CAL)
    # Without a component list (imported procedures), any named component is taken.
    free = decide(state, attach("2026-03-02T08:10", component="Bản đồ", required=()), CAL)
    assert isinstance(free[0], DocumentAttached) and not free[0].all_components_digitized


def test_the_result_file_once_decided_and_no_components_after_the_result() -> None:
    state = received()
    for command in (
        c.HandOff(actor=officer(WARD), occurred_at=t("2026-03-02T09:00"), to_agency_code=DISTRICT),
        c.AcceptHandoff(actor=officer(DISTRICT), occurred_at=t("2026-03-02T09:10")),
        c.DecideDossier(actor=officer(DISTRICT), occurred_at=t("2026-03-02T10:00"), outcome=Outcome.APPROVED),
    ):
        state = run(state, command)
    state = run(state, attach("2026-03-02T10:05", purpose="result", who=DISTRICT, sha=SHA_B))
    assert state.documents[-1].purpose == DocumentPurpose.RESULT
    state = run(state, c.MarkResultReady(actor=officer(DISTRICT), occurred_at=t("2026-03-02T10:10")))
    with pytest.raises(RuleViolated, match="result is ready"):
        decide(state, attach("2026-03-02T10:20", who=DISTRICT), CAL)


def test_missing_components_of_a_supplement_request_are_the_procedures() -> None:
    state = received()
    ask = c.RequestSupplement(
        actor=officer(WARD),
        occurred_at=t("2026-03-02T09:00"),
        reason="thiếu",
        missing_components=("Sổ đỏ",),
        required_components=REQUIRED,
    )
    with pytest.raises(InvalidValue, match="not a component"):
        decide(state, ask, CAL)
    asked = decide(state, replace(ask, missing_components=(f" {PAPER} ",)), CAL)[0]
    assert getattr(asked, "missing_components", None) == (PAPER,)


def test_components_in_force_by_date_and_through_the_catalogue_json() -> None:
    old = Component("Sổ hộ khẩu", 1, ComponentForm.COPY, effective_to=date(2025, 6, 30))
    new = Component(
        "Giấy xác nhận cư trú", 2, ComponentForm.ORIGINAL_OR_COPY, effective_from=date(2025, 7, 1)
    )
    proc = Procedure("P", "p", "f", 8, SupplementPolicy.RESTART, (RouteStep(WARD, 8),), components=(old, new))
    assert proc.components_on(date(2025, 6, 30)) == (old,)
    assert proc.components_on(date(2025, 7, 1)) == (new,)
    assert procedure_from_json(procedure_to_json(proc)) == proc
    with pytest.raises(InvalidValue, match="overlapping"):
        Procedure("P", "p", "f", 8, SupplementPolicy.RESTART, (RouteStep(WARD, 8),), components=(new, new))
    with pytest.raises(InvalidValue, match="copies"):
        Component("x", 0)


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            z.writestr(name, "<x/>" * 50)
    return out.getvalue()


def test_the_type_comes_from_the_content() -> None:
    assert sniff(b"%PDF-1.4\n...") == PDF
    assert sniff(b"\x89PNG\r\n\x1a\n....") == PNG
    assert sniff(b"\xff\xd8\xff\xe1....") == JPEG
    assert sniff(b"II*\x00....") == TIFF
    assert sniff(_zip("[Content_Types].xml", "_rels/.rels", "word/document.xml")) == DOCX
    assert sniff(_zip("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")) == XLSX
    assert sniff(_zip("notes.txt")) is None  # a plain ZIP
    assert sniff(b"MZ\x90\x00 an executable") is None
    assert sniff(b"<html>%PDF-") is None
    assert sniff(b"") is None
