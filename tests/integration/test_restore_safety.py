"""Backup, restore and audit verify never report success on lost or empty data: a backup that
misses a key or a file is refused before anything changes, a damaged live store is replaced
with --force, erasures made after the backup are made again, a wrong data dir is named, and
an unknown dossier is not "verified"."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from gateways.application.privacy import forget
from gateways.bootstrap import bootstrap
from gateways.cli import app
from gateways.seed.demo import load_catalogue, seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock
from tests.integration.test_blob_store import attached_copy

pytestmark = pytest.mark.integration

SCAN = b"\xff\xd8\xff\xe0" + b"scan of a land title " * 200


@dataclass(frozen=True)
class Source:
    settings: Settings
    backup: Path
    dossier: str  # holds the file
    sha: str  # the file
    events: int


def _env(data_dir: Path, url: str = "", keys: Path | None = None) -> dict[str, str]:
    env = {
        "LIENTHONG_DATA_DIR": str(data_dir),
        "LIENTHONG_EVENT_STORE_URL": url,
        "LIENTHONG_ENV_FILE": "/nonexistent.env",
    }
    if keys is not None:
        env["LIENTHONG_KEYS_DIR"] = str(keys)
    return env


def _seed(tmp: Path, url: str = "") -> Source:
    """A store with demo dossiers, one file attached to one of them, a signed checkpoint; and
    its backup written by the command line."""
    clock = FakeClock(datetime.fromisoformat("2026-11-20T09:00:00+07:00"))
    settings = Settings(data_dir=tmp / "var", event_store_url=url)
    container = bootstrap(settings, clock=clock)
    try:
        load_catalogue(container.catalogue)
        seed_demo(container.service, clock(), dossiers=4, seed=5)
        dossier, blob = attached_copy(container, clock(), SCAN)
        container.feed.catch_up()
        container.checkpoints.checkpoint(clock())
        events = container.store.max_notification_id()
    finally:
        container.close()
    out = tmp / "backup"
    done = CliRunner().invoke(app, ["backup", "--out", str(out)], env=_env(settings.data_dir, url))
    assert done.exit_code == 0, done.output
    return Source(settings, out, dossier, blob.sha256, events)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return _seed(tmp_path_factory.mktemp("source"))


def _copy(source: Source, tmp: Path) -> Path:
    copy = tmp / "copy"
    shutil.copytree(source.backup, copy)
    return copy


def _restore(backup: Path, data_dir: Path, *more: str, url: str = "") -> tuple[int, str]:
    done = CliRunner().invoke(app, ["restore", str(backup), *more], env=_env(data_dir, url))
    return done.exit_code, " ".join(done.output.split())


def _blob(root: Path, sha: str) -> Path:
    return root / "sha256" / sha[:2] / sha[2:4] / sha


def _events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('stored_events') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        count = conn.execute("SELECT count(*) FROM stored_events").fetchone()
        return int(count[0]) if count else 0


def test_the_backup_records_the_hash_of_every_key(source: Source) -> None:
    manifest = orjson.loads((source.backup / "manifest.json").read_bytes())
    assert {"pii.key", "pii-index.key", "checkpoint.ed25519"} <= set(manifest["key_sha256"])
    for name, digest in manifest["key_sha256"].items():
        assert hashlib.sha256((source.backup / "keys" / name).read_bytes()).hexdigest() == digest


@pytest.mark.timeout(300)
def test_a_backup_missing_its_pii_key_is_refused_on_each_backend(
    backend_url: str, tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    url = "" if backend_url.startswith("sqlite") else backend_url
    seeded = _seed(tmp_path, url)
    copy = _copy(seeded, tmp_path)
    (copy / "keys" / "pii.key").unlink()
    target_url = "" if not url else pg_database()
    code, output = _restore(copy, tmp_path / "fresh", url=target_url)
    assert code == 2, output
    assert "keys/pii.key is missing" in output and "nothing was changed" in output
    # Nothing was made: no data dir, no keys (a new pii.key would open nothing), no events.
    assert not (tmp_path / "fresh").exists()
    if target_url:
        assert _events(target_url) == 0
    # The complete backup restores.
    code, output = _restore(seeded.backup, tmp_path / "fresh", url=target_url)
    assert code == 0 and "audit verify: OK" in output, output


@pytest.mark.timeout(300)
def test_a_master_key_that_opens_no_data_key_is_refused_on_each_backend(
    backend_url: str, tmp_path: Path, pg_database: Callable[..., str]
) -> None:
    """Even from a backup of an older release, whose manifest holds no key hashes: each stored
    data key names the master key that wraps it."""
    url = "" if backend_url.startswith("sqlite") else backend_url
    seeded = _seed(tmp_path, url)
    copy = _copy(seeded, tmp_path)
    (copy / "keys" / "pii.key").write_bytes(base64.b64encode(secrets.token_bytes(32)))
    code, output = _restore(copy, tmp_path / "fresh", url="" if not url else pg_database())
    assert code == 2 and "keys/pii.key differs" in output, output
    manifest = orjson.loads((copy / "manifest.json").read_bytes())
    del manifest["key_sha256"]
    (copy / "manifest.json").write_bytes(orjson.dumps(manifest))
    code, output = _restore(copy, tmp_path / "fresh", url="" if not url else pg_database())
    assert code == 2 and "which is not in keys/" in output, output
    assert not (tmp_path / "fresh").exists()


def test_a_missing_or_damaged_file_is_refused_with_its_dossier(source: Source, tmp_path: Path) -> None:
    copy = _copy(source, tmp_path)
    blob = _blob(copy / "blobs", source.sha)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    code, output = _restore(copy, tmp_path / "fresh")
    assert code == 2, output
    assert f"file {source.sha} is damaged" in output
    assert f"file {source.sha} of dossier {source.dossier} is missing or damaged" in output
    blob.unlink()
    code, output = _restore(copy, tmp_path / "fresh")
    assert code == 2 and f"of dossier {source.dossier} is missing" in output, output
    assert not (tmp_path / "fresh").exists()


def test_force_replaces_a_damaged_live_store(source: Source, tmp_path: Path) -> None:
    live = tmp_path / "live"
    assert _restore(source.backup, live)[0] == 0
    db = live / "lienthong.sqlite"
    scan = _blob(live / "blobs", source.sha)
    scan.write_bytes(b"not the scan")
    with open(db, "r+b") as handle:
        handle.write(b"not a database at all, the header is gone" * 4)
    code, output = _restore(source.backup, live)
    assert code == 2 and "cannot be read" in output and "--force" in output, output
    code, output = _restore(source.backup, live, "--force")
    assert code == 0 and "audit verify: OK" in output, output
    assert f"restored {source.events} events" in output
    assert "erasures it recorded after this backup" in output  # could not be read: said so
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM stored_events").fetchone()[0] == source.events
    assert not list(live.glob("*.restoring*"))
    assert scan.read_bytes() == SCAN  # a damaged file is put back too


@pytest.mark.timeout(300)
def test_erasures_made_after_the_backup_are_made_again_on_each_backend(
    backend_url: str, tmp_path: Path
) -> None:
    url = "" if backend_url.startswith("sqlite") else backend_url
    seeded = _seed(tmp_path, url)
    settings = seeded.settings
    clock = FakeClock(datetime.fromisoformat("2026-11-21T10:00:00+07:00"))
    container = bootstrap(settings, clock=clock)
    try:
        done = forget(
            container.vault,
            container.store,
            role="admin",
            subject="dpo",
            at=clock(),
            dossier_id=seeded.dossier,
            files=container.attachments,
        )
        assert done.erased == [seeded.dossier] and done.files_erased == 1
    finally:
        container.close()

    code, output = _restore(seeded.backup, settings.data_dir, "--force", url=url)

    assert code == 0 and "audit verify: OK" in output, output
    assert f"erased again: dossier {seeded.dossier}" in output
    container = bootstrap(settings, clock=clock)
    try:
        assert not container.vault.has_key(seeded.dossier)
        assert [(e["requested_by"], e["erased_at"]) for e in container.vault.erasures(seeded.dossier)] == [
            ("dpo", clock().isoformat())
        ]
        assert not container.blobs.exists(seeded.sha)
        assert container.store.max_notification_id() == seeded.events
    finally:
        container.close()


def test_backup_and_audit_verify_refuse_a_data_dir_with_no_store(tmp_path: Path) -> None:
    typo = tmp_path / "vra"
    runner = CliRunner()
    done = runner.invoke(app, ["backup", "--out", str(tmp_path / "b")], env=_env(typo))
    assert done.exit_code == 2 and "no event store at" in done.output, done.output
    verify = runner.invoke(app, ["audit", "verify"], env=_env(typo))
    assert verify.exit_code == 2 and "no event store at" in verify.output, verify.output
    assert "OK" not in verify.output
    assert not typo.exists() and not (tmp_path / "b").exists()


def test_backup_refuses_a_store_whose_keys_are_not_there(source: Source, tmp_path: Path) -> None:
    unmounted = tmp_path / "keys"
    unmounted.mkdir()
    done = CliRunner().invoke(
        app, ["backup", "--out", str(tmp_path / "b")], env=_env(source.settings.data_dir, keys=unmounted)
    )
    assert done.exit_code == 2 and "no pii.key" in done.output, done.output
    assert os.listdir(unmounted) == [] and not (tmp_path / "b").exists()


def test_audit_verify_of_an_unknown_dossier_is_not_ok(source: Source) -> None:
    runner = CliRunner()
    env = _env(source.settings.data_dir)
    unknown = str(uuid.uuid4())
    done = runner.invoke(app, ["audit", "verify", "--dossier-id", unknown], env=env)
    assert done.exit_code == 2 and f"no dossier {unknown}" in done.output, done.output
    assert "OK" not in done.output
    known = runner.invoke(app, ["audit", "verify", "--dossier-id", source.dossier], env=env)
    assert known.exit_code == 0 and "OK: nothing altered" in known.output, known.output
