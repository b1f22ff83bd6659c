"""Dossier files through real HTTP (uvicorn on 127.0.0.1), on the real SQLite store and the
file blob store under the data dir: attach, list, download, idempotent re-attach, type judged
by content, hash mismatch detected, oversize refused while streaming, other agencies kept out,
the result file fetched by the citizen, files erased with the person."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from lxml import etree

from gateways.bootstrap import Container, bootstrap
from gateways.http.app import create_app
from gateways.interchange.export import ExportFormat
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.test_api import DEPT, OTHER, WARD, Api, _provisioned, assert_problem
from tests.e2e.test_contract import assert_conforms
from tests.integration.test_interchange_fidelity import OCEL_SCHEMA, XSD, export_to
from tests.serving import serve, stream_chunked

SECRET = "test-secret-of-at-least-thirty-two-bytes"
LIMIT = 256 * 1024  # the upload limit these tests run with
FORM, PAPER = "Tờ khai đăng ký kết hôn", "Giấy xác nhận tình trạng hôn nhân"
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 200 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
FILES = "/api/v1/dossiers/{dossier_id}/files"
CITIZEN = {"name": "Trần Thị Bích Ngọc", "id_number": "079199955501", "phone": "0912000555"}


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture
def served(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[Api, Container]]:
    settings = Settings(data_dir=tmp_path / "var", jwt_secret=SECRET, max_upload_bytes=LIMIT)
    container = bootstrap(settings, clock=clock)
    try:
        with serve(create_app(container)) as base:
            for api in _provisioned(Api(base, SECRET, clock)):
                r = api.http.put(
                    "/api/v1/procedures/HT.03",
                    headers=api.token("admin"),
                    json={
                        "name": "Đăng ký kết hôn",
                        "field": "Hộ tịch",
                        "deadline_working_hours": 16,
                        "route": [
                            {"agency_code": WARD, "budget_working_hours": 4},
                            {"agency_code": DEPT, "budget_working_hours": 8},
                            {"agency_code": WARD, "budget_working_hours": 4},
                        ],
                        "components": [
                            {"name": FORM, "copies": 1, "form": "original"},
                            {"name": PAPER, "copies": 1, "form": "original"},
                            # Required only of dossiers received before 2026: not of these.
                            {"name": "Bản sao sổ hộ khẩu", "form": "copy", "effective_to": "2025-12-31"},
                        ],
                    },
                )
                assert r.status_code == 201, r.text
                yield api, container
    finally:
        container.close()


@pytest.fixture
def api(served: tuple[Api, Container]) -> Api:
    return served[0]


def _receive(api: Api) -> dict[str, Any]:
    r = api.post("/api/v1/dossiers", {"procedure_code": "HT.03", "channel": "direct", "applicant": CITIZEN})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _upload(
    api: Api,
    dossier: str,
    content: bytes,
    name: str = "scan.pdf",
    component: str = FORM,
    agency: str = WARD,
    role: str = "officer",
    purpose: str = "component",
    declared: str = "application/octet-stream",
) -> httpx.Response:
    return api.http.post(
        f"/api/v1/dossiers/{dossier}/files",
        params={"component": component, "purpose": purpose},
        files={"file": (name, content, declared)},
        headers=api.token(role, agency),
    )


def _stored_blobs(container: Container) -> list[Path]:
    root = container.settings.data_dir / "blobs"
    return sorted(p for p in (root / "sha256").rglob("*") if p.is_file()) + sorted((root / "tmp").iterdir())


def _version(api: Api, dossier: str) -> int:
    return int(api.get(f"/api/v1/dossiers/{dossier}").json()["version"])


def test_attach_list_download_and_every_component_digitized(served: tuple[Api, Container]) -> None:
    api, container = served
    dossier = _receive(api)["id"]
    r = _upload(api, dossier, PDF, name="Tờ khai kết hôn.pdf")
    assert r.status_code == 201, r.text
    assert_conforms(api.http, r, "POST", FILES)
    document = r.json()["document"]
    assert document["component"] == FORM and document["media_type"] == "application/pdf"
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest() and document["size_bytes"] == len(PDF)
    assert document["file_name"] == "Tờ khai kết hôn.pdf" and r.json()["all_components_digitized"] is False
    # The same content for the same component again: nothing new is recorded.
    version = _version(api, dossier)
    again = _upload(api, dossier, PDF, name="again.pdf")
    assert again.status_code == 200 and again.json()["already_attached"] is True, again.text
    assert_conforms(api.http, again, "POST", FILES)
    assert _version(api, dossier) == version
    # The list names the procedure's components in force on the day of receipt.
    listed = api.get(f"/api/v1/dossiers/{dossier}/files", role="officer", agency=WARD)
    assert_conforms(api.http, listed, "GET", FILES)
    listing = listed.json()
    assert [(c["name"], c["digitized"]) for c in listing["components"]] == [(FORM, True), (PAPER, False)]
    assert [i["sha256"] for i in listing["items"]] == [document["sha256"]]
    # A Word document named as a picture is recorded as what it is.
    docx = _docx()
    r = _upload(api, dossier, docx, name="giay-xac-nhan.png", component=PAPER, declared="image/png")
    assert r.status_code == 201, r.text
    assert r.json()["document"]["media_type"].endswith("wordprocessingml.document")
    assert r.json()["all_components_digitized"] is True
    # Download: the same bytes, named, typed, with the hash.
    got = api.http.get(document["href"], headers=api.token("officer", WARD))
    assert got.status_code == 200 and got.content == PDF
    assert_conforms(api.http, got, "GET", FILES + "/{sha256}")
    assert got.headers["content-type"] == "application/pdf"
    assert (
        got.headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(PDF).digest()).decode()}:"
    )
    assert quote("Tờ khai kết hôn.pdf") in got.headers["content-disposition"]
    # Every attach is an event; the file name in it is sealed, not clear.
    events = api.get(f"/api/v1/dossiers/{dossier}/events").json()["items"]
    attached = [e for e in events if e["type"] == "DocumentAttached"]
    assert [(e["payload"]["component"], e["payload"]["sha256"]) for e in attached] == [
        (FORM, document["sha256"]),
        (PAPER, hashlib.sha256(docx).hexdigest()),
    ]
    assert "Tờ khai" not in str(attached[0]["payload"]["file_name"])
    # Attaching does not move the dossier on (still received at the desk).
    assert api.get(f"/api/v1/dossiers/{dossier}").json()["status"] == "received"
    # Stored content-addressed, owner-only.
    path = container.settings.data_dir / "blobs" / "sha256" / document["sha256"][:2] / document["sha256"][2:4]
    assert (path / document["sha256"]).read_bytes() == PDF
    assert (path / document["sha256"]).stat().st_mode & 0o777 == 0o600
    # An agency system (integration role) attaches for the holder: a rescan is a second file.
    rescan = _upload(api, dossier, PNG, name="to-khai-quet-lai.png", role="integration", agency="")
    assert rescan.status_code == 201 and rescan.json()["document"]["agency_code"] == WARD, rescan.text
    # Biểu 06 and the search count the dossiers whose every component is digitized.
    incomplete = _receive(api)["id"]
    assert _upload(api, incomplete, PNG).status_code == 201
    api.clock.set("2026-08-28T15:00:00+07:00")  # the report counts up to now, exclusive
    answered = api.get("/api/v1/reports/bieu06", agency_code=WARD, period="2026-09")
    assert_conforms(api.http, answered, "GET", "/api/v1/reports/bieu06")
    report = answered.json()
    assert report["received"]["total"] == 2 and report["components_digitized"] == 1
    found = api.get("/api/v1/dossiers", digitized="true").json()["items"]
    assert [i["id"] for i in found] == [dossier]
    assert [i["id"] for i in api.get("/api/v1/dossiers", digitized="false").json()["items"]] == [incomplete]
    # The interchange exports of a history with files stay valid and name no file in clear.
    xes = export_to(container, ExportFormat.XES, container.settings.data_dir / "files.xes")
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(etree.parse(str(xes)))
    ocel = export_to(container, ExportFormat.OCEL, container.settings.data_dir / "files.jsonocel")
    log = json.loads(ocel.read_text(encoding="utf-8"))
    jsonschema.validate(log, json.loads(OCEL_SCHEMA.read_text(encoding="utf-8")))
    assert "DocumentAttached" in {e["type"] for e in log["events"]}
    for exported in (xes, ocel):
        assert "Tờ khai kết hôn.pdf" not in exported.read_text(encoding="utf-8")


def test_refused_uploads_store_nothing_and_say_why(served: tuple[Api, Container]) -> None:
    api, container = served
    dossier = _receive(api)["id"]
    version = _version(api, dossier)
    # Not a component of the procedure (checked before the body is read).
    r = assert_problem(_upload(api, dossier, PDF, component="Giấy khai sinh"), 422)
    assert FORM in r["detail"]
    # A text file with a PDF's name and declared type: judged by content.
    r = assert_problem(_upload(api, dossier, b"hello, not a pdf" * 10, declared="application/pdf"), 415)
    assert "not a PDF" in r["detail"]
    # An empty file, a form without a file part, a body that is not multipart.
    assert_problem(_upload(api, dossier, b""), 422)
    headers = api.token("officer", WARD)
    r2 = api.http.post(
        f"/api/v1/dossiers/{dossier}/files",
        params={"component": FORM},
        data={"x": "1"},
        files={"y": ("a", b"b")},
        headers=headers,
    )
    assert "no part named `file`" in assert_problem(r2, 422)["detail"]
    r3 = api.http.post(
        f"/api/v1/dossiers/{dossier}/files", params={"component": FORM}, json={"file": "x"}, headers=headers
    )
    assert "multipart/form-data" in assert_problem(r3, 415)["detail"]
    # A role that never writes.
    assert_problem(_upload(api, dossier, PDF, role="supervisor", agency=WARD), 403)
    assert _stored_blobs(container) == [] and _version(api, dossier) == version


def test_a_supplement_request_names_components_of_the_procedure(api: Api) -> None:
    dossier = _receive(api)["id"]
    ask = {"reason": "thiếu giấy tờ", "missing_components": ["Giấy khai sinh"]}
    r = assert_problem(api.post(f"/api/v1/dossiers/{dossier}/supplement-requests", ask), 422)
    assert "not a component of this procedure" in r["detail"] and PAPER in r["detail"]
    ask["missing_components"] = [PAPER]
    r3 = api.post(f"/api/v1/dossiers/{dossier}/supplement-requests", ask)
    assert r3.status_code == 200 and r3.json()["status"] == "awaiting_supplement", r3.text


def test_a_changed_file_is_detected_by_its_hash_and_not_served(served: tuple[Api, Container]) -> None:
    api, container = served
    dossier = _receive(api)["id"]
    sha = _upload(api, dossier, PDF).json()["document"]["sha256"]
    stored = container.settings.data_dir / "blobs" / "sha256" / sha[:2] / sha[2:4] / sha
    stored.write_bytes(PDF.replace(b"Catalog", b"Katalog", 1))
    r = assert_problem(
        api.http.get(f"/api/v1/dossiers/{dossier}/files/{sha}", headers=api.token("officer", WARD)), 409
    )
    assert "no longer matches the SHA-256" in r["detail"]
    stored.unlink()
    missing = api.http.get(f"/api/v1/dossiers/{dossier}/files/{sha}", headers=api.token("officer", WARD))
    assert assert_problem(missing, 409)["type"].endswith("file-missing")


def test_another_agencys_dossier_files_are_forbidden(served: tuple[Api, Container]) -> None:
    api, container = served
    dossier = _receive(api)["id"]
    sha = _upload(api, dossier, PDF).json()["document"]["sha256"]
    before = _stored_blobs(container)
    outsider = api.token("officer", OTHER)
    assert_problem(api.http.get(f"/api/v1/dossiers/{dossier}/files/{sha}", headers=outsider), 403)
    assert_problem(api.http.get(f"/api/v1/dossiers/{dossier}/files", headers=outsider), 403)
    assert_problem(_upload(api, dossier, PNG, agency=OTHER), 403)
    # Involved but not the holder: the department may read once it took part, not attach now.
    assert_problem(_upload(api, dossier, PNG, agency=DEPT), 403)
    assert _stored_blobs(container) == before
    # A hash of another dossier's file is not a key to it.
    other = _receive(api)["id"]
    r = api.http.get(f"/api/v1/dossiers/{other}/files/{sha}", headers=api.token("officer", WARD))
    assert_problem(r, 404)


def test_the_result_file_is_attached_once_decided_and_the_citizen_downloads_it(
    api: Api, clock: FakeClock
) -> None:
    created = _receive(api)
    dossier, code, secret = created["id"], created["receipt_code"], created["lookup_secret"]
    result = b"%PDF-1.7\nGiay chung nhan ket hon\n%%EOF\n"
    assert "decided" in assert_problem(_upload(api, dossier, result, purpose="result"), 409)["detail"]
    api.post(f"/api/v1/dossiers/{dossier}/handoffs", {"to_agency_code": DEPT}).raise_for_status()
    api.post(f"/api/v1/dossiers/{dossier}/handoffs/accept", {}, agency=DEPT).raise_for_status()
    api.post(f"/api/v1/dossiers/{dossier}/decision", {"outcome": "approved"}, agency=DEPT).raise_for_status()
    r = _upload(api, dossier, result, name="GCN-ket-hon.pdf", purpose="result", agency=DEPT)
    assert r.status_code == 201 and r.json()["document"]["purpose"] == "result", r.text
    citizen = {"receipt_code": code, "secret": secret}
    # Not before the result is ready; the same answer as for a wrong secret.
    assert_problem(api.http.post("/api/v1/lookup/result-file", json=citizen), 404)
    api.post(f"/api/v1/dossiers/{dossier}/result-ready", {}, agency=DEPT).raise_for_status()
    got = api.http.post("/api/v1/lookup/result-file", json=citizen)
    assert got.status_code == 200 and got.content == result, got.text
    assert_conforms(api.http, got, "POST", "/api/v1/lookup/result-file")
    assert "GCN-ket-hon.pdf" in got.headers["content-disposition"]
    # The contract's GET form answers the same (the secret in the query, redacted in logs).
    by_url = api.http.get(f"/api/v1/lookup/{code}/result", params={"secret": secret})
    assert by_url.status_code == 200 and by_url.content == result, by_url.text
    assert_conforms(api.http, by_url, "GET", "/api/v1/lookup/{receipt_code}/result")
    assert_problem(api.http.get(f"/api/v1/lookup/{code}/result", params={"secret": "guess"}), 404)
    wrong = api.http.post("/api/v1/lookup/result-file", json={**citizen, "secret": "guess"})
    assert (
        assert_problem(wrong, 404)["detail"]
        == assert_problem(
            api.http.post("/api/v1/lookup/result-file", json={**citizen, "receipt_code": "X-1"}), 404
        )["detail"]
    )
    # Components can no longer be attached once the result is ready.
    assert_problem(_upload(api, dossier, PDF, agency=DEPT), 409)


def _chunked_upload(api: Api, path: str, offered: int) -> tuple[bytes, int]:
    """POST a multipart body in chunks over a raw socket; stop when the server answers."""
    token = api.token("officer", WARD)["Authorization"]
    boundary = "lienthongboundary"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: lienthong\r\nAuthorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
    )
    return stream_chunked(str(api.http.base_url), head, start, offered, b"0" * 65536)


def test_an_oversize_upload_is_refused_while_it_streams_and_leaves_nothing(
    served: tuple[Api, Container],
) -> None:
    api, container = served
    dossier = _receive(api)["id"]
    component = quote(FORM)
    offered = 64 * 1024 * 1024
    answer, sent = _chunked_upload(api, f"/api/v1/dossiers/{dossier}/files?component={component}", offered)
    assert b" 413 " in answer.split(b"\r\n", 1)[0], answer[:300]
    assert b"application/problem+json" in answer
    assert sent < offered // 8, f"the server let {sent} bytes in before refusing"
    # A declared length over the limit is refused before anything is read.
    r = _upload(api, dossier, PDF + b"0" * (LIMIT + 70_000))
    declared = assert_problem(r, 413)
    assert declared["type"].endswith("too-large")
    # One byte past the limit: the file check, not only the body's.
    r = _upload(api, dossier, PDF + b"0" * (LIMIT - len(PDF) + 1))
    assert "at most 262144 bytes" in assert_problem(r, 413)["detail"]
    # Both say the same: the file limit (not the body's 320 KiB, a figure no setting holds).
    assert (declared["title"], declared["detail"]) == (r.json()["title"], r.json()["detail"])
    assert _upload(api, dossier, PDF + b"0" * (LIMIT - len(PDF))).status_code == 201
    assert len(_stored_blobs(container)) == 1  # only the one that fitted; no temporary file left
    assert _version(api, dossier) == 2


def test_erasing_a_person_erases_their_files_but_not_content_others_hold(
    served: tuple[Api, Container],
) -> None:
    api = served[0]
    theirs = _receive(api)["id"]
    sha = _upload(api, theirs, PDF, name=f"{CITIZEN['name']}.pdf").json()["document"]["sha256"]
    private = _upload(api, theirs, PNG, component=PAPER).json()["document"]["sha256"]
    other = api.post(
        "/api/v1/dossiers",
        {
            "procedure_code": "HT.03",
            "channel": "direct",
            "applicant": {"name": "Lê Văn Tám", "id_number": "079100000008"},
        },
    ).json()["id"]
    someone_else = _upload(api, other, PDF).json()["document"]["sha256"]  # the same blank form
    assert someone_else == sha
    r = api.post("/api/v1/privacy/forget", {"dossier_id": theirs}, role="admin", agency=None)
    assert r.status_code == 200 and r.json()["files_erased"] == 1, r.text
    assert_conforms(api.http, r, "POST", "/api/v1/privacy/forget")
    headers = api.token("officer", WARD)
    gone = api.http.get(f"/api/v1/dossiers/{theirs}/files/{private}", headers=headers)
    assert assert_problem(gone, 410)["type"].endswith("erased")
    listed = api.get(f"/api/v1/dossiers/{theirs}/files")
    assert_conforms(api.http, listed, "GET", FILES)
    listing = listed.json()
    assert [i["file_name"] for i in listing["items"]] == [None, None]
    # The other person's copy of the same content stays.
    assert api.http.get(f"/api/v1/dossiers/{other}/files/{sha}", headers=headers).content == PDF
    assert_problem(_upload(api, theirs, PDF, component=PAPER), 409)
