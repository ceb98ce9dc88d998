"""The access log never shows a secret a URL carried: `access_token` and link signatures become [redacted]."""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"(?i)\b(access_token|signature)=[^&\s\"']*")
ACCESS_LOGGER = "uvicorn.access"


def redacted(text: str) -> str:
    return _SECRET.sub(r"\1=[redacted]", text)


class RedactSecrets(logging.Filter):
    """A filter for uvicorn's access logger: its record's arguments hold the request's path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        return True
