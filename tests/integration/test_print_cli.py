"""A desk officer prints forms from the command line: `lienthong print KIND DOSSIER --out F`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from gateways.cli import app
from gateways.seed.demo import seed_demo


@pytest.fixture
def seeded(make_container: Any, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    clock.set("2026-11-20T10:00:00+07:00")
    container = make_container()
    seed_demo(container.service, clock(), dossiers=6, seed=5)
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIENTHONG_JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    rows = container.view_db.query(
        "SELECT dossier_id, receipt_code, receiving_agency_code FROM dossier_index "
        "WHERE received_at IS NOT NULL ORDER BY dossier_id"
    )
    return container, rows[0]


def test_print_a_receipt_by_its_code_and_a_control_sheet_as_html(seeded: Any, tmp_path: Path) -> None:
    _container, row = seeded
    pdf = tmp_path / "receipt.pdf"
    result = CliRunner().invoke(app, ["print", "receipt", row["receipt_code"], "--out", str(pdf)])
    assert result.exit_code == 0, result.output
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert row["receipt_code"] in text
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text

    html = tmp_path / "sheet.html"
    args = ["print", "control-sheet", row["dossier_id"], "--out", str(html), "--format", "html"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in html.read_text(encoding="utf-8")


def test_the_receipts_qr_code_points_at_the_public_lookup_page(seeded: Any, tmp_path: Path) -> None:
    _container, row = seeded
    html = tmp_path / "receipt.html"
    args = ["print", "receipt", row["dossier_id"], "--out", str(html), "--format", "html"]
    result = CliRunner().invoke(app, [*args, "--base-url", "https://dichvucong.example.vn"])
    assert result.exit_code == 0, result.output
    assert "https://dichvucong.example.vn/#/lookup?code=" in html.read_text(encoding="utf-8")


def test_print_refuses_what_does_not_apply(seeded: Any, tmp_path: Path) -> None:
    _container, row = seeded
    out = tmp_path / "x.pdf"
    bad = CliRunner().invoke(app, ["print", "certificate", row["dossier_id"], "--out", str(out)])
    assert bad.exit_code == 2
    unknown = CliRunner().invoke(app, ["print", "receipt", "no-such-code", "--out", str(out)])
    assert unknown.exit_code == 2
    assert not out.exists()


def test_print_the_register_of_a_desk_for_days(seeded: Any, tmp_path: Path) -> None:
    _container, row = seeded
    html = tmp_path / "register.html"
    desk = row["receiving_agency_code"]
    args = ["print", "register", desk, "--from", "2025-01-01", "--to", "2026-11-20", "--out", str(html)]
    result = CliRunner().invoke(app, [*args, "--format", "html"])
    assert result.exit_code == 0, result.output
    assert row["receipt_code"] in html.read_text(encoding="utf-8")
    wrong = ["print", "register", desk, "--from", "2026-02-30", "--to", "2026-03-01", "--out", str(html)]
    bad = CliRunner().invoke(app, wrong, env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "2026-02-30" in bad.output and "no day of the calendar" in bad.output
