"""Erasure on each backend (SQLite, PostgreSQL): the blind index finds a person's dossiers,
forgetting destroys their keys and index entries, records itself, and leaves the audit intact."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ActorNotAllowed
from gateways.application.privacy import forget
from gateways.seed.demo import load_catalogue, seed_demo


def test_forget_by_id_number_on_each_backend(backend_url: str, make_container: Any, clock: Any) -> None:
    container = make_container(backend_url)
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=5, seed=3)
    ids = sorted({str(n.originator_id) for n in container.store.recorder.select_notifications(0, 10_000)})
    victim = ids[0]
    sealed = dict(container.store.load(victim)[0].to_domain().applicant)
    applicant = container.vault.open_sealed(victim, sealed)
    assert applicant is not None
    number = applicant["id_number"]
    assert victim in container.vault.dossiers_of(f" {number[:4]}.{number[4:]} ")
    container.checkpoints.checkpoint(clock())
    with pytest.raises(ActorNotAllowed):
        forget(container.vault, container.store, role="inspector", subject="i", at=clock(), id_number=number)

    done = forget(container.vault, container.store, role="admin", subject="dpo", at=clock(), id_number=number)

    assert victim in done.erased and not done.already
    assert container.vault.open_sealed(victim, sealed) is None
    assert container.vault.dossiers_of(number) == []
    assert [e["dossier_id"] for e in container.vault.erasures(victim)] == [victim]
    others = [d for d in ids if d not in done.erased]
    assert all(
        container.vault.open_sealed(d, dict(container.store.load(d)[0].to_domain().applicant)) for d in others
    )
    assert container.checkpoints.verify().ok


def test_the_command_line_forgets_one_dossier(tmp_path: Any, clock: Any) -> None:
    import orjson
    from typer.testing import CliRunner

    from gateways.bootstrap import bootstrap
    from gateways.cli import app
    from gateways.settings import Settings

    data = tmp_path / "var"
    container = bootstrap(Settings(data_dir=data), clock=clock)
    try:
        clock.set("2026-11-20T10:00:00+07:00")
        load_catalogue(container.catalogue)
        seed_demo(container.service, clock(), dossiers=2, seed=3)
        victim = str(next(iter(container.store.recorder.select_notifications(0, 1))).originator_id)
    finally:
        container.close()
    env = {"LIENTHONG_ENV_FILE": str(tmp_path / "none.env"), "LIENTHONG_DATA_DIR": str(data)}
    result = CliRunner().invoke(app, ["privacy", "forget", "--dossier", victim, "--by", "dpo"], env=env)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout.splitlines()[0])["erased"] == [victim]
    both = CliRunner().invoke(app, ["privacy", "forget", "--dossier", victim, "--id-number", "1"], env=env)
    assert both.exit_code == 2
    again = bootstrap(Settings(data_dir=data), clock=clock)
    try:
        assert [e["requested_by"] for e in again.vault.erasures(victim)] == ["dpo"]
        assert not again.vault.has_key(victim)
    finally:
        again.close()


def test_reindex_finds_dossiers_received_before_the_blind_index(make_container: Any, clock: Any) -> None:
    from gateways.application.privacy import reindex

    container = make_container()
    clock.set("2026-11-20T10:00:00+07:00")
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=3, seed=3)
    indexed = container.db.query("SELECT digest, dossier_id FROM pii_blind_index ORDER BY dossier_id")
    assert indexed
    container.db.execute("DELETE FROM pii_blind_index")  # as an older release left them
    assert reindex(container.vault, container.store) == len(indexed)
    assert container.db.query("SELECT digest, dossier_id FROM pii_blind_index ORDER BY dossier_id") == indexed
    assert reindex(container.vault, container.store) == 0
