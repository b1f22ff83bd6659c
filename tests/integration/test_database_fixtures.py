"""Every PostgreSQL database a test or a benchmark makes on the shared server is dropped when it is
done, also when it fails: the fixtures and the benchmarks' work bench left hundreds behind."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateways.bench import workload
from gateways.settings import Settings
from tests.conftest import PG_URL

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.integration, pytest.mark.postgres]

# Run by an inner pytest with this repository's fixtures: each test writes down the databases it
# was given and checks they exist; one of them then fails.
INNER = """
import psycopg
import pytest

from tests.conftest import PG_URL

pytest_plugins = ["tests.conftest"]


def _note(url):
    name = url.rsplit("/", 1)[1]
    with open({names!r}, "a") as out:
        out.write(name + "\\n")
    with psycopg.connect(PG_URL) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return url


@pytest.mark.parametrize("backend_url", ["postgres"], indirect=True)
def test_backend_url_fails(backend_url):
    _note(backend_url)
    raise AssertionError("a failing test")


def test_pg_database_and_a_container_on_it(pg_database, make_container):
    make_container(_note(pg_database()))
    template = _note(pg_database())
    _note(pg_database(template.rsplit("/", 1)[1]))


def test_pg_database_fails(pg_database):
    _note(pg_database())
    pytest.fail("a failing test")
"""


def _existing(names: list[str]) -> list[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,)).fetchall()
    return [r[0] for r in rows]


def test_the_database_fixtures_drop_what_they_made_whether_the_test_passes_or_fails(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not PG_URL:
        pytest.fail("LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`")
    names = tmp_path / "names.txt"
    pytester.makepyfile(test_inner=textwrap.dedent(INNER.replace("{names!r}", repr(str(names)))))
    root = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    made = names.read_text().split()
    assert _existing(made) == [], "left on the server after the tests that made them"
    outcome.assert_outcomes(passed=1, failed=2)
    assert len(made) == 5 and all(n.startswith("lt_") for n in made), made


def test_a_benchmark_whose_store_cannot_be_opened_drops_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not PG_URL:
        pytest.fail("LIENTHONG_TEST_PG_URL is not set: run the suite with `make test`")
    made: list[str] = []
    fresh = workload._fresh_postgres

    def noted(url: str) -> str:
        made.append(fresh(url))
        return made[-1]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store could not be opened")

    monkeypatch.setattr(workload, "_fresh_postgres", noted)
    monkeypatch.setattr(workload, "bootstrap", broken)
    settings = Settings(data_dir=tmp_path / "var", jwt_secret="test-secret-of-at-least-thirty-two-bytes")
    with pytest.raises(RuntimeError, match="could not be opened"):
        workload.workbench(settings, 10, store_url=PG_URL)
    [url] = made
    assert url.rsplit("/", 1)[1].startswith("lt_bench_")
    assert _existing([url.rsplit("/", 1)[1]]) == []
