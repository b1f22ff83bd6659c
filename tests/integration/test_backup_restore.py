"""Backup -> wipe -> restore, through the CLI: the same Biểu 06 and SLA reports, a green
`lienthong audit verify`, the same keys (old tokens still accepted)."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from gateways.auth import read_token
from gateways.bootstrap import bootstrap
from gateways.cli import app
from gateways.http.report_presenters import bieu06_json, sla_json
from gateways.seed.demo import seed_demo
from gateways.settings import Settings
from gateways.sql import drop_database

pytestmark = pytest.mark.integration

FIRST, LAST = date(2020, 1, 1), date(2030, 12, 31)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _reports(settings: Settings) -> dict[str, Any]:
    container = bootstrap(settings)
    try:
        tz = container.calendar.tz
        hierarchy = container.catalogue.hierarchy
        roots = [a.code for a in hierarchy if not a.parent_code]
        out: dict[str, Any] = {"events": container.store.max_notification_id()}
        for code in sorted(roots):
            report = container.sla.bieu06(
                code, FIRST, LAST, include_children=True, scope="received", include_imported=True, now=NOW
            )
            out[f"bieu06:{code}"] = bieu06_json(report, tz)
        for group_by in ("agency", "level", "procedure"):
            report = container.sla.sla(
                group_by,
                FIRST,
                LAST,
                agency_code=None,
                include_children=True,
                scope="received",
                include_imported=True,
                now=NOW,
            )
            out[f"sla:{group_by}"] = sla_json(report, tz)
        return out
    finally:
        container.close()


def _env(settings: Settings) -> dict[str, str]:
    return {
        "LIENTHONG_DATA_DIR": str(settings.data_dir),
        "LIENTHONG_EVENT_STORE_URL": settings.event_store_url,
        "LIENTHONG_ENV_FILE": "/nonexistent.env",
    }


def _wipe(settings: Settings, url: str) -> None:
    shutil.rmtree(settings.data_dir)
    if url.startswith("postgresql://"):
        base, name = url.rsplit("/", 1)
        assert drop_database(url), f"database {name} is held by another role's session"
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


@pytest.mark.timeout(600)
def test_backup_wipe_restore_gives_identical_reports_and_a_green_audit(
    backend_url: str, tmp_path: Path
) -> None:
    url = "" if backend_url.startswith("sqlite") else backend_url
    settings = Settings(data_dir=tmp_path / "var", event_store_url=url)
    container = bootstrap(settings)
    try:
        seed_demo(container.service, container.service.now(), 60)
        container.feed.catch_up()
        container.checkpoints.checkpoint(container.clock())
        token = _issue(container)
    finally:
        container.close()
    before = _reports(settings)
    assert before["events"] > 100
    assert any(v.get("resolved", {}).get("total") for k, v in before.items() if k.startswith("bieu06"))

    runner = CliRunner()
    env = _env(settings)
    out = tmp_path / "backup"
    done = runner.invoke(app, ["backup", "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (out / "keys").iterdir())
    # Every file of it, the manifest too (the README: "files 0600").
    files = [p for p in out.rglob("*") if p.is_file()]
    modes = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert "manifest.json" in modes and set(modes.values()) == {oct(0o600)}, modes
    # A backup never goes into a directory that holds something.
    assert runner.invoke(app, ["backup", "--out", str(out)], env=env).exit_code == 2

    # A restore never replaces a store that holds events unless told to.
    refused = runner.invoke(app, ["restore", str(out)], env=env)
    assert refused.exit_code == 2 and "--force" in refused.output

    _wipe(settings, url)
    restored = runner.invoke(app, ["restore", str(out)], env=env)
    assert restored.exit_code == 0, restored.output
    assert "audit verify: OK" in restored.output

    assert _reports(settings) == before
    verify = runner.invoke(app, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output
    assert "OK" in verify.output
    # The keys came back: a token issued before the backup is still good.
    container = bootstrap(settings)
    try:
        assert read_token(container.keyring.jwt_secret, token).role == "inspector"
    finally:
        container.close()


def _issue(container: Any) -> str:
    from gateways.auth import issue_token

    return issue_token(
        container.keyring.jwt_secret,
        role="inspector",
        sub="auditor",
        agency_code=None,
        now=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
