"""Fixtures shared by unit test modules."""

from __future__ import annotations

import pytest

from gateways.bench import mining


@pytest.fixture(params=["compiled", "python"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`bench mining`'s byte reader with each of its two scans: the C module `make install`
    builds, and the same loop in Python (used where no compiler was found)."""
    if request.param == "compiled":
        from gateways.bench import _scan

        monkeypatch.setattr(mining, "SCAN", _scan.scan)
    else:
        monkeypatch.setattr(mining, "SCAN", mining._scan_python)
    return str(request.param)
