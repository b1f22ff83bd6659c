"""Data files readable by the service's own user only: folders 0700, files 0600.

SQLite creates its -wal and -shm files with the permissions of the database file, so
creating that file 0600 before the first connection covers all three.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def private_dir(path: Path) -> Path:
    """Create `path` 0700, or narrow it to 0700 — keeping a search bit (x) others already had:
    it lists nothing, and the project's PostgreSQL (user `postgres`) reaches its data dir under
    `var/postgres` through it (deploy/postgres/start.sh grants it)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o700 | (path.stat().st_mode & 0o011))
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist; narrow it to 0600 if it does."""
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        with contextlib.suppress(PermissionError):
            os.chmod(path, 0o600)
    return path


def private_sqlite(url: str) -> None:
    """The database file of a sqlite:/// URL and its journal files, 0600."""
    if not url.startswith(SQLITE_PREFIX) or url.endswith(":memory:"):
        return
    db = Path(url[len(SQLITE_PREFIX) :])
    private_file(db)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = db.with_name(db.name + suffix)
        if extra.exists():
            with contextlib.suppress(PermissionError):
                os.chmod(extra, 0o600)
