"""Dossier files: `POST /api/v1/dossiers/{id}/files` (multipart upload, streamed),
`GET …/files` (the list and the procedure's components), `GET …/files/{sha256}` (download,
checked against the hash), and the citizen's `POST /api/v1/lookup/result-file`.

The upload is never held whole: the body is parsed as it arrives, the file part goes
straight into the blob store while it is hashed, the first 64 KiB decide its type (magic
numbers, not the name), and the request is refused (413) at the chunk that crosses
`LIENTHONG_MAX_UPLOAD_BYTES`. Who may attach, to which dossier and component, is checked
before the body is read. Decisions: docs/decisions.md, "Dossier files".
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.concurrency import run_in_threadpool

from gateways.application.attachments import Download, FileTooLarge, UnsupportedType
from gateways.application.errors import Refused
from gateways.blobs import BlobTooLarge, BlobWriter, StoredBlob
from gateways.blobs.sniff import ALLOWED, HEAD_BYTES, sniff
from gateways.bootstrap import Container
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.problems import Problem
from gateways.http.responses import content_disposition
from gateways.http.routes.reads import LookupIn, _load
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1", tags=["files"])

UPLOAD_PATH = r"/api/v1/dossiers/[^/]+/files"
MULTIPART_SLACK = 64 * 1024  # the form's own framing and headers, beyond the file's bytes

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
_FILE = {
    "description": "the file, checked against its SHA-256",
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ALLOWED},
}


class _Upload:
    """The multipart parser's callbacks: the `file` part's bytes and name, nothing else kept."""

    def __init__(self) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.in_file = False
        self.seen_file = False
        self.second_file = False
        self.file_name = ""
        self.pending: list[bytes] = []

    def on_part_begin(self) -> None:
        self.headers = {}
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).decode("latin-1").lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file" and not self.seen_file:
            self.in_file = self.seen_file = True
            self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
        elif name == "file":
            self.second_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append(data[start:end])

    def on_part_end(self) -> None:
        self.in_file = False

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Refused(
            415,
            "Send multipart/form-data",
            "upload the file as multipart/form-data with one part named `file`",
            "unsupported-media-type",
        )
    return boundary


async def _receive_file(request: Request, container: Container) -> tuple[StoredBlob, str, str]:
    """Stream the `file` part into the blob store: (blob, media type, file name)."""
    limit = container.attachments.max_upload_bytes
    upload = _Upload()
    parser = MultipartParser(_boundary(request), upload.callbacks())
    head = bytearray()
    media_type: str | None = None
    writer: BlobWriter | None = None
    size = 0

    async def feed(data: bytes, final: bool) -> None:
        nonlocal media_type, writer, size
        size += len(data)
        if size > limit:
            raise FileTooLarge(limit)
        if writer is None:
            head.extend(data)
            if len(head) < HEAD_BYTES and not final:
                return
            media_type = sniff(bytes(head))
            if media_type is None:
                raise UnsupportedType(
                    "the file is not a PDF, PNG, JPEG, TIFF, Word (DOCX) or Excel (XLSX) file "
                    "(judged by its content, not its name)"
                )
            writer = container.blobs.writer(limit)
            data = bytes(head)
        if data:
            await run_in_threadpool(writer.write, data)

    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError:
                raise Refused(
                    400,
                    "Malformed request body",
                    "the body is not a multipart/form-data form with the boundary its Content-Type names",
                    "malformed-body",
                ) from None
            if upload.second_file:
                raise Refused(
                    422,
                    "Invalid request",
                    "send one file per request: the form has a second `file` part",
                    "one-file",
                )
            pieces, upload.pending = upload.pending, []
            for piece in pieces:
                await feed(piece, final=False)
        parser.finalize()
        if parser.state != MultipartState.END and upload.seen_file:
            # The parser takes a form cut before its closing boundary as it stands.
            raise Refused(
                400,
                "Malformed request body",
                "the form ends before its closing boundary: the upload is incomplete; send it again",
                "malformed-body",
            )
        for piece in upload.pending:
            await feed(piece, final=False)
        if not upload.seen_file:
            raise Refused(422, "No file", "the form has no part named `file`", "no-file")
        if size == 0:
            raise Refused(422, "Empty file", "the file is empty", "empty-file")
        await feed(b"", final=True)
        assert writer is not None and media_type is not None
        blob = await run_in_threadpool(writer.commit)
    except BlobTooLarge:
        raise FileTooLarge(limit) from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return blob, media_type, upload.file_name


@router.post(
    "/dossiers/{dossier_id}/files",
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    response_model=None,
    response_class=Response,
    responses={
        201: {"model": schemas.Attached, "description": "attached"},
        200: {"model": schemas.Attached, "description": "this content was already attached there"},
    },
)
async def upload_file(
    dossier_id: str,
    request: Request,
    principal: PrincipalDep,
    container: ContainerDep,
    component: Annotated[str, Query(max_length=300, description="the component (thành phần hồ sơ)")] = "",
    purpose: Annotated[
        Literal["component", "result"], Query(description="a component, or the result file")
    ] = "component",
) -> Response:
    """Attach a file (multipart field `file`) to the dossier as `component`, or as the
    result (`purpose=result`, once decided). 201 with the document; 200 when this content
    is already attached there (nothing recorded); 413 past the size limit; 415 for a type
    that is not allowed."""
    attachments = container.attachments
    await run_in_threadpool(attachments.precheck, principal, dossier_id, purpose, component)
    blob, media_type, file_name = await _receive_file(request, container)
    answer = await run_in_threadpool(
        lambda: attachments.attach(
            principal,
            dossier_id,
            purpose=purpose,
            component=component,
            file_name=file_name,
            media_type=media_type,
            blob=blob,
        )
    )
    return Response(
        orjson.dumps(answer.body),
        status_code=answer.status,
        media_type="application/json",
        headers={"ETag": f'"{answer.version}"'},
    )


@router.get("/dossiers/{dossier_id}/files", **answers(schemas.DossierFiles))
def list_files(dossier_id: str, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    """The dossier's files, and the procedure's components with whether each has a file."""
    return container.attachments.listing(_load(container, principal, dossier_id))


def _stream(download: Download) -> Response:
    document = download.document
    name = document.file_name or f"{document.attached.component}-{document.attached.sha256[:12]}"

    def body() -> Iterator[bytes]:
        yield from download.chunks

    return StreamingResponse(
        body(),
        media_type=document.attached.media_type,
        headers={
            "Content-Length": str(document.attached.size_bytes),
            "Content-Disposition": content_disposition("attachment", name),
            # RFC 9530: the representation's SHA-256, base64 between colons.
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(document.attached.sha256)).decode()}:",
            "ETag": f'"{document.attached.sha256}"',
            "Cache-Control": "no-store",  # personal data
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/dossiers/{dossier_id}/files/{sha256}", responses={200: _FILE}, response_class=Response)
def download_file(dossier_id: str, sha256: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    """The file, served only if its content still hashes to the SHA-256 recorded when it was
    attached (409 `file-corrupted` if not; 410 once erased with the applicant's data)."""
    loaded = _load(container, principal, dossier_id)
    if len(sha256) != 64:
        raise Problem(404, "Unknown file", "a file is named by its SHA-256 (64 hex digits)", "unknown-file")
    return _stream(container.attachments.download(loaded, sha256.lower()))


@router.get(
    "/lookup/{receipt_code}/result", tags=["citizen"], responses={200: _FILE}, response_class=Response
)
def citizen_result_file_by_url(
    receipt_code: str, container: ContainerDep, secret: Annotated[str, Query(min_length=1, max_length=200)]
) -> Response:
    """The contract's form of the citizen's download (access logs redact `secret`); prefer
    `POST /api/v1/lookup/result-file`, which keeps the secret out of URLs."""
    return _stream(container.attachments.result_for_citizen(receipt_code, secret))


@router.post("/lookup/result-file", tags=["citizen"], responses={200: _FILE}, response_class=Response)
def citizen_result_file(body: LookupIn, container: ContainerDep) -> Response:
    """The citizen downloads the result with the receipt code and the secret (in the body,
    never in a URL), once the result is ready."""
    return _stream(container.attachments.result_for_citizen(body.receipt_code, body.secret))
