"""Imported history in the dossier index, on each backend: the search finds a dossier by its
legacy case id (after a rebuild of the views too), and an agency's inbox shows live work only,
unless asked for the imported dossiers a mapping put there."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateways.auth import issue_token
from gateways.http.app import create_app
from gateways.interchange.mapping import GroupMapping
from gateways.interchange.xes_import import import_xes
from gateways.seed.demo import load_catalogue
from tests.conftest import VN
from tests.e2e.test_dashboard import SECRET
from tests.e2e.test_imported_history import CASES, legacy_log

pytestmark = pytest.mark.integration


def test_imported_dossiers_are_found_by_their_case_id_on_each_backend(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    container = make_container(backend_url)
    import_xes(legacy_log(tmp_path / "legacy.xes"), container.service, workers=0)
    container.feed.refresh()
    with TestClient(create_app(container)) as client:

        def found(case_id: str) -> list[str]:
            return _ids(client, case_id=case_id)

        ids = {case: found(case) for case in CASES}
        assert all(len(one) == 1 for one in ids.values()) and len({one[0] for one in ids.values()}) == len(
            CASES
        )
        assert found("no-such-case") == []
        container.feed.rebuild()
        assert {case: found(case) for case in CASES} == ids


SAI_GON = "000.01.99.H29"  # UBND phường Sài Gòn: the desk of CT.01-2025 in the demo catalogue


def test_an_agencys_inbox_keeps_imported_history_out_unless_asked(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """A mapping may put a legacy log's unit onto a real agency: its inbox, sorted most urgent
    first, would then open on years-old imported dossiers the log never closed."""
    container = make_container(backend_url)
    load_catalogue(container.catalogue)
    onto = GroupMapping.from_json({"groups": {"Group 1": {"code": SAI_GON, "level": "commune"}}})
    log = tmp_path / "ward.xes"
    log.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        + "".join(
            f'<trace><string key="concept:name" value="ward-{n}"/><event>'
            '<string key="concept:name" value="Tiếp nhận"/><string key="org:group" value="Group 1"/>'
            f'<date key="time:timestamp" value="2025-09-{10 + n}T08:30:00+07:00"/></event></trace>'
            for n in range(3)
        )
        + "</log>",
        encoding="utf-8",
    )
    report = import_xes(log, container.service, onto, workers=0)
    assert report.dossiers_created == report.left_open == 3  # the log ends before its cases do
    container.feed.refresh()

    def token(role: str, agency: str | None) -> dict[str, str]:
        now = datetime.now(VN)
        signed = issue_token(
            SECRET, role=role, sub=f"test-{role}", agency_code=agency, now=now, ttl=timedelta(hours=1)
        )
        return {"Authorization": f"Bearer {signed}"}

    with TestClient(create_app(container)) as client:
        made = client.post(
            "/api/v1/dossiers",
            json={
                "procedure_code": "CT.01-2025",
                "channel": "direct",
                "applicant": {"name": "Võ Thị Sáu", "id_number": "079100000006"},
            },
            headers=token("officer", SAI_GON),
        )
        assert made.status_code == 201, made.text
        officer = token("officer", SAI_GON)
        live = client.get(f"/api/v1/agencies/{SAI_GON}/inbox", headers=officer)
        everything = client.get(f"/api/v1/agencies/{SAI_GON}/inbox?include_imported=true", headers=officer)
        # The search too (the dashboard's inbox lists the desk's ready results through it).
        searched = {
            kind: [
                item["id"]
                for item in client.get(
                    "/api/v1/dossiers", params={"holder_agency_code": SAI_GON, **kind_of}, headers=officer
                ).json()["items"]
            ]
            for kind, kind_of in (
                ("live", {"imported": "false"}),
                ("imported", {"imported": "true"}),
                ("all", {}),
            )
        }
    assert live.status_code == everything.status_code == 200
    assert [item["id"] for item in live.json()["items"]] == [made.json()["id"]]
    shown = {item["id"] for item in everything.json()["items"]}
    assert made.json()["id"] in shown and len(shown) == 1 + report.left_open
    assert (live.json()["total"], everything.json()["total"]) == (1, len(shown))  # counted alike
    assert searched["live"] == [made.json()["id"]]
    assert set(searched["imported"]) == shown - {made.json()["id"]}
    assert set(searched["all"]) == shown


def _inspector() -> dict[str, str]:
    signed = issue_token(
        SECRET,
        role="inspector",
        sub="test-inspector",
        agency_code=None,
        now=datetime.now(VN),
        ttl=timedelta(hours=1),
    )
    return {"Authorization": f"Bearer {signed}"}


def _ids(client: TestClient, **params: str) -> list[str]:
    r = client.get("/api/v1/dossiers", params=params, headers=_inspector())
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def _log(path: Path, traces: dict[str, str]) -> Path:
    """A log of one-event traces: case id -> the event's time, as written."""
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        + "".join(
            f'<trace><string key="concept:name" value="{case}"/><event>'
            '<string key="concept:name" value="Tiếp nhận"/><string key="org:group" value="Unit"/>'
            f'<date key="time:timestamp" value="{at}"/></event></trace>'
            for case, at in traces.items()
        )
        + "</log>",
        encoding="utf-8",
    )
    return path


def test_a_case_id_of_thousands_of_characters_is_indexed_and_found_on_each_backend(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """A legacy log's case id has no length limit. Indexed whole, one of 3,000 characters that
    do not compress stopped the index view on PostgreSQL for every dossier after it."""
    long = "".join(f"{n:x}" for n in range(1, 5000))[:3000]  # no run the index could compress
    container = make_container(backend_url)
    import_xes(
        _log(
            tmp_path / "long.xes", {long: "2024-03-01T09:00:00+07:00", "short": "2024-03-02T09:00:00+07:00"}
        ),
        container.service,
        workers=0,
    )
    container.feed.refresh()
    with TestClient(create_app(container)) as client:
        found = {case: _ids(client, case_id=case) for case in (long, "short", long[:200])}
    assert len(found[long]) == len(found["short"]) == 1 and found[long] != found["short"]
    assert found[long[:200]] == []  # the indexed beginning alone is not the case id
    with TestClient(create_app(container)) as client:
        shown = client.get(f"/api/v1/dossiers/{found[long][0]}", headers=_inspector())
    assert shown.status_code == 200 and shown.json()["external_case_id"] == long


def test_the_received_range_compares_instants_whatever_offset_a_time_was_written_with(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """The index keeps each time with the offset it was recorded with: an imported log's
    +01:00 beside a desk's +07:00. The range's bounds, in any offset, are instants."""
    container = make_container(backend_url)
    log = _log(
        tmp_path / "offsets.xes",
        {
            "paris": "2024-03-01T09:00:00+01:00",  # 08:00Z, 15:00 in Hà Nội
            "hanoi": "2024-03-01T14:00:00+07:00",  # 07:00Z: an hour before, though its text sorts after
            "utc": "2024-03-01T07:30:00.250000Z",
        },
    )
    import_xes(log, container.service, workers=0)
    container.feed.refresh()
    with TestClient(create_app(container)) as client:
        case_of = {_ids(client, case_id=case)[0]: case for case in ("paris", "hanoi", "utc")}

        def received(**bounds: str) -> list[str]:
            return sorted(case_of[found] for found in _ids(client, **bounds))

        assert received(received_from="2024-03-01T14:31:00+07:00") == ["paris"]
        assert received(received_from="2024-03-01T07:30:00Z") == ["paris", "utc"]
        assert received(received_to="2024-03-01T07:59:59Z") == ["hanoi", "utc"]
        assert received(received_to="2024-03-01T15:00:00+07:00") == ["hanoi", "paris", "utc"]  # inclusive
        assert received(
            received_from="2024-03-01T14:00:00.5+07:00", received_to="2024-03-01T08:59:59+01:00"
        ) == ["utc"]
        assert received(received_from="2024-03-02T00:00:00+07:00") == []


def test_a_filtered_search_pages_through_every_match_once(
    make_container: Any, backend_url: str, tmp_path: Path
) -> None:
    """Filters decided on each row (received range, overdue) read batches until a page is
    full: the next page starts after the last row shown, not the last one read."""
    container = make_container(backend_url)
    times = {
        f"case-{n:02d}": f"2024-03-{1 + n % 20:02d}T09:00:00{'+01:00' if n % 3 else '+07:00'}"
        for n in range(30)
    }
    import_xes(_log(tmp_path / "many.xes", times), container.service, workers=0)
    container.feed.refresh()
    with TestClient(create_app(container)) as client:
        for params in (
            {"received_from": "2024-03-04T00:00:00+07:00", "received_to": "2024-03-17T00:00:00Z"},
            {"received_from": "2024-03-04T00:00:00+07:00", "overdue": "true"},
        ):
            whole = _ids(client, **params, limit="500")
            paged: list[str] = []
            cursor: str | None = None
            for _ in range(len(whole) + 2):
                r = client.get(
                    "/api/v1/dossiers",
                    params={**params, "limit": "4", **({"cursor": cursor} if cursor else {})},
                    headers=_inspector(),
                )
                assert r.status_code == 200, r.text
                paged += [item["id"] for item in r.json()["items"]]
                if not (cursor := r.json()["next_cursor"]):
                    break
            assert len(whole) > 8 and paged == whole, params
