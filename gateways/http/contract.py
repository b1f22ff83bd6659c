"""The OpenAPI document says what the API really does: which operations need a bearer token
(from the access table), and the RFC 9457 problem answers every operation can give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateways.http import access
from gateways.http.problems import PROBLEM

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_WHY = {
    400: "Malformed request (body not JSON, malformed header)",
    401: "No valid bearer token",
    403: "The token's role or agency may not do this",
    404: "No such resource",
    409: "A domain rule or a version (If-Match) conflict",
    410: "The file was erased with the applicant's personal data",
    413: "Body larger than the limit, or the event it would record larger than the events topic takes",
    415: "Not multipart/form-data, or a file type that is not allowed (judged by its content)",
    422: "Invalid value",
    429: "Rate limit reached (see Retry-After)",
    503: "Overloaded or the store is busy; nothing was recorded (see Retry-After)",
}


def _problems(method: str, path: str, policy: access.Policy) -> dict[str, Any]:
    statuses = [404, 422, 503]
    if not policy.public:
        statuses += [401, 403]
    if method in ("POST", "PUT"):
        statuses += [400, 409, 413]
    if policy.limit:
        statuses.append(429)
    if "/files" in path or path.endswith("/result-file"):
        # Files: a damaged or missing stored file (409), erased (410), a type not allowed (415).
        statuses += [409, 410] + ([415] if method == "POST" else [])
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(status): {"description": _WHY[status], "content": {PROBLEM: {"schema": ref}}}
        for status in sorted(statuses)
    }


def _own_body(content: dict[str, Any]) -> bool:
    """A body the route declared itself (not FastAPI's validation error)."""
    refs = [str(media.get("schema", {}).get("$ref", "")) for media in content.values()]
    return bool(refs) and not any(ref.endswith("/HTTPValidationError") for ref in refs)


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that adds the bearer scheme and the problem answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "a token from `lienthong token --role ROLE [--agency CODE]`",
            }
        }
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method not in ("get", "post", "put", "delete", "patch"):
                    continue
                policy = access.policy_for(method.upper(), path)
                if not policy.public:
                    operation["security"] = [{"bearer": []}]
                responses = operation.setdefault("responses", {})
                for status, answer in _problems(method.upper(), path, policy).items():
                    declared = responses.get(status, {}).get("content", {})
                    if _own_body(declared):
                        # The route answers this status with a body of its own too (`/readyz`: 503).
                        declared.update(answer["content"])
                    else:
                        # FastAPI's own 422 (a JSON validation error) is a problem here.
                        responses[status] = answer
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
