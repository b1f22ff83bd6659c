"""Signed audit checkpoints on SQLite and PostgreSQL: tampering with stored rows is named,
proofs verify with the public key alone, and the HTTP and CLI faces say what a user needs."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from domain.events import Actor, HandedOff
from gateways.audit import (
    AuditRecordsDamaged,
    Checkpoint,
    Checkpointer,
    CheckpointTimer,
    Kept,
    NotCheckpointed,
    verify_chains,
)
from gateways.audit.ledger import checkpoints_in
from gateways.auth import issue_token
from gateways.bootstrap import Container
from gateways.eventstore.store import RecordedEvent, chain_hash
from gateways.http import problems
from gateways.http.routes import audit as audit_routes
from gateways.seed.demo import load_catalogue, seed_demo
from projections.merkle import verify_inclusion
from tests.conftest import FakeClock

SECRET = "test-secret-of-at-least-thirty-two-bytes"
SEEDED_AT = "2026-11-20T10:00:00+07:00"


@dataclass
class Audited:
    container: Container
    checkpoints: Checkpointer
    clock: FakeClock
    url: str

    def log(self) -> list[RecordedEvent]:
        return self.container.store.notifications(0, 10_000)


def _attach(container: Container, every_events: int = 1000, every_seconds: float = 300) -> Checkpointer:
    # Wired from the container's parts, as gateways/bootstrap.py does for `container.checkpoints`.
    checkpoints = Checkpointer(
        container.db,
        container.store,
        container.keyring.checkpoint_key,
        every_events=every_events,
        every_seconds=every_seconds,
    )
    container.checkpoints = checkpoints  # type: ignore[attr-defined]
    return checkpoints


@pytest.fixture
def audited(backend_url: str, make_container: Any, clock: FakeClock) -> Audited:
    container = make_container(backend_url)
    clock.set(SEEDED_AT)
    load_catalogue(container.catalogue)
    seed_demo(container.service, clock(), dossiers=6, seed=3)
    return Audited(container, _attach(container), clock, backend_url)


class RawRows:
    """The event store's own table, reached around the application (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        # The table is found by its shape (the recorder names it), not by a name this test assumes.
        if url.startswith("sqlite:"):
            self.conn: Any = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
            tables = [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            self.table = next(
                t
                for t in tables
                if "originator_version" in {c[1] for c in self.conn.execute(f"PRAGMA table_info({t})")}
            )
            self.id_column, self.mark = "rowid", "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.table = self.conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'notification_id' AND table_name IN (SELECT table_name FROM "
                "information_schema.columns WHERE column_name = 'originator_version')"
            ).fetchone()[0]
            self.id_column, self.mark = "notification_id", "%s"

    def _run(self, sql: str, *params: Any) -> Any:
        return self.conn.execute(sql.replace("?", self.mark), params)

    def state(self, notification_id: int) -> bytes:
        row = self._run(
            f"SELECT state FROM {self.table} WHERE {self.id_column} = ?", notification_id
        ).fetchone()
        return bytes(row[0])

    def set_state(self, notification_id: int, state: bytes) -> None:
        self._run(f"UPDATE {self.table} SET state = ? WHERE {self.id_column} = ?", state, notification_id)

    def delete(self, notification_id: int) -> None:
        self._run(f"DELETE FROM {self.table} WHERE {self.id_column} = ?", notification_id)

    def swap(self, first: int, second: int) -> None:
        """Exchange two events' places in the log (their notification ids)."""
        move = f"UPDATE {self.table} SET {self.id_column} = ? WHERE {self.id_column} = ?"
        self._run(move, -1, first)
        self._run(move, first, second)
        self._run(move, second, -1)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def raw(audited: Audited) -> Iterator[RawRows]:
    rows = RawRows(audited.url)
    yield rows
    rows.close()


def _stream_ends(log: list[RecordedEvent]) -> list[int]:
    """Positions i where event i is the last of its stream and event i + 1 starts another."""
    return [i for i in range(len(log) - 1) if log[i].dossier_id != log[i + 1].dossier_id]


def _handoff(to: str, at: datetime) -> HandedOff:
    return HandedOff(
        occurred_at=at,
        actor=Actor("W.01", "officer-a", "officer"),
        from_agency_code="W.01",
        to_agency_code=to,
        route_step=None,
    )


def _new_stream(container: Container, at: datetime, count: int = 1) -> str:
    """A new dossier stream of `count` events, written straight to the store."""
    dossier = str(uuid.uuid4())
    container.store.append(dossier, 0, "0" * 64, [_handoff(f"D{i}", at) for i in range(count)], at)
    return dossier


# -- signing and verifying ------------------------------------------------------------------------


def test_a_checkpoint_signs_every_event_and_the_signature_checks_with_the_public_key_alone(
    audited: Audited,
) -> None:
    log = audited.log()
    cp = audited.checkpoints.checkpoint(audited.clock())
    assert cp is not None
    assert (cp.n, cp.size, cp.last_notification_id) == (1, len(log), log[-1].notification_id)
    # 10:00 at +07:00 is 03:00 UTC; the signed time is written in UTC.
    assert cp.created_at == "2026-11-20T03:00:00+00:00"
    assert audited.checkpoints.checkpoint(audited.clock()) is None  # nothing new to sign

    raw_key = audited.checkpoints.public_key_json()["public_key_base64"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw_key))
    assert cp.key_id == hashlib.sha256(base64.b64decode(raw_key)).hexdigest()[:16]
    message = (
        f"lienthong-audit-checkpoint-v1\n1\n{len(log)}\n{cp.root}\n{cp.last_notification_id}\n"
        f"{cp.created_at}\n"
    )
    public.verify(base64.b64decode(cp.signature), message.encode("ascii"))  # raises if it does not match

    result = audited.checkpoints.verify()
    assert result.ok, result.first_bad
    assert (result.checked_events, result.checkpoints_checked) == (len(log), 1)
    assert (result.covered_events, result.uncovered_events) == (len(log), 0)


def test_events_after_the_last_checkpoint_are_covered_by_their_chain_only(audited: Audited) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    covered = len(audited.log())
    _new_stream(audited.container, audited.clock(), 3)
    result = audited.checkpoints.verify()
    assert result.ok
    assert (result.covered_events, result.uncovered_events) == (covered, 3)
    second = audited.checkpoints.checkpoint(audited.clock() + timedelta(minutes=1))
    assert second is not None and (second.n, second.size) == (2, covered + 3)
    again = audited.checkpoints.verify()
    assert again.ok and (again.checkpoints_checked, again.uncovered_events) == (2, 0)


def test_a_large_backlog_is_signed_in_several_checkpoints(audited: Audited) -> None:
    total = len(audited.log())
    checkpoints = Checkpointer(
        audited.container.db,
        audited.container.store,
        audited.container.keyring.checkpoint_key,
        most_events=16,
    )
    sizes = []
    while cp := checkpoints.checkpoint(audited.clock()):
        sizes.append(cp.size)
    # At most 16 events each: 16, 32, ... and the rest in the last one.
    assert sizes == [*range(16, total, 16), total]
    result = checkpoints.verify()
    assert result.ok and result.checkpoints_checked == len(sizes) and result.covered_events == total


def test_maybe_checkpoint_signs_after_enough_events_or_enough_time(
    backend_url: str, make_container: Any, clock: FakeClock
) -> None:
    container = make_container(backend_url)
    checkpoints = _attach(container, every_events=5, every_seconds=300)
    assert checkpoints.maybe_checkpoint(clock()) is None  # an empty log has nothing to sign
    stream = str(uuid.uuid4())
    first = container.store.append(stream, 0, "0" * 64, [_handoff("D1", clock())], clock())
    made = checkpoints.maybe_checkpoint(clock())
    assert made is not None and made.size == 1  # the very first events are signed at once

    prev, version = first[-1].hash, 1
    for _ in range(4):  # 4 waiting: below every_events = 5, and no time has passed
        prev = container.store.append(stream, version, prev, [_handoff("D2", clock())], clock())[-1].hash
        version += 1
    assert checkpoints.maybe_checkpoint(clock()) is None
    container.store.append(stream, version, prev, [_handoff("D3", clock())], clock())
    by_count = checkpoints.maybe_checkpoint(clock())
    assert by_count is not None and (by_count.n, by_count.size) == (2, 6)  # 1 + 4 + 1 events

    _new_stream(container, clock())
    clock.at += timedelta(seconds=299)
    assert checkpoints.maybe_checkpoint(clock()) is None
    clock.at += timedelta(seconds=1)  # 300 s after checkpoint 2
    by_time = checkpoints.maybe_checkpoint(clock())
    assert by_time is not None and (by_time.n, by_time.size) == (3, 7)


def test_the_background_timer_signs_without_anyone_asking(audited: Audited) -> None:
    checkpoints = _attach(audited.container, every_events=1)
    timer = CheckpointTimer(checkpoints, audited.clock, poll_seconds=0.05)
    timer.start()
    try:
        deadline = time.monotonic() + 20
        while checkpoints.latest() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoints.latest() is not None
        fresh = _new_stream(audited.container, audited.clock())
        while time.monotonic() < deadline and not _signed(checkpoints, fresh):
            time.sleep(0.05)
        assert _signed(checkpoints, fresh)
    finally:
        timer.stop()


def _signed(checkpoints: Checkpointer, dossier_id: str) -> bool:
    try:
        checkpoints.proof(dossier_id, 1)
    except NotCheckpointed:
        return False
    return True


# -- tampering, named -----------------------------------------------------------------------------


def test_altered_bytes_of_a_signed_event_are_named(audited: Audited, raw: RawRows) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    victim = next(e for e in audited.log() if e.seq == 2)
    envelope = orjson.loads(raw.state(victim.notification_id or 0))
    envelope["occurred_at"] = "2026-01-01T00:00:00+07:00"  # back-dated, hash left as it was
    raw.set_state(victim.notification_id or 0, orjson.dumps(envelope))
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None
    assert (bad["dossier_id"], bad["seq"]) == (victim.dossier_id, 2)
    assert "altered" in bad["reason"]


def test_a_stream_rewritten_with_a_recomputed_chain_passes_the_chain_but_not_the_checkpoint(
    audited: Audited, raw: RawRows
) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    log = audited.log()
    target = log[_stream_ends(log)[0]]  # the last event of the first stream
    envelope = dict(target.envelope)
    envelope["occurred_at"] = "2026-01-01T00:00:00+07:00"
    envelope["hash"] = chain_hash(envelope["prev_hash"], envelope)  # the forger knows the recipe
    raw.set_state(target.notification_id or 0, orjson.dumps(envelope))
    assert verify_chains(audited.container.store).ok  # the chain alone is fooled
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None
    assert (bad["dossier_id"], bad["seq"]) == (target.dossier_id, target.seq)
    assert bad["reason"].startswith("rewritten") and bad["kind"] == "rewritten"
    one = audited.checkpoints.verify(target.dossier_id).first_bad
    assert one is not None and one["seq"] == target.seq


def test_the_deleted_last_event_of_a_stream_is_named(audited: Audited, raw: RawRows) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    log = audited.log()
    last_of_stream = log[_stream_ends(log)[1]]
    raw.delete(last_of_stream.notification_id or 0)
    assert verify_chains(audited.container.store).ok  # a shorter chain is still a valid chain
    for result in (audited.checkpoints.verify(), audited.checkpoints.verify(last_of_stream.dossier_id)):
        bad = result.first_bad
        assert bad is not None
        assert (bad["dossier_id"], bad["seq"]) == (last_of_stream.dossier_id, last_of_stream.seq)
        assert bad["reason"].startswith("deleted") and "checkpoint 1" in bad["reason"]
        assert bad["kind"] == "deleted" and bad["checkpoint"] == 1 and isinstance(bad["leaf"], int)


def test_the_deleted_last_event_of_the_whole_log_is_named(audited: Audited, raw: RawRows) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    newest = audited.log()[-1]
    raw.delete(newest.notification_id or 0)
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and (bad["dossier_id"], bad["seq"]) == (newest.dossier_id, newest.seq)
    assert bad["reason"].startswith("deleted")


def test_a_deleted_event_inside_a_stream_is_named_deleted_not_just_missing(
    audited: Audited, raw: RawRows
) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    victim = next(e for e in audited.log() if e.seq == 2)
    raw.delete(victim.notification_id or 0)
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and (bad["dossier_id"], bad["seq"]) == (victim.dossier_id, 2)
    assert bad["reason"].startswith("deleted")


def test_two_events_swapped_in_the_log_are_named_reordered(audited: Audited, raw: RawRows) -> None:
    audited.checkpoints.checkpoint(audited.clock())
    log = audited.log()
    end = _stream_ends(log)[0]
    first, second = log[end], log[end + 1]  # last of one stream, first of the next
    raw.swap(first.notification_id or 0, second.notification_id or 0)
    assert verify_chains(audited.container.store).ok  # each stream keeps its own order
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and (bad["dossier_id"], bad["seq"]) == (first.dossier_id, first.seq)
    assert bad["reason"].startswith("reordered") and second.dossier_id in bad["reason"]
    assert bad["kind"] == "reordered" and bad["found_dossier_id"] == second.dossier_id


def test_an_altered_checkpoint_row_is_named(audited: Audited) -> None:
    cp = audited.checkpoints.checkpoint(audited.clock())
    assert cp is not None
    audited.container.db.execute("UPDATE audit_checkpoints SET tree_size = tree_size - 1 WHERE n = 1")
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and bad["checkpoint"] == 1 and "signature" in bad["reason"]
    assert bad["kind"] == "signature"


def test_altered_audit_records_are_named_and_stop_proofs_and_new_checkpoints(audited: Audited) -> None:
    api, inspector = _client(audited), _auth(audited, "inspector")
    audited.checkpoints.checkpoint(audited.clock())
    event = audited.log()[3]
    db = audited.container.db
    db.execute("UPDATE audit_leaves SET event_hash = ? WHERE leaf_index = 3", ("0" * 64,))
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and bad["checkpoint"] == 1 and "audit tables altered" in bad["reason"]
    assert bad["kind"] in {"leaf_missing", "leaves_altered"}
    refused = api.get(f"/api/v1/dossiers/{event.dossier_id}/events/{event.seq}/proof", headers=inspector)
    assert refused.status_code == 500 and refused.json()["type"].endswith("/damaged-history")

    db.execute("UPDATE audit_leaves SET event_hash = ? WHERE leaf_index = 3", (event.hash,))
    assert audited.checkpoints.verify().ok
    db.execute("UPDATE audit_checkpoints SET frontier = ? WHERE n = 1", ("ab" * 32,))
    bad = audited.checkpoints.verify().first_bad
    assert bad is not None and "frontier" in bad["reason"] and bad["kind"] == "frontier_altered"
    _new_stream(audited.container, audited.clock())
    with pytest.raises(AuditRecordsDamaged, match="frontier"):
        audited.checkpoints.checkpoint(audited.clock())
    assert audited.checkpoints.maybe_checkpoint(audited.clock() + timedelta(hours=1)) is None


def _newest_deleted(audited: Audited, keep: int) -> None:
    """What an insider with the database does: the checkpoints after `keep`, and their leaf
    records, deleted."""
    db = audited.container.db
    size = audited.checkpoints.get(keep).size if keep else 0  # type: ignore[union-attr]
    db.execute("DELETE FROM audit_checkpoints WHERE n > ?", (keep,))
    db.execute("DELETE FROM audit_leaves WHERE leaf_index >= ?", (size,))


def test_deleted_newest_checkpoints_are_named_against_one_kept_outside(
    audited: Audited, raw: RawRows
) -> None:
    first = audited.checkpoints.checkpoint(audited.clock())
    _new_stream(audited.container, audited.clock(), 2)
    kept = audited.checkpoints.checkpoint(audited.clock())
    assert first is not None and kept is not None and kept.n == 2
    assert audited.checkpoints.verify(kept=[Kept(2, kept.root.upper())]).kept_checked == 1

    _newest_deleted(audited, keep=1)
    # Alone, the store cannot tell: its two newest events are merely "after the last checkpoint".
    alone = audited.checkpoints.verify()
    assert alone.ok and (alone.last_checkpoint, alone.uncovered_events) == (1, 2)
    against = audited.checkpoints.verify(kept=[Kept(1, first.root), Kept(2, kept.root)])
    bad = against.first_bad
    assert bad is not None and bad["checkpoint"] == 2
    assert "kept outside the system, is no longer stored (the newest stored is checkpoint 1)" in bad["reason"]
    assert bad["kind"] == "kept_missing" and bad["newest"] == 1
    assert against.kept_checked == 1  # checkpoint 1 is still as kept

    # With the signing key, the insider cuts an event and signs checkpoint 2 again: a valid
    # store, but not the history that was kept.
    raw.delete(audited.log()[-1].notification_id or 0)
    again = audited.checkpoints.checkpoint(audited.clock() + timedelta(minutes=1))
    assert again is not None and again.n == 2 and again.root != kept.root
    assert audited.checkpoints.verify().ok
    replaced = audited.checkpoints.verify(kept=[Kept(2, kept.root)]).first_bad
    assert replaced is not None and replaced["checkpoint"] == 2
    assert f"not the root {kept.root} kept outside the system" in replaced["reason"]
    assert replaced["kind"] == "kept_replaced" and replaced["kept_root"] == kept.root.lower()
    one = audited.checkpoints.verify(audited.log()[0].dossier_id, kept=[Kept(2, kept.root)])
    assert one.first_bad is not None and "replaced and signed again" in one.first_bad["reason"]


def test_a_kept_checkpoint_from_a_file_is_read_whole_or_refused_saying_why() -> None:
    cp = Checkpoint(3, 40, 41, "ab" * 32, "2026-11-20T03:00:00+00:00", "c2ln", "k1")
    body = cp.as_json()
    assert checkpoints_in(body) == [cp]
    assert checkpoints_in({"items": [body, body], "next_cursor": None}) == [cp, cp]
    for wrong, message in [
        ({**body, "root": "xyz"}, "64 hex digits"),
        ({**body, "n": "3"}, "field 'n' is missing or not a int"),
        ({k: v for k, v in body.items() if k != "signature"}, "'signature'"),
        ([], "no checkpoint"),
        ("checkpoint", "a JSON object"),
    ]:
        with pytest.raises(ValueError, match=message):
            checkpoints_in(wrong)


# -- HTTP -----------------------------------------------------------------------------------------


def _client(audited: Audited) -> TestClient:
    app = FastAPI()
    app.state.container = audited.container
    problems.install(app)
    app.include_router(audit_routes.router)
    return TestClient(app, headers={"Accept-Language": "en"})  # the tests read English problems


def _auth(audited: Audited, role: str, agency: str | None = None) -> dict[str, str]:
    token = issue_token(
        SECRET, role=role, sub=role, agency_code=agency, now=audited.clock(), ttl=timedelta(days=3650)
    )
    return {"Authorization": f"Bearer {token}"}


def test_an_inclusion_proof_from_the_api_verifies_against_the_signed_root(audited: Audited) -> None:
    api, inspector = _client(audited), _auth(audited, "inspector")
    audited.checkpoints.checkpoint(audited.clock())
    event = audited.log()[5]
    got = api.get(f"/api/v1/dossiers/{event.dossier_id}/events/{event.seq}/proof", headers=inspector)
    assert got.status_code == 200, got.text
    proof = got.json()
    key = api.get("/api/v1/audit/public-key").json()  # public: no token needed

    # What an outside verifier does, knowing only the event as published and the public key:
    cp = proof["checkpoint"]
    message = (
        f"lienthong-audit-checkpoint-v1\n{cp['n']}\n{cp['size']}\n{cp['root']}\n"
        f"{cp['last_notification_id']}\n{cp['created_at']}\n"
    )
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key_base64"]))
    public.verify(base64.b64decode(cp["signature"]), message.encode("ascii"))
    leaf = hashlib.sha256(b"\x00" + f"{event.dossier_id}\n{event.seq}\n{event.hash}".encode()).digest()
    assert leaf.hex() == proof["leaf_hash"]
    path = [bytes.fromhex(h) for h in proof["path"]]
    root = bytes.fromhex(cp["root"])
    assert verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"], path, root)
    forged = hashlib.sha256(b"\x00" + f"{event.dossier_id}\n{event.seq}\n{'0' * 64}".encode()).digest()
    assert not verify_inclusion(forged, proof["leaf_index"], proof["tree_size"], path, root)


def test_a_proof_for_an_event_after_the_last_checkpoint_is_a_404_problem(audited: Audited) -> None:
    api, inspector = _client(audited), _auth(audited, "inspector")
    before = api.get(f"/api/v1/dossiers/{audited.log()[0].dossier_id}/events/1/proof", headers=inspector)
    assert before.status_code == 404 and "no checkpoint was signed yet" in before.json()["detail"]
    audited.checkpoints.checkpoint(audited.clock())
    size = len(audited.log())
    fresh = _new_stream(audited.container, audited.clock(), 2)
    got = api.get(f"/api/v1/dossiers/{fresh}/events/2/proof", headers=inspector)
    assert got.status_code == 404
    assert got.headers["content-type"].startswith("application/problem+json")
    body = got.json()
    assert body["type"].endswith("/not-checkpointed")
    assert f"after checkpoint 1 ({size} events)" in body["detail"] and "hash chain" in body["detail"]
    unknown = api.get(f"/api/v1/dossiers/{fresh}/events/3/proof", headers=inspector)
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/unknown-event")


def test_verify_and_checkpoints_over_http(audited: Audited, raw: RawRows) -> None:
    api, inspector = _client(audited), _auth(audited, "inspector")
    officer = _auth(audited, "officer", "W.01")
    assert api.get("/api/v1/audit/verify", headers=officer).status_code == 403
    assert (
        api.get("/api/v1/audit/checkpoints/1", headers=inspector)
        .json()["type"]
        .endswith("/unknown-checkpoint")
    )
    audited.checkpoints.checkpoint(audited.clock())
    _new_stream(audited.container, audited.clock(), 1)
    audited.checkpoints.checkpoint(audited.clock())
    _new_stream(audited.container, audited.clock(), 1)
    audited.checkpoints.checkpoint(audited.clock())

    page = api.get("/api/v1/audit/checkpoints", params={"limit": 2}, headers=inspector).json()
    assert [c["n"] for c in page["items"]] == [3, 2] and page["next_cursor"] == "2"
    rest = api.get(
        "/api/v1/audit/checkpoints", params={"limit": 2, "cursor": page["next_cursor"]}, headers=inspector
    ).json()
    assert [c["n"] for c in rest["items"]] == [1] and rest["next_cursor"] is None
    one = api.get("/api/v1/audit/checkpoints/1", headers=inspector).json()
    assert one["size"] == len(audited.log()) - 2 and one["key_id"] == audited.checkpoints.key_id
    missing = api.get("/api/v1/audit/checkpoints/9", headers=inspector)
    assert missing.status_code == 404 and "checkpoints are 1..3" in missing.json()["detail"]

    ok = api.get("/api/v1/audit/verify", headers=inspector).json()
    assert ok == {
        "ok": True,
        "checked_events": len(audited.log()),
        "checkpoints_checked": 3,
        "last_checkpoint": 3,
        "covered_events": len(audited.log()),
        "uncovered_events": 0,
        "kept_checked": 0,
    }
    bad_id = api.get("/api/v1/audit/verify", params={"dossier_id": "nope"}, headers=inspector)
    assert bad_id.status_code == 422
    nobody = api.get("/api/v1/audit/verify", params={"dossier_id": str(uuid.uuid4())}, headers=inspector)
    assert nobody.status_code == 404

    victim = audited.log()[0]
    raw.delete(victim.notification_id or 0)
    failed = api.get("/api/v1/audit/verify", headers=_auth(audited, "supervisor", "P.79")).json()
    assert failed["ok"] is False
    assert failed["first_bad"]["dossier_id"] == victim.dossier_id and failed["first_bad"]["seq"] == 1


def test_verify_over_http_against_a_kept_checkpoint(audited: Audited) -> None:
    api, inspector = _client(audited), _auth(audited, "inspector")
    audited.checkpoints.checkpoint(audited.clock())
    _new_stream(audited.container, audited.clock(), 1)
    audited.checkpoints.checkpoint(audited.clock())
    kept = api.get("/api/v1/audit/checkpoints", headers=inspector).json()["items"][0]  # the newest
    params = {"kept_checkpoint": kept["n"], "kept_root": kept["root"]}
    ok = api.get("/api/v1/audit/verify", params=params, headers=inspector).json()
    assert ok["ok"] is True and ok["kept_checked"] == 1

    _newest_deleted(audited, keep=1)
    failed = api.get("/api/v1/audit/verify", params=params, headers=inspector).json()
    assert failed["ok"] is False and failed["first_bad"]["checkpoint"] == 2
    assert "no longer stored" in failed["first_bad"]["reason"]
    for partial in ({"kept_checkpoint": 2}, {"kept_root": kept["root"]}, {**params, "kept_root": "0a"}):
        refused = api.get("/api/v1/audit/verify", params=partial, headers=inspector)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")


# -- CLI ------------------------------------------------------------------------------------------


def _cli(audited: Audited, make_container: Any, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """`lienthong audit`'s commands, on the test's store."""
    from gateways.audit import cli

    def fresh(settings: Any = None) -> Container:
        container = make_container(audited.url)  # same stores and keys, as another process would see them
        _attach(container)
        return container

    monkeypatch.setattr(cli, "bootstrap", fresh)
    monkeypatch.setattr(cli, "missing_store", lambda settings: None)  # the store is make_container's
    app = typer.Typer()
    for name, command in [
        ("verify", cli.audit_verify),
        ("checkpoint", cli.audit_checkpoint),
        ("latest", cli.audit_latest),
    ]:
        app.command(name)(command)
    return app


def test_the_cli_signs_and_verifies_and_exits_1_naming_the_fault(
    audited: Audited, raw: RawRows, make_container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, runner = _cli(audited, make_container, monkeypatch), CliRunner()

    signed = runner.invoke(app, ["checkpoint"])
    assert signed.exit_code == 0 and f"checkpoint 1 signed: {len(audited.log())} events" in signed.output
    again = runner.invoke(app, ["checkpoint"])
    assert "nothing new to sign" in again.output
    passed = runner.invoke(app, ["verify"])
    assert passed.exit_code == 0 and "OK" in passed.output

    victim = audited.log()[-1]
    raw.delete(victim.notification_id or 0)
    failed = runner.invoke(app, ["verify"])
    assert failed.exit_code == 1
    assert f"dossier {victim.dossier_id} event {victim.seq}" in failed.output.replace("\n", "")
    one = runner.invoke(app, ["verify", "--dossier-id", victim.dossier_id])
    assert one.exit_code == 1


def test_the_cli_keeps_the_latest_checkpoint_and_verifies_against_it(
    audited: Audited, make_container: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    app, runner = _cli(audited, make_container, monkeypatch), CliRunner()
    kept = tmp_path / "kept.json"

    none = runner.invoke(app, ["latest", "--out", str(kept)])
    assert none.exit_code == 2 and "no checkpoint is signed yet" in none.stderr and not kept.exists()
    audited.checkpoints.checkpoint(audited.clock())
    _new_stream(audited.container, audited.clock(), 2)
    audited.checkpoints.checkpoint(audited.clock())
    printed = runner.invoke(app, ["latest"])
    assert printed.exit_code == 0 and orjson.loads(printed.stdout)["n"] == 2
    written = runner.invoke(app, ["latest", "--out", str(kept)])
    assert written.exit_code == 0 and orjson.loads(kept.read_bytes()) == orjson.loads(printed.stdout)

    passed = runner.invoke(app, ["verify", "--kept", str(kept)])
    assert passed.exit_code == 0, passed.output
    assert "kept checkpoints found as kept" in passed.stdout and "OK" in passed.stdout

    altered = tmp_path / "altered.json"
    body = orjson.loads(kept.read_bytes())
    altered.write_bytes(orjson.dumps({**body, "root": "0" * 64}))
    refused = runner.invoke(app, ["verify", "--kept", str(altered)])
    assert refused.exit_code == 2 and "signature does not verify" in refused.stderr.replace("\n", "")
    not_json = tmp_path / "notes.txt"
    not_json.write_text("checkpoint 2, root …")
    unreadable = runner.invoke(app, ["verify", "--kept", str(not_json)])
    assert unreadable.exit_code == 2 and "is not JSON" in unreadable.stderr

    _newest_deleted(audited, keep=1)
    assert runner.invoke(app, ["verify"]).exit_code == 0  # the store alone cannot tell
    failed = runner.invoke(app, ["verify", "--kept", str(kept)])
    assert failed.exit_code == 1
    assert "FAILED at checkpoint 2" in failed.stdout and "no longer stored" in failed.stdout.replace("\n", "")
