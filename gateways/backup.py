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

A backup directory: `manifest.json` (with the SHA-256 of every key file), `lienthong.sqlite`
or `lienthong.pgdump`, `keys/` (0700, files 0600: it holds secrets; keep the backup as
carefully as the keys), and `blobs/`: the dossiers' files when they are kept as files
(`LIENTHONG_BLOB_STORE_URL` empty or `file:`; a `postgresql:` blob store in the event store's
database is inside its dump; in another database it is backed up with that database).

A backup is checked before it is reported written, and again before anything is restored
(`check_backup`): every key the manifest lists is there and unchanged, the master keys open
the stored data keys, every file is whole (its name is its SHA-256) and every file a dossier
still holds is there. A restore that finds a fault changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateways.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "lienthong.sqlite"
PG_FILE = "lienthong.pgdump"
# Made by every process at start: a store without them was written under other keys.
REQUIRED_KEYS = ("pii.key", "pii-index.key", "checkpoint.ed25519")
CHUNK = 1 << 20


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


def missing_store(settings: Settings) -> str | None:
    """Why the configured event store is not there (a SQLite file not yet created: a wrong
    data dir would otherwise be bootstrapped into a new empty store), or None. A PostgreSQL
    database is there as soon as it can be reached; an empty one is reported as empty."""
    url = settings.resolved_event_store_url
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Store("sqlite", url).sqlite_path
        if not path.is_file():
            return f"no event store at {path} (is LIENTHONG_DATA_DIR or LIENTHONG_EVENT_STORE_URL right?)"
    return None


def missing_keys(settings: Settings) -> str | None:
    """Which keys every process makes are absent from the keys folder (a folder not mounted:
    starting would make new keys that open nothing stored), or None."""
    absent = [name for name in REQUIRED_KEYS if not (settings.keys_dir / name).is_file()]
    if absent:
        where = settings.keys_dir
        return f"no {', '.join(absent)} in {where} (is LIENTHONG_KEYS_DIR right, its volume mounted?)"
    return None


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_private(source: Path, target: Path) -> None:
    """Copy through a side file renamed into place (0600): a reader never sees half a file."""
    part = target.with_name(target.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, target)


def _write_private(target: Path, data: bytes) -> None:
    """Write `data` to a new file created 0600, as every other file of a backup."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _copy_keys(source: Path, target: Path) -> dict[str, str]:
    """Copy the key files; their SHA-256 by name."""
    hashes: dict[str, str] = {}
    if not source.is_dir():
        return hashes
    _private_dir(target)
    for item in sorted(source.iterdir()):
        if item.is_file() and not item.name.endswith(".part"):
            _copy_private(item, target / item.name)
            hashes[item.name] = _sha256_file(target / item.name)
    return hashes


def _file_blobs(settings: Settings) -> Path | None:
    """The folder of the dossiers' files, when they are kept as files."""
    url = settings.blob_store_url
    if not url:
        return settings.data_dir / "blobs"
    if url.startswith("file:"):
        return Path(url[len("file://") :] if url.startswith("file://") else url[len("file:") :])
    return None


def _blob_files(root: Path) -> Iterator[Path]:
    base = root / "sha256"
    if base.is_dir():
        yield from (p for p in sorted(base.glob("*/*/*")) if p.is_file())


def _copy_blobs(source: Path, target: Path, *, repair: bool = False) -> int:
    """Copy the content-addressed files (`sha256/ab/cd/<hex>`), folders 0700, files 0600.
    `repair`: a target file that no longer hashes to its name is replaced too."""
    copied = 0
    for item in _blob_files(source):
        dest = target / "sha256" / item.relative_to(source / "sha256")
        for folder in (target, target / "sha256", dest.parent.parent, dest.parent):
            _private_dir(folder)
        if not dest.exists() or (repair and _sha256_file(dest) != dest.name):
            _copy_private(item, dest)
        copied += 1
    return copied


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{args[0]} is not installed (Debian: apt-get install postgresql-client)") from exc
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


# -- reading a backup's data without restoring it ---------------------------------------------


def _sqlite_ro(path: Path, *, live: bool = False) -> sqlite3.Connection:
    """Read-only. A backup's file is immutable (no lock, no -shm: it may sit on read-only
    media); a live store's write-ahead log is read with it."""
    return sqlite3.connect(f"file:{path}?mode=ro{'' if live else '&immutable=1'}", uri=True)


def _sqlite_rows(path: Path, query: str, *, live: bool = False) -> list[tuple[Any, ...]]:
    """Rows of `query` over a SQLite file opened read-only; none if its table does not exist."""
    conn = _sqlite_ro(path, live=live)
    try:
        return list(conn.execute(query))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def _dump_rows(dump: Path, table: str) -> tuple[list[str], list[tuple[str | None, ...]]]:
    """The columns and rows of one table of a `pg_dump --format=custom` archive, read by
    `pg_restore` as COPY text (tab-separated, `\\N` for NULL); nothing is restored anywhere."""
    text = _run(["pg_restore", "--data-only", f"--table={table}", "--file=-", str(dump)])
    columns: list[str] = []
    rows: list[tuple[str | None, ...]] = []
    inside = False
    for line in text.splitlines():
        if not inside:
            inside = line.startswith("COPY ") and line.endswith("FROM stdin;")
            if inside and "(" in line:
                names = line[line.index("(") + 1 : line.rindex(")")]
                columns = [c.strip().strip('"') for c in names.split(",")]
        elif line == "\\.":
            inside = False
        else:
            rows.append(tuple(None if f == "\\N" else f for f in line.split("\t")))
    return columns, rows


def _backup_rows(
    source: Path, manifest: dict[str, Any], table: str, columns: list[str]
) -> list[tuple[Any, ...]]:
    """`columns` of `table` as the backup holds them (SQLite file or PostgreSQL dump); none
    when the table is not there (a store that never made it)."""
    data = source / manifest["data"]
    if manifest["store"] == "sqlite":
        return _sqlite_rows(data, f"SELECT {', '.join(columns)} FROM {table}")
    order, rows = _dump_rows(data, table)
    if not rows:
        return []
    picks = [order.index(c) for c in columns]
    return [tuple(row[i] for i in picks) for row in rows]


# -- checks ---------------------------------------------------------------------------------


def _key_problems(source: Path, manifest: dict[str, Any]) -> list[str]:
    keys = source / "keys"
    problems = []
    hashes: dict[str, str] = manifest.get("key_sha256") or {}
    for name in sorted({*manifest.get("keys", []), *hashes, *REQUIRED_KEYS}):
        path = keys / name
        if not path.is_file():
            problems.append(f"key file keys/{name} is missing")
        elif name in hashes and _sha256_file(path) != hashes[name]:
            problems.append(f"key file keys/{name} differs from the one backed up (SHA-256)")
    if problems:
        return problems
    # The master keys must open the data keys: each stored one names its master key's id.
    masters = set()
    for path in [keys / "pii.key", *sorted(keys.glob("pii.*.key"))]:
        try:
            masters.add(hashlib.sha256(base64.b64decode(path.read_bytes())).hexdigest()[:16])
        except ValueError:
            problems.append(f"key file keys/{path.name} is not a key")
    named: dict[str, int] = {}
    for (wrapped,) in _backup_rows(source, manifest, "dossier_keys", ["wrapped_key"]):
        kid = str(wrapped).rpartition(":")[0]
        if kid and kid not in masters:
            named[kid] = named.get(kid, 0) + 1
    problems += [
        f"the data keys of {n} dossier(s) are wrapped by master key {kid}, which is not in keys/"
        for kid, n in sorted(named.items())
    ]
    return problems


def _file_problems(source: Path, manifest: dict[str, Any], live: Path | None) -> list[str]:
    """Every file whole (re-hashed), every file a dossier still holds present in the backup
    (or, whole, in the live file store it is restored into)."""
    problems = []
    whole = set()
    # A file no dossier holds (an upload refused after it was stored) may be missing: the sweep
    # would delete it anyway. Damaged, it is named: it would be copied.
    for path in _blob_files(source / "blobs"):
        if _sha256_file(path) == path.name:
            whole.add(path.name)
        else:
            problems.append(f"file {path.name} is damaged: its content no longer has that SHA-256")
    held = _backup_rows(source, manifest, "dossier_files", ["dossier_id", "sha256", "erased_at"])
    for dossier_id, sha, erased_at in sorted(held):
        if erased_at or sha in whole:
            continue
        if live is not None:
            there = live / "sha256" / sha[:2] / sha[2:4] / sha
            if there.is_file() and _sha256_file(there) == sha:
                continue
        problems.append(f"file {sha} of dossier {dossier_id} is missing or damaged")
    return problems


def check_backup(
    source: Path, manifest: dict[str, Any], *, files: bool = True, live_files: Path | None = None
) -> list[str]:
    """What is wrong with the backup in `source` (empty: nothing). `files`: check the dossiers'
    files too (kept as files); `live_files`: the file store a missing copy may already be in."""
    data = source / manifest["data"]
    if not data.is_file():
        return [f"{data} is missing"]
    try:
        if manifest["store"] == "sqlite":
            conn = _sqlite_ro(data)
            try:
                verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
            if verdict != "ok":
                return [f"{data} is damaged: {verdict}"]
        else:
            _run(["pg_restore", "--list", str(data)])
        problems = _key_problems(source, manifest)
        if files:
            problems += _file_problems(source, manifest, live_files)
    except sqlite3.DatabaseError as exc:
        return [f"{data} is damaged: {exc}"]
    except BackupError as exc:
        return [f"{data} cannot be read: {exc}"]
    return problems


def _refuse(what: str, problems: list[str]) -> BackupError:
    shown = problems[:50]
    more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return BackupError(what + ":\n  " + "\n  ".join(shown) + more)


def backup(settings: Settings, out: Path, *, events: int, checkpoints: int) -> dict[str, Any]:
    """Write a backup of the event store and the keys into `out` (a new or empty directory),
    then check it (`check_backup`): a backup that could not be restored is an error."""
    store = store_of(settings)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: back up into a new directory")
    if absent := missing_store(settings):
        raise BackupError(absent)
    _private_dir(out)
    if store.kind == "sqlite":
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
    hashes = _copy_keys(settings.keys_dir, out / "keys")
    blobs = _file_blobs(settings)
    files = _copy_blobs(blobs, out / "blobs") if blobs is not None else 0
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "store": store.kind,
        "data": data,
        "keys": sorted(hashes),
        "key_sha256": hashes,
        "events": events,
        "checkpoints": checkpoints,
        "files": files,
    }
    _write_private(out / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    problems = check_backup(out, manifest, files=blobs is not None)
    if problems:
        raise _refuse(f"the backup in {out} is not usable", problems)
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} holds no backup ({MANIFEST} is missing)")
    manifest: dict[str, Any] = orjson.loads(path.read_bytes())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


# -- restore ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The configured event store before a restore replaces it."""

    held: int  # events it holds
    damaged: str | None  # why it cannot be read, if it cannot
    erasures: list[dict[str, Any]] | None  # its recorded erasures; None when unreadable


_ERASURES = "SELECT dossier_id, basis, requested_by, erased_at FROM pii_erasures ORDER BY id"


def _inspect(store: Store) -> Target:
    if store.kind == "sqlite":
        path = store.sqlite_path
        if not path.exists():
            return Target(0, None, [])
        try:
            held = _sqlite_rows(path, "SELECT max(rowid) FROM stored_events", live=True)
            rows = _sqlite_rows(path, _ERASURES, live=True)
        except sqlite3.DatabaseError as exc:
            return Target(0, f"{path}: {exc}", None)
    else:
        import psycopg

        try:
            conn = psycopg.connect(store.url)
        except psycopg.Error as exc:
            raise BackupError(f"cannot reach the configured event store: {exc}") from exc
        with conn:
            tables = conn.execute(
                "SELECT to_regclass('stored_events') IS NOT NULL, to_regclass('pii_erasures') IS NOT NULL"
            ).fetchone()
            assert tables is not None
            held = (
                conn.execute("SELECT max(notification_id) FROM stored_events").fetchall() if tables[0] else []
            )
            rows = conn.execute(_ERASURES).fetchall() if tables[1] else []
    names = ("dossier_id", "basis", "requested_by", "erased_at")
    erasures = [dict(zip(names, (str(v) for v in row), strict=True)) for row in rows]
    return Target(int(held[0][0] or 0) if held else 0, None, erasures)


def restore_data(settings: Settings, source: Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put the backed-up database, keys and files in place (the server must be stopped). A
    SQLite store is written beside the live file and renamed over it: a damaged live file is
    replaced, never opened."""
    manifest = manifest or read_manifest(source)
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
        part = target.with_name(target.name + ".restoring")
        for stale in (part, *(Path(f"{part}{s}") for s in ("-wal", "-shm", "-journal"))):
            stale.unlink(missing_ok=True)
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT, 0o600))
        copy, fresh = _sqlite_ro(data), sqlite3.connect(part)
        try:
            copy.backup(fresh)
        finally:
            fresh.close()
            copy.close()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(part, target)
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
        _copy_blobs(source / "blobs", blobs, repair=True)
    return manifest


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    events: int
    views: dict[str, int]
    audit: dict[str, Any]
    # Erasures the replaced store had and the backup lacked, made again on the restored data.
    reapplied: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.audit.get("ok")) and self.events == self.manifest["events"]


def restore(settings: Settings, source: Path, *, force: bool = False) -> Restored:
    """Check the backup, restore it into the configured stores, make again the erasures the
    replaced store recorded after the backup, rebuild every view, verify the audit.

    Nothing is changed when the backup is faulty, nor when the store holds events (or cannot
    be read) unless `force` (a restore replaces them)."""
    from gateways.bootstrap import bootstrap

    manifest = read_manifest(source)
    store = store_of(settings)
    if manifest["store"] != store.kind:
        raise BackupError(
            f"the backup is of a {manifest['store']} store; the configured event store is {store.kind}"
        )
    blobs = _file_blobs(settings)
    problems = check_backup(source, manifest, files=blobs is not None, live_files=blobs)
    if problems:
        raise _refuse(f"{source} cannot be restored (nothing was changed)", problems)
    target = _inspect(store)
    if target.damaged and not force:
        raise BackupError(
            f"the configured event store cannot be read ({target.damaged}); to replace it with the "
            "backup, stop the server, then give --force"
        )
    if target.held and not force:
        raise BackupError(
            f"the configured event store already holds {target.held} events; restoring replaces them "
            "(stop the server, then give --force)"
        )
    restore_data(settings, source, manifest)
    warnings = []
    if target.erasures is None:
        warnings.append(
            "the replaced event store could not be read: erasures it recorded after this backup "
            f"(taken {manifest.get('created_at')}) are not made again; erase those dossiers again "
            "(`lienthong privacy forget`)"
        )
    kept = {str(row[0]) for row in _backup_rows(source, manifest, "pii_erasures", ["dossier_id"])}
    lost = [e for e in target.erasures or [] if e["dossier_id"] not in kept]
    reapplied: list[dict[str, Any]] = []
    container = bootstrap(settings.model_copy())
    try:
        for erasure in lost:
            at = datetime.fromisoformat(erasure["erased_at"])
            ids = [erasure["dossier_id"]]
            done = container.vault.forget(
                ids, basis=erasure["basis"], requested_by=erasure["requested_by"], at=at
            )
            container.attachments.forget(ids, at)
            if done.dossier_ids:  # not when the dossier came after the backup: it is not restored
                reapplied.append(erasure)
        rebuilt = {r.view: r.events for r in container.feed.rebuild()}
        audit = container.checkpoints.verify().as_json()
        events = container.store.max_notification_id()
    finally:
        container.close()
    return Restored(manifest, events, rebuilt, audit, reapplied, warnings)
