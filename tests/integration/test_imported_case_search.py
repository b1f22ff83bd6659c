"""The dossier index keeps each imported dossier's legacy case id, on each backend: the search
finds it by that id, and a rebuild of the views finds it again."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateways.auth import issue_token
from gateways.http.app import create_app
from gateways.interchange.xes_import import import_xes
from tests.conftest import VN
from tests.e2e.test_imported_history import CASES, SECRET, legacy_log

pytestmark = pytest.mark.integration


def test_imported_dossiers_are_found_by_their_case_id_on_each_backend(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    container = make_container(backend_url)
    import_xes(legacy_log(tmp_path / "legacy.xes"), container.service, workers=0)
    container.feed.refresh()
    token = issue_token(
        SECRET,
        role="inspector",
        sub="test-inspector",
        agency_code=None,
        now=datetime.now(VN),
        ttl=timedelta(hours=1),
    )
    with TestClient(create_app(container)) as client:

        def found(case_id: str) -> list[str]:
            r = client.get(
                "/api/v1/dossiers", params={"case_id": case_id}, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 200, r.text
            return [item["id"] for item in r.json()["items"]]

        ids = {case: found(case) for case in CASES}
        assert all(len(one) == 1 for one in ids.values()) and len({one[0] for one in ids.values()}) == len(
            CASES
        )
        assert found("no-such-case") == []
        container.feed.rebuild()
        assert {case: found(case) for case in CASES} == ids
