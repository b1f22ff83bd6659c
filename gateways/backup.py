"""Backup and restore of the event store database and the keys.

The event store's database holds everything that is not derived: events and their
notification log, the catalogue, the PII vault's sealed keys, idempotency records, signed
checkpoints. The views are derived: a restore rebuilds them from the restored events, so
reports come out identical. The keys directory (JWT, checkpoint and PII master keys)
goes with it — without the PII master key the applicant data cannot be opened, without
the checkpoint key no new checkpoint continues the signed chain.

- SQLite: the online backup API (a consistent copy while the server writes).
- PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists` (the client
  tools of the Debian postgresql-client package, same major version as the server or newer).

A backup directory: `manifest.json`, `lienthong.sqlite` or `lienthong.pgdump`, `keys/`
(0700, files 0600: it holds secrets; keep the backup as carefully as the keys), and `blobs/`:
the dossiers' files when they are kept as files (`LIENTHONG_BLOB_STORE_URL` empty or `file:`;
a `postgresql:` blob store in the event store's database is inside its dump; in another
database it is backed up with that database).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateways.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "lienthong.sqlite"
PG_FILE = "lienthong.pgdump"


class BackupError(Exception):
    """The backup or restore cannot go on (the message says why)."""


@dataclass(frozen=True)
class Store:
    kind: str  # "sqlite" | "postgresql"
    url: str

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url[len("sqlite:///") :])


def store_of(settings: Settings) -> Store:
    url = settings.resolved_event_store_url
    if url.startswith("sqlite:///"):
        return Store("sqlite", url)
    if url.startswith(("postgresql://", "postgres://")):
        return Store("postgresql", url)
    raise BackupError(f"no backup procedure for the event store URL scheme of {url.split(':', 1)[0]}")


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _copy_keys(source: Path, target: Path) -> list[str]:
    names: list[str] = []
    if not source.is_dir():
        return names
    _private_dir(target)
    for item in sorted(source.iterdir()):
        if item.is_file():
            shutil.copyfile(item, target / item.name)
            (target / item.name).chmod(0o600)
            names.append(item.name)
    return names


def _file_blobs(settings: Settings) -> Path | None:
    """The folder of the dossiers' files, when they are kept as files."""
    url = settings.blob_store_url
    if not url:
        return settings.data_dir / "blobs"
    if url.startswith("file:"):
        return Path(url[len("file://") :] if url.startswith("file://") else url[len("file:") :])
    return None


def _copy_blobs(source: Path, target: Path) -> int:
    """Copy the content-addressed files (`sha256/ab/cd/<hex>`), folders 0700, files 0600."""
    copied = 0
    root = source / "sha256"
    if not root.is_dir():
        return 0
    for item in sorted(root.rglob("*")):
        if not item.is_file():
            continue
        dest = target / "sha256" / item.relative_to(root)
        for folder in (target, target / "sha256", dest.parent.parent, dest.parent):
            _private_dir(folder)
        if not dest.exists():
            shutil.copyfile(item, dest)
            dest.chmod(0o600)
        copied += 1
    return copied


def _run(args: list[str]) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{args[0]} is not installed (Debian: apt-get install postgresql-client)") from exc
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[-2000:]}")


def backup(settings: Settings, out: Path, *, events: int, checkpoints: int) -> dict[str, Any]:
    """Write a backup of the event store and the keys into `out` (a new or empty directory)."""
    store = store_of(settings)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: back up into a new directory")
    _private_dir(out)
    if store.kind == "sqlite":
        if not store.sqlite_path.exists():
            raise BackupError(f"no event store at {store.sqlite_path}")
        target = out / SQLITE_FILE
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        with sqlite3.connect(store.sqlite_path) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        data = SQLITE_FILE
    else:
        target = out / PG_FILE
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), store.url]
        )
        target.chmod(0o600)
        data = PG_FILE
    keys = _copy_keys(settings.keys_dir, out / "keys")
    blobs = _file_blobs(settings)
    files = _copy_blobs(blobs, out / "blobs") if blobs is not None else 0
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "store": store.kind,
        "data": data,
        "keys": keys,
        "events": events,
        "checkpoints": checkpoints,
        "files": files,
    }
    (out / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} holds no backup ({MANIFEST} is missing)")
    manifest: dict[str, Any] = orjson.loads(path.read_bytes())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


def restore_data(settings: Settings, source: Path) -> dict[str, Any]:
    """Put the backed-up database and keys in place (the server must be stopped)."""
    manifest = read_manifest(source)
    store = store_of(settings)
    if manifest["store"] != store.kind:
        raise BackupError(
            f"the backup is of a {manifest['store']} store; the configured event store is {store.kind}"
        )
    data = source / manifest["data"]
    if not data.is_file():
        raise BackupError(f"{data} is missing")
    if store.kind == "sqlite":
        target = store.sqlite_path
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        if not target.exists():
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
        with sqlite3.connect(data) as copy, sqlite3.connect(target) as live:
            copy.backup(live)
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--dbname",
                store.url,
                str(data),
            ]
        )
    _copy_keys(source / "keys", settings.keys_dir)
    blobs = _file_blobs(settings)
    if blobs is not None and (source / "blobs").is_dir():
        _copy_blobs(source / "blobs", blobs)
    return manifest


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    events: int
    views: dict[str, int]
    audit: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.audit.get("ok")) and self.events == self.manifest["events"]


def restore(settings: Settings, source: Path, *, force: bool = False) -> Restored:
    """Restore `source` into the configured stores, rebuild every view, verify the audit.

    Refuses a store that already holds events unless `force` (a restore replaces them)."""
    from gateways.bootstrap import bootstrap

    read_manifest(source)
    if not force:
        container = bootstrap(settings)
        try:
            held = container.store.max_notification_id()
        finally:
            container.close()
        if held:
            raise BackupError(
                f"the configured event store already holds {held} events; restoring replaces them "
                "(stop the server, then give --force)"
            )
    manifest = restore_data(settings, source)
    container = bootstrap(settings.model_copy())
    try:
        rebuilt = {r.view: r.events for r in container.feed.rebuild()}
        audit = container.checkpoints.verify().as_json()
        events = container.store.max_notification_id()
    finally:
        container.close()
    return Restored(manifest, events, rebuilt, audit)
