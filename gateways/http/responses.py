"""The API's default response class: JSON bytes made by orjson.

FastAPI's own `ORJSONResponse` is deprecated (FastAPI 0.165 warns at every response made with
it). This is the same rendering, kept here: what a route returns is first made JSON-able by
FastAPI (`jsonable_encoder`), then orjson writes it, non-string keys allowed as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
