"""Logging for the CLI and the server: the only place that configures it.

The library logs one line per operation at INFO (never a token); commands show WARNING and
above unless ``-v`` (INFO) or ``-vv`` (DEBUG); ``serve`` shows INFO, uvicorn's lines included.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# At DEBUG, uvicorn and websockets log request headers and WebSocket frames: an
# `Authorization` header, or an `auth` message with its token.
_TOKEN = re.compile(r"srt_[A-Za-z0-9_-]+")
_AUTHORIZATION = re.compile(r"(?im)(authorization['\"]?\s*[:,]\s*['\"]?)[^'\"\r\n]+")
_TOKEN_FIELD = re.compile(r"""(\\?["']token\\?["']\s*:\s*\\?["'])[^"'\\]+""")


def redact(text: str) -> str:
    """``text`` with every bearer token, ``Authorization`` value and ``token`` field hidden.

    >>> redact('< authorization: Bearer srt_abc')
    '< authorization: [redacted]'
    """
    text = _AUTHORIZATION.sub(r"\1[redacted]", text)
    text = _TOKEN_FIELD.sub(r"\1[redacted]", text)
    return _TOKEN.sub("srt_[redacted]", text)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner may swap it),
    never a token."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def level_for(verbosity: int, *, default: int = logging.WARNING) -> int:
    """``-v`` lowers the threshold to INFO, ``-vv`` to DEBUG."""
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return min(default, logging.INFO)
    return default


def configure_logging(level: int) -> None:
    """One handler on the root logger, on stderr; calling again replaces it."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
