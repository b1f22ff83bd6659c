"""`bench memory` reads each rebuild's peak resident memory in a child process: the child's own
peak, not the memory of the parent that started it (Linux keeps `ru_maxrss` across an exec)."""

from __future__ import annotations

import subprocess
import sys

MIB = 1024 * 1024


def test_a_child_of_a_large_parent_reports_its_own_peak() -> None:
    ballast = bytearray(256 * MIB)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # resident, not only reserved
    out = subprocess.run(
        [sys.executable, "-c", "from gateways.bench.child import _peak_rss_bytes; print(_peak_rss_bytes())"],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,  # as gateways.bench.child.spawn starts it
    ).stdout
    assert 0 < int(out) < 200 * MIB
    del ballast
