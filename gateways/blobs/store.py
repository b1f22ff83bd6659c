"""The blob store port and its two implementations (files, PostgreSQL).

Writers hash while they write and never hold a whole file in memory: a file goes to a
temporary file (or to staging rows inside one PostgreSQL transaction) and takes its final
name, the hex SHA-256 of its content, only when it is complete. A writer past its size
limit raises `BlobTooLarge` at the chunk that crossed it and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from gateways.files import private_dir

CHUNK = 1024 * 1024  # bytes per read, and per PostgreSQL row
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


class BlobMissing(LookupError):
    """No blob with that hash (never stored, or erased)."""


class BlobCorrupted(Exception):
    """The stored content no longer hashes to its name."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> StoredBlob: ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    def writer(self, limit: int | None = None) -> BlobWriter: ...

    def exists(self, sha256: str) -> bool: ...

    def open_verified(self, sha256: str) -> Iterator[bytes]:
        """The content in chunks, after checking that all of it hashes to `sha256`
        (BlobCorrupted if not, BlobMissing if there is none)."""
        ...

    def delete(self, sha256: str) -> bool: ...

    def stored_before(self, cutoff: datetime) -> Iterator[str]:
        """The names of blobs stored before `cutoff`."""
        ...

    def close(self) -> None: ...


def check_name(sha256: str) -> str:
    if not _HEX64.match(sha256):
        raise BlobMissing(f"'{sha256[:80]}' is not a SHA-256 (64 lowercase hex digits)")
    return sha256


def put_bytes(store: BlobStore, data: bytes) -> StoredBlob:
    """Store `data` (tests, small generated files)."""
    writer = store.writer()
    try:
        for start in range(0, max(len(data), 1), CHUNK):
            writer.write(data[start : start + CHUNK])
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


class _Counted:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise BlobTooLarge(self.limit)
        self.digest.update(chunk)


# --- files under a folder ---------------------------------------------------------------


class _FileWriter:
    def __init__(self, store: FileBlobStore, limit: int | None) -> None:
        self._store = store
        self._count = _Counted(limit)
        fd, name = tempfile.mkstemp(dir=store.tmp, prefix="upload-")  # mode 0600
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "writer already finished"
        try:
            self._count.add(chunk)
        except BlobTooLarge:
            self.abort()
            raise
        self._file.write(chunk)

    def commit(self) -> StoredBlob:
        assert self._file is not None, "writer already finished"
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        sha = self._count.digest.hexdigest()
        final = self._store.path(sha)
        private_dir(final.parent.parent)
        private_dir(final.parent)
        if final.exists():
            # The same content is stored already; stored "now" again, so a sweep of unrecorded
            # files (whose grace period counts from the last store) spares it while it is attached.
            self._path.unlink(missing_ok=True)
            os.utime(final)
        else:
            os.replace(self._path, final)
        return StoredBlob(sha, self._count.size)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


class FileBlobStore:
    """`<root>/sha256/ab/cd/<hex>`, files 0600 in folders 0700; uploads in `<root>/tmp`."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)
        self.tmp = private_dir(root / "tmp")
        private_dir(root / "sha256")

    def path(self, sha256: str) -> Path:
        check_name(sha256)
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def writer(self, limit: int | None = None) -> BlobWriter:
        return _FileWriter(self, limit)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open_verified(self, sha256: str) -> Iterator[bytes]:
        try:
            handle = open(self.path(sha256), "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError:
            raise BlobMissing(f"no stored file {sha256}") from None
        try:
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
            if digest.hexdigest() != sha256:
                raise BlobCorrupted(f"stored file {sha256} no longer matches its SHA-256")
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return _chunks(handle)

    def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def stored_before(self, cutoff: datetime) -> Iterator[str]:
        limit = cutoff.timestamp()
        for path in (self.root / "sha256").glob("*/*/*"):
            if path.is_file() and _HEX64.match(path.name) and path.stat().st_mtime < limit:
                yield path.name

    def close(self) -> None:
        pass


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


# --- PostgreSQL ---------------------------------------------------------------------------

PG_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, "
    "chunks INTEGER NOT NULL, stored_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS blob_chunks (blob_key TEXT NOT NULL, n INTEGER NOT NULL, "
    "data BYTEA NOT NULL, PRIMARY KEY (blob_key, n))",
]


class _PostgresWriter:
    """Chunks go into staging rows inside one transaction; commit renames them to the hash
    (or drops them when the content is stored already); abort rolls everything back."""

    def __init__(self, store: PostgresBlobStore, limit: int | None) -> None:
        self._count = _Counted(limit)
        self._conn: Any = store.pool.getconn()
        self._store = store
        self._key = f"staging-{uuid.uuid4().hex}"
        self._n = 0
        self._buffer = bytearray()

    def _flush(self) -> None:
        if self._buffer:
            self._conn.execute(
                "INSERT INTO blob_chunks (blob_key, n, data) VALUES (%s, %s, %s)",
                (self._key, self._n, bytes(self._buffer)),
            )
            self._n += 1
            self._buffer.clear()

    def write(self, chunk: bytes) -> None:
        assert self._conn is not None, "writer already finished"
        try:
            self._count.add(chunk)
        except BlobTooLarge:
            self.abort()
            raise
        self._buffer.extend(chunk)
        while len(self._buffer) >= CHUNK:
            rest = bytes(self._buffer[CHUNK:])
            del self._buffer[CHUNK:]
            self._flush()
            self._buffer.extend(rest)

    def commit(self) -> StoredBlob:
        assert self._conn is not None, "writer already finished"
        try:
            self._flush()
            sha = self._count.digest.hexdigest()
            inserted = self._conn.execute(
                "INSERT INTO blobs (sha256, size, chunks) VALUES (%s, %s, %s) "
                "ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
                (sha, self._count.size, self._n),
            ).fetchone()
            if inserted:
                self._conn.execute(
                    "UPDATE blob_chunks SET blob_key = %s WHERE blob_key = %s", (sha, self._key)
                )
            else:  # stored already: drop the copy, and count its grace period from now (sweep)
                self._conn.execute("DELETE FROM blob_chunks WHERE blob_key = %s", (self._key,))
                self._conn.execute("UPDATE blobs SET stored_at = now() WHERE sha256 = %s", (sha,))
            self._conn.commit()
        except BaseException:
            self.abort()
            raise
        self._release()
        return StoredBlob(sha, self._count.size)

    def abort(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            self._conn.rollback()
        self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._store.pool.putconn(conn)


class PostgresBlobStore:
    def __init__(self, url: str) -> None:
        from psycopg_pool import ConnectionPool

        from gateways.sql import Database

        schema_db = Database(url)
        try:
            schema_db.executescript(PG_SCHEMA)
        finally:
            schema_db.close()
        self.pool = ConnectionPool(url, min_size=1, max_size=8, open=True)

    def writer(self, limit: int | None = None) -> BlobWriter:
        return _PostgresWriter(self, limit)

    def _chunks(self, sha256: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT chunks FROM blobs WHERE sha256 = %s", (check_name(sha256),)).fetchone()
        if row is None:
            raise BlobMissing(f"no stored file {sha256}")
        return int(row[0])

    def exists(self, sha256: str) -> bool:
        try:
            self._chunks(sha256)
        except BlobMissing:
            return False
        return True

    def _read(self, sha256: str, chunks: int) -> Iterator[bytes]:
        for n in range(chunks):
            with self.pool.connection() as conn:
                row = conn.execute(
                    "SELECT data FROM blob_chunks WHERE blob_key = %s AND n = %s", (sha256, n)
                ).fetchone()
            if row is None:
                raise BlobCorrupted(f"stored file {sha256} lost its part {n}")
            yield bytes(row[0])

    def open_verified(self, sha256: str) -> Iterator[bytes]:
        chunks = self._chunks(sha256)
        digest = hashlib.sha256()
        for chunk in self._read(sha256, chunks):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise BlobCorrupted(f"stored file {sha256} no longer matches its SHA-256")
        return self._read(sha256, chunks)

    def delete(self, sha256: str) -> bool:
        with self.pool.connection() as conn, conn.transaction():
            gone = conn.execute("DELETE FROM blobs WHERE sha256 = %s RETURNING sha256", (check_name(sha256),))
            existed = gone.fetchone() is not None
            conn.execute("DELETE FROM blob_chunks WHERE blob_key = %s", (sha256,))
        return existed

    def stored_before(self, cutoff: datetime) -> Iterator[str]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT sha256 FROM blobs WHERE stored_at < %s", (cutoff.astimezone(UTC),))
            names = [str(r[0]) for r in rows.fetchall()]
        yield from names

    def close(self) -> None:
        self.pool.close()


def open_blob_store(url: str, data_dir: Path) -> BlobStore:
    """The store a `LIENTHONG_BLOB_STORE_URL` names (empty: `<data_dir>/blobs`)."""
    if not url:
        return FileBlobStore(data_dir / "blobs")
    scheme = urlsplit(url).scheme
    if scheme == "file":
        path = url[len("file://") :] if url.startswith("file://") else url[len("file:") :]
        return FileBlobStore(Path(path))
    if scheme in ("postgresql", "postgres"):
        return PostgresBlobStore(url)
    raise ValueError(
        f"unsupported blob store URL '{scheme}://…' (file: or postgresql:; "
        "S3 is not built, see docs/decisions.md)"
    )
