"""Access logs without secrets or personal data: the values of query parameters that carry
them (a lookup's `secret`, a search's `id_number` or `phone`, any `token`) are redacted
before uvicorn's access log formats the line."""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"(?i)([?&](?:secret|token|access_token|id_number|phone|name)=)[^&\s\"']*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1" + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites the record's message and arguments; never drops a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "lienthong")


def install() -> None:
    """On the loggers themselves, so uvicorn's own logging configuration keeps them."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
