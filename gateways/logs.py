"""Structured logs: one JSON object per line, for the project's loggers and uvicorn's.

Every line carries `time` (ISO 8601, UTC), `level`, `logger`, `message`, and, inside a
request, `request_id`, the principal (`sub`, `role`, `agency_code`) and the `dossier_id`
when the request names one. A traceback travels in `exc` as one JSON string (its line
breaks escaped), so a line is always one event. Query strings are never logged (the
citizen lookup's secret travels in one), nor request or response bodies (applicant data).
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# The request's log context: a dict the request fills in as it learns who asks (one
# mutable object, so what a dependency running in a worker thread adds is seen by all).
request_context: ContextVar[dict[str, Any] | None] = ContextVar("lienthong_request_context", default=None)

_CONTEXT_FIELDS = ("request_id", "sub", "role", "agency_code", "dossier_id")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def annotate(**fields: Any) -> None:
    """Add fields to the current request's log context (no-op outside a request)."""
    context = request_context.get()
    if context is not None:
        context.update({k: v for k, v in fields.items() if v is not None})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # several stream processes may share a terminal
            "message": record.getMessage(),
        }
        context = request_context.get()
        if context:
            line.update({k: context[k] for k in _CONTEXT_FIELDS if k in context})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def log_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` (also uvicorn's `log_config`): JSON lines on stderr."""
    lvl = level.upper()
    logging.captureWarnings(True)  # warnings become log lines too (logger py.warnings)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "lienthong": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            # One line per message or heartbeat at info: only warnings and errors.
            "lienthong.faststream": {"level": "WARNING" if lvl in ("DEBUG", "INFO") else lvl},
            "aiokafka": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "py.warnings": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            # uvicorn's own access log prints the query string (the lookup secret): replaced by
            # lienthong.access (see gateways/http/observe.py), which never does.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure(level: str = "info") -> None:
    logging.config.dictConfig(log_config(level))
