"""Data folders are the service user's own, but a search bit others had is kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateways.files import private_dir


def test_a_data_dir_is_narrowed_to_its_owner_but_keeps_the_search_bit_of_others(tmp_path: Path) -> None:
    fresh = private_dir(tmp_path / "new" / "var")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    shared = tmp_path / "var"
    shared.mkdir()
    os.chmod(shared, 0o755)  # readable by all, as a checkout's var/ may be
    private_dir(shared)
    # Nobody else may list or write it; the project's PostgreSQL (another user) still reaches
    # var/postgres through it.
    assert stat.S_IMODE(shared.stat().st_mode) == 0o711
