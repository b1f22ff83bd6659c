"""Keys apart from the data, and `lienthong keys rotate`: tokens and checkpoints signed before
still verify, every data key is re-wrapped under the new PII master key and still opens."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateways.auth import AuthError, issue_token, read_token
from gateways.bootstrap import Container, bootstrap
from gateways.cli import app
from gateways.pii import PiiVault, master_key_id
from gateways.seed.demo import load_catalogue, seed_demo
from gateways.settings import Settings
from tests.conftest import FakeClock

pytestmark = pytest.mark.integration


def _applicants(container: Container) -> dict[str, Any]:
    ids = sorted({str(n.originator_id) for n in container.store.recorder.select_notifications(0, 10_000)})
    return {d: dict(container.store.load(d)[0].to_domain().applicant) for d in ids}


def test_keys_live_apart_and_rotate_without_losing_tokens_checkpoints_or_data(
    tmp_path: Path, clock: FakeClock
) -> None:
    data, keys = tmp_path / "data", tmp_path / "secure" / "keys"
    settings = Settings(data_dir=data, keys_location=keys)
    clock.set("2026-11-20T10:00:00+07:00")
    before = bootstrap(settings, clock=clock)
    try:
        load_catalogue(before.catalogue)
        seed_demo(before.service, clock(), dossiers=4, seed=3)
        first = before.checkpoints.checkpoint(clock())
        assert first is not None
        old_token = issue_token(
            before.keyring.jwt_secret,
            role="inspector",
            sub="i",
            agency_code=None,
            now=datetime.now(UTC),
            ttl=timedelta(days=1),
        )
        sealed = _applicants(before)
        opened = {d: before.vault.open_sealed(d, s) for d, s in sealed.items()}
        assert all(opened.values())
        old_master = before.keyring.pii_master_key
    finally:
        before.close()
    assert not (data / "keys").exists()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700

    env = {
        "LIENTHONG_ENV_FILE": str(tmp_path / "none.env"),
        "LIENTHONG_DATA_DIR": str(data),
        "LIENTHONG_KEYS_DIR": str(keys),
    }
    result = CliRunner().invoke(app, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    for path in keys.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    after = bootstrap(settings, clock=clock)
    try:
        # Tokens: the old one still verifies (until it expires), new ones name the new key.
        assert read_token(after.keyring.jwt_secrets, old_token).sub == "i"
        new_token = issue_token(
            after.keyring.jwt_secret,
            role="admin",
            sub="a",
            agency_code=None,
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        )
        assert read_token(after.keyring.jwt_secrets, new_token).role == "admin"
        with pytest.raises(AuthError):
            read_token(after.keyring.jwt_secret, old_token)  # only because the old key is kept
        # Checkpoints: the old one verifies with the retired public key; new ones use the new key.
        assert after.checkpoints.key_id != first.key_id
        seed_demo(after.service, clock(), dossiers=1, seed=4)
        second = after.checkpoints.checkpoint(clock())
        assert second is not None and second.key_id == after.checkpoints.key_id
        assert after.checkpoints.verify().ok
        assert [k["key_id"] for k in after.checkpoints.public_key_json()["retired_keys"]] == [first.key_id]
        # Data keys: all re-wrapped under the new master key, all still open.
        new_id = master_key_id(after.keyring.pii_master_key)
        assert new_id != master_key_id(old_master)
        rows = after.db.query("SELECT wrapped_key FROM dossier_keys")
        assert rows and all(r["wrapped_key"].startswith(new_id + ":") for r in rows)
        assert {d: after.vault.open_sealed(d, s) for d, s in sealed.items()} == opened
        # A process that started before the rotation finds the new key on disk.
        stale = PiiVault(after.db, old_master, after.keyring.pii_index_key, reload=after.keyring.pii_all_keys)
        assert {d: stale.open_sealed(d, s) for d, s in sealed.items()} == opened
    finally:
        after.close()


@pytest.mark.parametrize("name", ["checkpoint.ed25519", "pii.key"])
def test_a_damaged_key_file_is_named_without_a_traceback(tmp_path: Path, clock: FakeClock, name: str) -> None:
    data = tmp_path / "data"
    clock.set("2026-11-20T10:00:00+07:00")
    container = bootstrap(Settings(data_dir=data), clock=clock)
    try:
        load_catalogue(container.catalogue)
        seed_demo(container.service, clock(), dossiers=2, seed=3)
    finally:
        container.close()
    (key,) = data.rglob(name)
    key.write_text(key.read_text()[:20])  # cut short, as a bad copy leaves it
    env = {**os.environ, "LIENTHONG_DATA_DIR": str(data), "COLUMNS": "300"}
    ran = subprocess.run(
        [sys.executable, "-m", "gateways.cli", "audit", "verify"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr and name in ran.stderr and "damaged" in ran.stderr, ran.stderr
