"""Logging for the CLI and the server: the only place that configures it.

The library logs one line per operation at INFO (never a token); commands show WARNING and
above unless ``-v`` (INFO) or ``-vv`` (DEBUG); ``serve`` shows INFO, uvicorn's lines included.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


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
