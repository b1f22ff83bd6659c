"""The browser of the dashboard's tests: Debian's chromium driven by Playwright, launched once
for the e2e tests and shared by every module; each test opens its own context (`open_tab` of
test_dashboard.py, or `browser.new_context`), so no cookie, storage or tab outlives its test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


# Package scope: closed after the last test of tests/e2e. Playwright's sync API holds an event loop
# running in this thread while it is open, so any later test calling `asyncio.run` would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run deploy/browser/install.sh (make test does)")
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()
