"""`make help`, the first thing the README sends a new operator to, lists every target with its
description in one column."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target_with_its_description_in_one_column() -> None:
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout)
    lines = [line for line in plain.splitlines() if line.strip()]
    documented = re.findall(r"^([a-zA-Z_-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert [line.split()[0] for line in lines] == documented
    starts = {len(line) - len(line.split(maxsplit=1)[1]) for line in lines}
    assert len(starts) == 1, f"descriptions start at columns {sorted(starts)}:\n{plain}"
