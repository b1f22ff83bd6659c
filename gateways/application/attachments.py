"""Dossier files (thành phần hồ sơ số hoá, kết quả): the use cases behind
`/api/v1/dossiers/{id}/files` and the citizen's result download.

Attaching is two steps: the gateway streams the upload into the blob store (content-
addressed, size-limited, type sniffed), then `attach` records `DocumentAttached` through
the writer like any command — with a row naming the blob in `dossier_files` in the same
transaction, so erasure knows which files belong to whom. Everything that can be refused
without the file (who, which dossier, which component, in what state) is checked by
`precheck` before the body is read, so a refused upload is not stored.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import commands as cmd
from domain.decide import decide
from domain.documents import AttachedDocument
from domain.dossier import Dossier, Status
from domain.errors import ActorNotAllowed, UnknownDossier
from domain.events import DocumentPurpose
from gateways.application.errors import Refused
from gateways.application.handler import actor_of, server_time
from gateways.application.service import DossierService, Loaded, check_dossier_id, secret_hash
from gateways.application.writer import Answer, Job
from gateways.auth import Principal
from gateways.blobs import BlobCorrupted, BlobMissing, BlobStore, StoredBlob
from gateways.eventstore.store import RecordedEvent
from gateways.sql import Database

log = logging.getLogger("lienthong.files")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS dossier_files (dossier_id TEXT NOT NULL, sha256 TEXT NOT NULL, "
    "erased_at TEXT, PRIMARY KEY (dossier_id, sha256))",
    "CREATE INDEX IF NOT EXISTS dossier_files_sha ON dossier_files (sha256)",
]
_REF = (
    "INSERT INTO dossier_files (dossier_id, sha256) VALUES (?, ?) ON CONFLICT (dossier_id, sha256) DO NOTHING"
)
_PLACEHOLDER = "0" * 64  # a hash for the dry run before the upload
MAX_FILE_NAME = 255


class UnsupportedType(Refused):
    def __init__(self, detail: str) -> None:
        super().__init__(415, "Unsupported file type", detail, "unsupported-media-type")


class FileTooLarge(Refused):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "File too large", f"a file may be at most {limit} bytes ({limit / 2**20:g} MiB)", "too-large"
        )


@dataclass(frozen=True)
class Document:
    """A file of the dossier as the API shows it."""

    attached: AttachedDocument
    file_name: str | None  # None once the applicant's data was erased

    def as_json(self, dossier_id: str) -> dict[str, Any]:
        a = self.attached
        return {
            "seq": a.seq,
            "purpose": a.purpose.value,
            "component": a.component,
            "file_name": self.file_name,
            "media_type": a.media_type,
            "size_bytes": a.size_bytes,
            "sha256": a.sha256,
            "attached_at": a.attached_at.isoformat(),
            "agency_code": a.agency_code,
            "href": f"/api/v1/dossiers/{dossier_id}/files/{a.sha256}",
        }


@dataclass(frozen=True)
class Download:
    document: Document
    chunks: Iterator[bytes]


class Attachments:
    def __init__(
        self,
        service: DossierService,
        blobs: BlobStore,
        db: Database,
        max_upload_bytes: int,
        find_receipt: Callable[[str], str | None],
        clock_skew_seconds: float = 120.0,
    ) -> None:
        self.find_receipt = find_receipt  # receipt code -> dossier id (the dossier index)
        self.skew = timedelta(seconds=clock_skew_seconds)
        self.service = service
        self.blobs = blobs
        self.db = db
        self.max_upload_bytes = max_upload_bytes
        db.executescript(SCHEMA)

    # -- the procedure's components for a dossier ----------------------------------------------
    def components_detail(self, state: Dossier) -> list[dict[str, Any]]:
        procedure = self.service.catalogue.procedure(state.procedure_code)
        at = state.received_at or state.submitted_at
        if procedure is None or at is None:
            return []
        day = at.astimezone(self.service.calendar.tz).date()
        have: dict[str, int] = {}
        for d in state.documents:
            if d.purpose == DocumentPurpose.COMPONENT:
                have[d.component] = have.get(d.component, 0) + 1
        return [
            {
                "name": c.name,
                "copies": c.copies,
                "form": c.form.value,
                "files": have.get(c.name.strip(), 0),
                "digitized": have.get(c.name.strip(), 0) > 0,
            }
            for c in procedure.components_on(day)
        ]

    # -- attaching ----------------------------------------------------------------------------------
    def _command(
        self,
        state: Dossier,
        principal: Principal,
        at: datetime,
        purpose: str,
        component: str,
        sealed_name: dict[str, Any],
        media_type: str,
        blob: StoredBlob,
    ) -> cmd.AttachDocument:
        return cmd.AttachDocument(
            actor=actor_of(principal),
            occurred_at=at,
            purpose=purpose,
            component=component,
            file_name=sealed_name,
            media_type=media_type,
            size_bytes=blob.size,
            sha256=blob.sha256,
            required_components=self.service.required_components(state),
        )

    def _may_act(self, principal: Principal, state: Dossier | None) -> None:
        if state is None:
            raise UnknownDossier("no dossier with that id")
        if principal.role == "officer" and (principal.agency_code or "") not in state.involved_agencies:
            raise ActorNotAllowed(f"agency {principal.agency_code} has no part in this dossier")

    def _require_key(self, dossier_id: str) -> None:
        if not self.service.vault.has_key(dossier_id):
            state = self.service.load(dossier_id).state
            if state is not None and state.imported:
                # Imported history has no applicant, so no data key to seal a file name with.
                raise Refused(
                    409,
                    "Imported history holds no files",
                    "this dossier was imported from a legacy log; it has no applicant and takes no files",
                    "imported-history",
                )
            raise Refused(
                409,
                "Personal data erased",
                "the applicant's data of this dossier was erased; no file can be attached to it",
                "erased",
            )

    def precheck(self, principal: Principal, dossier_id: str, purpose: str, component: str) -> None:
        """Refuse now what would be refused after the upload (no file is stored for it)."""
        actor_of(principal)  # 403 for roles that never write
        loaded = self.service.load(dossier_id)
        self._may_act(principal, loaded.state)
        assert loaded.state is not None
        self._require_key(dossier_id)
        dry = self._command(
            loaded.state,
            principal,
            server_time(self.service.now(), loaded.state, self.skew),
            purpose,
            component,
            {},
            "application/pdf",
            StoredBlob(_PLACEHOLDER, 1),
        )
        decide(loaded.state, dry, self.service.calendar)

    def attach(
        self,
        principal: Principal,
        dossier_id: str,
        *,
        purpose: str,
        component: str,
        file_name: str,
        media_type: str,
        blob: StoredBlob,
    ) -> Answer:
        """Record the stored `blob` on the dossier: 201 with the document, or 200 with the one
        recorded before when this content is already attached to this component."""
        check_dossier_id(dossier_id)
        service = self.service
        at = service.now()
        name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:MAX_FILE_NAME] or "file"
        self._require_key(dossier_id)
        sealed = service.vault.seal(dossier_id, {"file_name": name})
        job: Job

        def decide_on(state: Dossier | None) -> Any:
            assert state is not None
            when = server_time(at, state, self.skew)
            command = self._command(state, principal, when, purpose, component, sealed, media_type, blob)
            events = decide(state, command, service.calendar)
            job.decided_rows = [(_REF, (dossier_id, blob.sha256))] if events else []
            return events

        def respond(state: Dossier, records: list[RecordedEvent]) -> Answer:
            wanted = component.strip() if purpose == DocumentPurpose.COMPONENT.value else None
            found = next(
                d
                for d in reversed(state.documents)
                if d.sha256 == blob.sha256
                and d.purpose.value == purpose
                and (wanted is None or d.component == wanted)
            )
            body = {
                "dossier_id": dossier_id,
                "version": state.version,
                "document": Document(found, name).as_json(dossier_id),
                "all_components_digitized": state.all_components_digitized,
                "already_attached": not records,
            }
            return Answer(201 if records else 200, body, dossier_id, state.version)

        job = Job(
            dossier_id,
            decide_on,
            respond,
            _no_replay,
            authorize=lambda state: self._may_act(principal, state),
        )
        return service.writer.run(job, 30.0)

    # -- reading ----------------------------------------------------------------------------------
    def documents(self, loaded: Loaded) -> list[Document]:
        state = loaded.state
        if state is None:
            return []
        names = _sealed_names(loaded.records)
        out = []
        for attached in state.documents:
            sealed = names.get(attached.seq)
            opened = self.service.vault.open_sealed(state.id, sealed) if sealed else None
            out.append(Document(attached, str(opened["file_name"]) if opened else None))
        return out

    def listing(self, loaded: Loaded) -> dict[str, Any]:
        state = loaded.state
        assert state is not None
        return {
            "dossier_id": state.id,
            "receipt_code": state.receipt_code,
            "version": state.version,
            "items": [d.as_json(state.id) for d in self.documents(loaded)],
            "components": self.components_detail(state),
            "all_components_digitized": state.all_components_digitized,
        }

    def download(self, loaded: Loaded, sha256: str, purpose: DocumentPurpose | None = None) -> Download:
        """The dossier's file with this hash, checked against it before a byte is sent."""
        state = loaded.state
        assert state is not None
        found = [
            d
            for d in self.documents(loaded)
            if d.attached.sha256 == sha256 and (purpose is None or d.attached.purpose == purpose)
        ]
        if not found:
            raise Refused(
                404, "Unknown file", f"dossier {state.receipt_code} has no file {sha256[:64]}", "unknown-file"
            )
        return Download(found[-1], self._open(state.id, sha256))

    def _open(self, dossier_id: str, sha256: str) -> Iterator[bytes]:
        try:
            return self.blobs.open_verified(sha256)
        except BlobMissing:
            if self._erased(dossier_id, sha256):
                raise Refused(
                    410, "File erased", "this file was erased with the applicant's personal data", "erased"
                ) from None
            log.error("file %s of dossier %s is missing from the blob store", sha256, dossier_id)
            raise Refused(
                409,
                "File missing from storage",
                "the file is recorded on the dossier but absent from the file store; "
                "an administrator must restore it from backup",
                "file-missing",
            ) from None
        except BlobCorrupted:
            log.error("file %s of dossier %s does not match its SHA-256", sha256, dossier_id)
            raise Refused(
                409,
                "File damaged",
                "the stored file no longer matches the SHA-256 recorded when it was attached; "
                "it is not served. An administrator must restore it from backup",
                "file-corrupted",
            ) from None

    def _erased(self, dossier_id: str, sha256: str) -> bool:
        rows = self.db.query(
            "SELECT erased_at FROM dossier_files WHERE dossier_id = ? AND sha256 = ?", (dossier_id, sha256)
        )
        return bool(rows and rows[0]["erased_at"])

    # -- the citizen --------------------------------------------------------------------------------
    def result_for_citizen(self, receipt_code: str, secret: str) -> Download:
        """The result file, for the receipt code and the lookup secret (same 404 for a wrong
        code, a wrong secret, and no result yet: codes are not to be probed)."""
        not_found = Refused(
            404, "Not found", "no result file for this receipt code and secret (yet)", "lookup-failed"
        )
        dossier_id = self.find_receipt(receipt_code)
        if dossier_id is None:
            raise not_found
        loaded = self.service.load(dossier_id)
        state = loaded.state
        if state is None or not hmac.compare_digest(state.lookup_secret_hash, secret_hash(secret)):
            raise not_found
        if state.status not in (Status.RESULT_READY, Status.RETURNED):
            raise not_found
        results = [d for d in state.documents if d.purpose == DocumentPurpose.RESULT]
        if not results:
            raise not_found
        return self.download(loaded, results[-1].sha256, DocumentPurpose.RESULT)

    # -- erasure ----------------------------------------------------------------------------------
    def forget(self, dossier_ids: Sequence[str], at: datetime) -> int:
        """Delete the files of erased dossiers (personal data), except content another
        dossier not erased still holds; returns how many blobs were deleted."""
        if not dossier_ids:
            return 0
        ids = list(dossier_ids)
        with self.db.transaction() as tx:
            mine = tx.select_in(
                "SELECT DISTINCT sha256 FROM dossier_files WHERE dossier_id IN ({marks})", ids
            )
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                tx.execute(
                    "UPDATE dossier_files SET erased_at = ? "
                    f"WHERE dossier_id IN ({','.join('?' * len(part))}) AND erased_at IS NULL",
                    [at.isoformat(), *part],
                )
            shas = [r["sha256"] for r in mine]
            kept = {
                r["sha256"]
                for r in tx.select_in(
                    "SELECT DISTINCT sha256 FROM dossier_files "
                    "WHERE erased_at IS NULL AND sha256 IN ({marks})",
                    shas,
                )
            }
        deleted = 0
        for sha in shas:
            if sha not in kept and self.blobs.delete(sha):
                deleted += 1
        return deleted


def sweep(blobs: BlobStore, db: Database, cutoff: datetime) -> list[str]:
    """Delete the blobs stored before `cutoff` that no dossier records (uploads whose attach
    was refused after they were stored). The grace period before `cutoff` covers uploads
    whose event is still being written: their blob exists before the row naming it."""
    deleted = []
    for sha in blobs.stored_before(cutoff):
        recorded = db.query("SELECT 1 AS x FROM dossier_files WHERE sha256 = ? LIMIT 1", (sha,))
        if not recorded and blobs.delete(sha):
            deleted.append(sha)
    return deleted


def _sealed_names(records: Sequence[RecordedEvent]) -> dict[int, dict[str, Any]]:
    out = {}
    for r in records:
        if r.envelope.get("type") == "DocumentAttached":
            sealed = r.envelope.get("payload", {}).get("file_name")
            if isinstance(sealed, dict) and sealed:
                out[int(r.envelope["seq"])] = sealed
    return out


def _no_replay(_stored: Any) -> Answer:
    raise AssertionError("attachments carry no idempotency key: the content is the key")
