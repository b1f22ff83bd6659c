"""Dropping a test or benchmark database on the PostgreSQL that `make test` starts: sessions of the
same role are ended, and the role may end another role's session (an autovacuum worker in a freshly
filled database), so a drop never fails on who happens to be connected."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from gateways.sql import drop_database
from tests.conftest import PG_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> str:
    if not PG_URL:
        pytest.fail("LIENTHONG_TEST_PG_URL is not set: `make test` starts PostgreSQL and sets it")
    return PG_URL.rsplit("/", 1)[0]


def test_the_role_may_end_sessions_of_other_roles(server: str) -> None:
    with psycopg.connect(server + "/postgres") as conn:
        row = conn.execute("SELECT pg_has_role(current_user, 'pg_signal_backend', 'member')").fetchone()
    assert row == (True,), "deploy/postgres/start.sh grants pg_signal_backend to the lienthong role"


def test_a_database_with_an_open_session_is_dropped(server: str) -> None:
    name = f"lt_drop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    holder = psycopg.connect(f"{server}/{name}")
    holder.execute("CREATE TABLE t (x int)")
    try:
        assert drop_database(f"{server}/{name}", wait_seconds=60)
        with psycopg.connect(server + "/postgres") as conn:
            found = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
        assert found == (0,)
        assert holder.closed or holder.broken or _ended(holder)
    finally:
        holder.close()
        drop_database(f"{server}/{name}")  # what the test made goes, whatever its outcome


def _ended(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False
