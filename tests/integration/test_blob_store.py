"""The blob store contract on each implementation: files under a folder, and PostgreSQL on the
real server. Content is named by its SHA-256, stored once, read back only if it still hashes
to its name; a write past its limit or aborted leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.events import Actor, Channel
from gateways.application.attachments import SCHEMA as FILES_SCHEMA
from gateways.application.attachments import sweep
from gateways.auth import Principal
from gateways.backup import backup, restore_data
from gateways.blobs import BlobCorrupted, BlobMissing, BlobStore, BlobTooLarge, open_blob_store
from gateways.blobs.store import CHUNK, FileBlobStore, PostgresBlobStore, StoredBlob, put_bytes
from gateways.bootstrap import bootstrap
from gateways.seed.demo import load_catalogue
from gateways.settings import Settings
from gateways.sql import Database
from tests.conftest import FakeClock


def attached_copy(container: Any, at: datetime, data: bytes) -> tuple[str, StoredBlob]:
    """A dossier received at the desk for a certified copy, with `data` attached as the copy
    to certify (ban-sao.jpg); its id and the stored file."""
    created = container.service.create(
        dossier_id=str(uuid.uuid4()),
        procedure_code="CT.01-2025",
        channel=Channel.DIRECT,
        applicant={"name": "Phạm Văn Đồng", "id_number": "079100000001"},
        receiving_agency_code=None,
        actor=Actor("000.01.99.H29", "desk", "officer"),
        occurred_at=at,
    )
    blob = put_bytes(container.blobs, data)
    answer = container.attachments.attach(
        Principal(sub="desk", role="officer", agency_code="000.01.99.H29"),
        created.state.id,
        purpose="component",
        component="Bản sao cần chứng thực",
        file_name="ban-sao.jpg",
        media_type="image/jpeg",
        blob=blob,
    )
    assert answer.status == 201
    return created.state.id, blob


STORES = ["files", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration])]


@pytest.fixture(params=STORES)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: Callable[..., str]
) -> Iterator[BlobStore]:
    if request.param == "files":
        made: BlobStore = open_blob_store("", tmp_path)
    else:
        made = open_blob_store(pg_database(), tmp_path)
    yield made
    made.close()


def _leftovers(store: BlobStore) -> list[Any]:
    """Staging rows or temporary files of unfinished writes."""
    if isinstance(store, FileBlobStore):
        return list(store.tmp.iterdir())
    assert isinstance(store, PostgresBlobStore)
    with store.pool.connection() as conn:
        return conn.execute("SELECT blob_key FROM blob_chunks WHERE blob_key LIKE 'staging-%'").fetchall()


def _tamper(store: BlobStore, sha: str) -> None:
    if isinstance(store, FileBlobStore):
        path = store.path(sha)
        data = bytearray(path.read_bytes())
        data[CHUNK + 7] ^= 0x01
        path.write_bytes(bytes(data))
        return
    assert isinstance(store, PostgresBlobStore)
    with store.pool.connection() as conn:
        conn.execute(
            "UPDATE blob_chunks SET data = overlay(data placing '\\x00'::bytea from 8 for 1) "
            "WHERE blob_key = %s AND n = 1",
            (sha,),
        )


def test_round_trip_in_chunks_stored_once(store: BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK // 256 * 2 + 1000)  # a little over two chunks
    sha = hashlib.sha256(data).hexdigest()
    first = put_bytes(store, data)
    assert (first.sha256, first.size) == (sha, len(data))
    again = put_bytes(store, data)
    assert again == first and store.exists(sha)
    chunks = list(store.open_verified(sha))
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= CHUNK
    assert _leftovers(store) == []
    if isinstance(store, FileBlobStore):
        assert store.path(sha).stat().st_mode & 0o777 == 0o600
        assert store.path(sha).parent.stat().st_mode & 0o777 == 0o700


def test_a_write_past_its_limit_or_aborted_leaves_nothing(store: BlobStore) -> None:
    writer = store.writer(limit=CHUNK + 10)
    writer.write(b"a" * CHUNK)
    with pytest.raises(BlobTooLarge):
        writer.write(b"b" * 11)
    other = store.writer()
    other.write(b"c" * (CHUNK + 5))
    other.abort()
    assert _leftovers(store) == []
    assert not store.exists(hashlib.sha256(b"c" * (CHUNK + 5)).hexdigest())


def test_changed_content_is_detected_and_deletion_is_final(store: BlobStore) -> None:
    data = b"%PDF-1.7\n" + b"x" * (CHUNK * 2)
    sha = put_bytes(store, data).sha256
    _tamper(store, sha)
    with pytest.raises(BlobCorrupted):
        store.open_verified(sha)
    assert store.delete(sha) and not store.delete(sha)
    with pytest.raises(BlobMissing):
        store.open_verified(sha)
    with pytest.raises(BlobMissing):
        store.open_verified("../" + "a" * 61)  # never a path out of the store


@pytest.mark.postgres
@pytest.mark.integration
def test_the_service_keeps_files_in_postgresql_when_told_to(
    tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    """The whole path (attach, list, download) with both the event store and the blob store
    on the real PostgreSQL server, chosen by LIENTHONG_BLOB_STORE_URL."""
    url = pg_database()
    clock = FakeClock(datetime.fromisoformat("2026-08-28T09:00:00+07:00"))
    settings = Settings(
        data_dir=tmp_path / "var", event_store_url=url, blob_store_url=url, jwt_secret="s" * 40
    )
    container = bootstrap(settings, clock=clock)
    try:
        load_catalogue(container.catalogue)
        data = b"\xff\xd8\xff\xe0" + b"j" * 5000
        dossier, blob = attached_copy(container, clock(), data)
        loaded = container.service.load(dossier)
        listing = container.attachments.listing(loaded)
        assert [(c["name"], c["digitized"]) for c in listing["components"]] == [
            ("Bản chính giấy tờ, văn bản làm cơ sở để chứng thực", False),
            ("Bản sao cần chứng thực", True),
        ]
        download = container.attachments.download(loaded, blob.sha256)
        assert b"".join(download.chunks) == data and download.document.file_name == "ban-sao.jpg"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT size FROM blobs WHERE sha256 = %s", (blob.sha256,)).fetchone() == (
                len(data),
            )
        assert not (tmp_path / "var" / "blobs").exists()
    finally:
        container.close()


def test_a_backup_carries_the_files_and_a_restore_puts_them_back(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", jwt_secret="s" * 40)
    container = bootstrap(settings, clock=FakeClock(datetime.fromisoformat("2026-08-28T09:00:00+07:00")))
    try:
        blob = put_bytes(container.blobs, b"%PDF-1.7\nscan\n%%EOF\n")
        kept = container.blobs
        assert isinstance(kept, FileBlobStore)
        path = kept.path(blob.sha256)
    finally:
        container.close()
    out = tmp_path / "backup"
    manifest = backup(settings, out, events=0, checkpoints=0)
    assert manifest["files"] == 1
    copied = out / "blobs" / "sha256" / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    assert copied.read_bytes() == path.read_bytes() and copied.stat().st_mode & 0o777 == 0o600
    shutil.rmtree(settings.data_dir)
    restore_data(settings, out)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == blob.sha256
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_the_sweep_deletes_only_old_files_no_dossier_records(store: BlobStore, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'refs.sqlite'}")
    db.executescript(FILES_SCHEMA)
    recorded = put_bytes(store, b"%PDF-1.7\nrecorded\n").sha256
    orphan = put_bytes(store, b"%PDF-1.7\nrefused after upload\n").sha256
    db.execute("INSERT INTO dossier_files (dossier_id, sha256) VALUES (?, ?)", (str(uuid.uuid4()), recorded))
    before = datetime.now(UTC) - timedelta(hours=1)
    assert sweep(store, db, before) == []  # within the grace period: an attach may be under way
    assert sweep(store, db, datetime.now(UTC) + timedelta(seconds=5)) == [orphan]
    assert store.exists(recorded) and not store.exists(orphan)
    db.close()


def test_storing_known_content_again_restarts_its_grace_period(store: BlobStore, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'refs.sqlite'}")
    db.executescript(FILES_SCHEMA)
    data = b"%PDF-1.7\nuploaded twice\n"
    sha = put_bytes(store, data).sha256
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    _age(store, sha, cutoff - timedelta(hours=1))
    assert list(store.stored_before(cutoff)) == [sha]  # an old unrecorded file: the sweep's
    put_bytes(store, data)  # a second upload of the same content, its attach under way
    assert sweep(store, db, cutoff) == [] and store.exists(sha)
    db.close()


def _age(store: BlobStore, sha: str, at: datetime) -> None:
    """Pretend the blob was stored at `at`."""
    if isinstance(store, FileBlobStore):
        os.utime(store.path(sha), (at.timestamp(), at.timestamp()))
        return
    assert isinstance(store, PostgresBlobStore)
    with store.pool.connection() as conn:
        conn.execute("UPDATE blobs SET stored_at = %s WHERE sha256 = %s", (at, sha))
