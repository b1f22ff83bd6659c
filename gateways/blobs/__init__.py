"""Content-addressed storage of dossier files (blobs), behind one port.

`open_blob_store(url, data_dir)`: empty or `file:` → files under the data dir; `postgresql:`
→ a `blobs` table (bytea, chunked). Content is named by its SHA-256, so the same file
attached twice is stored once, and every read is checked against that name.
"""

from gateways.blobs.store import (
    BlobCorrupted,
    BlobMissing,
    BlobStore,
    BlobTooLarge,
    BlobWriter,
    FileBlobStore,
    PostgresBlobStore,
    StoredBlob,
    open_blob_store,
)

__all__ = [
    "BlobCorrupted",
    "BlobMissing",
    "BlobStore",
    "BlobTooLarge",
    "BlobWriter",
    "FileBlobStore",
    "PostgresBlobStore",
    "StoredBlob",
    "open_blob_store",
]
