"""The API's default response class: JSON bytes made by orjson.

FastAPI's own `ORJSONResponse` is deprecated (FastAPI 0.165 warns at every response made with
it). This is the same rendering, kept here: what a route returns is first made JSON-able by
FastAPI (`jsonable_encoder`), then orjson writes it, non-string keys allowed as before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def content_disposition(kind: str, name: str) -> str:
    """`Content-Disposition` for a file named after data (an agency code, a receipt code, an
    uploaded name): an ASCII `filename` with every other character, control characters and
    quotes replaced, and the exact name in `filename*` (RFC 6266), so no name can break the
    header or fail to encode."""
    plain = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name.encode('utf-8', 'replace'), safe='')}"
