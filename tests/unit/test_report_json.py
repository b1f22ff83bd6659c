"""Report answers are written by orjson straight from the dict: the same bytes as the default
response (FastAPI's `jsonable_encoder`, then orjson), for what reports hold and what orjson
does not know by itself. And the server's start-up objects are frozen out of full collections."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder

from gateways.http.heap import settle
from gateways.http.report_presenters import json_response
from gateways.http.responses import OrjsonResponse


class Colour(Enum):
    RED = "red"


BODIES: list[dict[str, Any]] = [
    {"from": "2026-08-07", "agencies": [{"group": "A", "dwell_hours": {"p50": 1.25, "p90": None}}], "lag": 0},
    {"day": date(2026, 3, 14), "at": datetime(2026, 3, 14, 10, 30, tzinfo=UTC), "colour": Colour.RED},
    {"codes": {"B"}, "weeks": ("2026-W01", "2026-W02"), "by_bucket": {3: 4, 7: 1}, "name": "Sở Tư pháp"},
    {"nested": [[1, 2.5, None, True], {"empty": {}}], "big": 2**53 + 1, "nan": float("nan")},
]


@pytest.mark.parametrize("body", BODIES)
def test_a_report_answer_is_the_json_the_default_response_would_give(body: dict[str, Any]) -> None:
    expected = OrjsonResponse(jsonable_encoder(body)).body  # the application's default class
    response = json_response(body)
    assert response.body == expected
    assert response.media_type == "application/json"


def test_settle_moves_the_live_objects_out_of_full_collections() -> None:
    gc.unfreeze()
    try:
        settle()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
