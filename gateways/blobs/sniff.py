"""What a file is, from its first bytes (magic numbers), never from its name.

Only the kinds a dossier holds are recognised: PDF, PNG, JPEG, TIFF scans, and Word /
Excel documents (Office Open XML: a ZIP whose parts live under `word/` or `xl/`).
Anything else is `None`, and the upload is refused.
"""

from __future__ import annotations

import struct

HEAD_BYTES = 64 * 1024  # enough for the ZIP entries that tell DOCX from XLSX

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ALLOWED = (PDF, PNG, JPEG, TIFF, DOCX, XLSX)
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", TIFF: "tif", DOCX: "docx", XLSX: "xlsx"}

_ZIP_ENTRY = b"PK\x03\x04"


def _zip_names(head: bytes) -> list[str]:
    """Names of the ZIP local file headers found in `head` (entries may stream their sizes
    after the data, so every header signature is looked at, not only the first)."""
    names = []
    at = head.find(_ZIP_ENTRY)
    while at != -1 and at + 30 <= len(head):
        name_length = struct.unpack_from("<H", head, at + 26)[0]
        raw = head[at + 30 : at + 30 + name_length]
        if len(raw) == name_length:
            names.append(raw.decode("utf-8", "replace"))
        at = head.find(_ZIP_ENTRY, at + 4)
    return names


def sniff(head: bytes) -> str | None:
    """The media type of content starting with `head`, or None if it is not an allowed kind."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(_ZIP_ENTRY):
        names = _zip_names(head)
        if "[Content_Types].xml" in names or any(n.startswith(("word/", "xl/")) for n in names):
            if any(n.startswith("word/") for n in names):
                return DOCX
            if any(n.startswith("xl/") for n in names):
                return XLSX
    return None
