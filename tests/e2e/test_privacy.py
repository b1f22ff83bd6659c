"""Secrets and personal data through real HTTP (uvicorn on 127.0.0.1, access log on), on the
real SQLite store: a scripted day leaves no clear secret, name or ID number in any file of
the data dir, any log line or any export; erasure makes a person unreadable everywhere while
Biểu 06 and the audit stay exactly as they were."""

from __future__ import annotations

import io
import logging
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateways.bootstrap import Container
from gateways.http.app import create_app
from gateways.interchange.export import export as run_export
from gateways.interchange.selection import Selection
from tests.conftest import FakeClock
from tests.e2e.test_api import Api
from tests.e2e.test_reports import DEPT, SECRET, WARD, _provisioned
from tests.serving import serve

CITIZENS = [
    {
        "name": "Hoàng Thị Quỳnh Xuyến",
        "id_number": "079188812345",
        "phone": "0912777001",
        "address": "17 đường Lạc Long Quân, phường Bảy Hiền",
    },
    {
        "name": "Lương Văn Khải Hoàn",
        "id_number": "079299923456",
        "phone": "0912777002",
        "address": "42 hẻm Trương Định, phường Võ Thị Sáu",
    },
    {"name": "Đinh Gia Bảo Khuê", "id_number": "079300034567", "phone": "0912777003"},
]


class Captured(logging.Handler):
    """Every line the server logs, formatted as its handlers would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):  # the test's own client, not the server
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@dataclass
class Day:
    api: Api
    container: Container
    logs: Captured
    data_dir: Path
    created: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "lienthong", "fastapi")


@pytest.fixture
def day(make_container: Any, clock: FakeClock, tmp_path: Path) -> Iterator[Day]:
    container: Container = make_container()
    capture = Captured()
    with serve(create_app(container), log_level="debug") as base:
        loggers = [logging.getLogger(name) for name in LOGGERS]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(capture)
        logging.getLogger("lienthong").setLevel(logging.DEBUG)
        try:
            for api in _provisioned(Api(base, SECRET, clock)):
                yield Day(api, container, capture, tmp_path / "var")
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(capture)
                logger.setLevel(level)


def _work(day: Day, clock: FakeClock) -> None:
    """Receive, retry, hand off, accept, look up, read, search, sign."""
    api = day.api
    clock.set("2026-03-02T09:00:00+07:00")
    for i, citizen in enumerate(CITIZENS):
        body = {"procedure_code": "DD.01", "channel": "direct", "applicant": citizen}
        headers = {"Idempotency-Key": f"desk-{i}"}
        r = api.post("/api/v1/dossiers", body, **headers)
        assert r.status_code == 201, r.text
        again = api.post("/api/v1/dossiers", body, **headers)  # a retry replays the sealed secret
        assert again.json()["lookup_secret"] == r.json()["lookup_secret"]
        day.created.append(r.json())
        day.secrets.append(r.json()["lookup_secret"])
    first = day.created[0]
    clock.set("2026-03-02T10:00:00+07:00")
    r = api.post(f"/api/v1/dossiers/{first['id']}/handoffs", {"to_agency_code": DEPT, "note": "chuyển Sở"})
    assert r.status_code == 200, r.text
    clock.set("2026-03-02T14:00:00+07:00")
    r = api.post(f"/api/v1/dossiers/{first['id']}/handoffs/accept", {}, agency=DEPT)
    assert r.status_code == 200, r.text
    for d, secret in zip(day.created, day.secrets, strict=True):
        posted = api.http.post("/api/v1/lookup", json={"receipt_code": d["receipt_code"], "secret": secret})
        assert posted.status_code == 200, posted.text
        got = api.http.get(f"/api/v1/lookup/{d['receipt_code']}", params={"secret": secret})
        assert got.status_code == 200 and got.json() == posted.json()
        assert (
            api.http.get(f"/api/v1/lookup/{d['receipt_code']}", params={"secret": "wrong"}).status_code == 404
        )
        for path in (f"/api/v1/dossiers/{d['id']}", f"/api/v1/dossiers/{d['id']}/events"):
            assert api.get(path).status_code == 200
    found = api.get("/api/v1/dossiers", id_number=CITIZENS[1]["id_number"]).json()["items"]
    assert [item["id"] for item in found] == [day.created[1]["id"]]
    clock.set("2026-03-02T16:00:00+07:00")
    assert day.container.checkpoints.checkpoint(clock()) is not None
    assert api.get("/api/v1/audit/verify").json()["ok"] is True


def _exports(day: Day, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in ("xes", "ocel", "csv"):
        stream = io.StringIO()
        run_export(fmt, stream, day.container.store, day.container.catalogue, Selection())  # type: ignore[arg-type]
        path = out / f"day.{fmt}"
        path.write_text(stream.getvalue(), encoding="utf-8")
        paths.append(path)
    return paths


def _needles(day: Day) -> dict[str, bytes]:
    needles = {f"secret {i}": s.encode() for i, s in enumerate(day.secrets)}
    for i, citizen in enumerate(CITIZENS):
        for key, value in citizen.items():
            needles[f"{key} {i}"] = value.encode("utf-8")
    return needles


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_day_of_work_leaves_no_secret_name_or_id_number_in_files_logs_or_exports(
    day: Day, clock: FakeClock, tmp_path: Path
) -> None:
    _work(day, clock)
    exports = _exports(day, tmp_path / "exports")
    files = _files(day.data_dir)
    assert any(p.name.endswith(".sqlite") for p in files) and any(p.parent.name == "keys" for p in files)
    needles = _needles(day)
    for path in files + exports:
        data = path.read_bytes()
        for what, needle in needles.items():
            assert needle not in data, f"{what} in clear in {path.relative_to(tmp_path)}"
    # The access log saw the GET lookups, with their secrets redacted.
    access = [line for line in day.logs.lines if line.startswith("uvicorn.access") and "/lookup/" in line]
    assert access and all("secret=[redacted]" in line for line in access), access[:3]
    for line in day.logs.lines:
        for what, needle in needles.items():
            assert needle.decode() not in line, f"{what} in a log line: {line}"
    metrics = day.api.http.get("/metrics")
    assert metrics.status_code == 200
    assert not [what for what, needle in needles.items() if needle in metrics.content]
    # Only the service's user may read the data dir: folders 0700, files 0600 (db, WAL, SHM, keys).
    for folder in [day.data_dir, *(p for p in day.data_dir.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _sealed_applicant(container: Container, dossier_id: str) -> dict[str, Any] | None:
    first = container.store.load(dossier_id)[0]
    sealed = first.to_domain().applicant  # type: ignore[attr-defined]
    return container.vault.open_sealed(dossier_id, dict(sealed))


def test_forgetting_a_person_leaves_their_data_unreadable_and_statistics_and_audit_unchanged(
    day: Day, clock: FakeClock, tmp_path: Path
) -> None:
    api, container = day.api, day.container
    _work(day, clock)
    # A second dossier of the same person, the ID number typed with dots and spaces.
    person = CITIZENS[0]
    typed = {**person, "id_number": "079.188 812-345"}
    body = {"procedure_code": "DD.01", "channel": "postal", "applicant": typed}
    r = api.post("/api/v1/dossiers", body, **{"Idempotency-Key": "desk-again"})
    assert r.status_code == 201, r.text
    theirs = {day.created[0]["id"], r.json()["id"]}
    others = [d["id"] for d in day.created[1:]]
    assert {
        item["id"] for item in api.get("/api/v1/dossiers", id_number=person["id_number"]).json()["items"]
    } == (theirs)
    for dossier_id in theirs:
        opened = _sealed_applicant(container, dossier_id)
        assert opened is not None and opened["name"] == person["name"]
    theirs_wrapped = {
        row["wrapped_key"].encode()
        for d in theirs
        for row in container.db.query("SELECT wrapped_key FROM dossier_keys WHERE dossier_id = ?", (d,))
    }
    assert len(theirs_wrapped) == 2
    assert container.checkpoints.checkpoint(clock()) is not None
    before_report = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-03").json()
    before_sla = api.get("/api/v1/reports/sla", group_by="agency", period="2026-03")
    before_audit = api.get("/api/v1/audit/verify").json()
    before_events = {d: api.get(f"/api/v1/dossiers/{d}/events").json() for d in theirs}

    # Only an admin may erase.
    assert api.post("/api/v1/privacy/forget", {"id_number": person["id_number"]}).status_code == 403
    refused = api.post("/api/v1/privacy/forget", {"id_number": "1", "dossier_id": others[0]}, role="admin")
    assert refused.status_code == 422, refused.text
    r = api.post("/api/v1/privacy/forget", {"id_number": " 079188812345 "}, role="admin", agency=None)
    assert r.status_code == 200, r.text
    assert set(r.json()["erased"]) == theirs and r.json()["already_erased"] == []

    # Unreadable everywhere: the vault cannot open their data, the blind index forgets them,
    # their wrapped keys are gone from every file, a replayed create no longer has the secret.
    for dossier_id in theirs:
        assert _sealed_applicant(container, dossier_id) is None
    assert all(_sealed_applicant(container, d) is not None for d in others)
    assert api.get("/api/v1/dossiers", id_number=person["id_number"]).json()["items"] == []
    for path in _files(day.data_dir):
        data = path.read_bytes()
        for key in theirs_wrapped:
            assert key not in data, f"an erased data key is still in {path.name}"
    replay = api.post(
        "/api/v1/dossiers",
        {"procedure_code": "DD.01", "channel": "direct", "applicant": person},
        **{"Idempotency-Key": "desk-0"},
    )
    assert replay.status_code == 201 and replay.json()["lookup_secret"] is None
    assert replay.json()["lookup_secret_note"]
    # The erasure is recorded, without the number.
    records = container.vault.erasures()
    assert {e["dossier_id"] for e in records} == theirs
    assert all(e["basis"] == "id_number" and person["id_number"] not in str(e) for e in records)
    # Counts, Biểu 06, SLA, history and the audit trail are exactly as they were.
    assert api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-03").json() == before_report
    after_sla = api.get("/api/v1/reports/sla", group_by="agency", period="2026-03")
    assert (after_sla.status_code, after_sla.json()) == (before_sla.status_code, before_sla.json())
    assert api.get("/api/v1/audit/verify").json() == before_audit
    assert before_audit["ok"] is True
    for d in theirs:
        assert api.get(f"/api/v1/dossiers/{d}/events").json() == before_events[d]
    # Forgetting again finds nothing new; a dossier id works too.
    again = api.post(
        "/api/v1/privacy/forget", {"dossier_id": day.created[0]["id"]}, role="admin", agency=None
    )
    assert again.json() == {"erased": [], "already_erased": [day.created[0]["id"]], "count": 0}


def test_an_unknown_dossier_cannot_be_forgotten(day: Day) -> None:
    r = day.api.post(
        "/api/v1/privacy/forget",
        {"dossier_id": "00000000-0000-4000-8000-000000000000"},
        role="admin",
        agency=None,
    )
    assert r.status_code == 404, r.text
    assert isinstance(r, httpx.Response)
