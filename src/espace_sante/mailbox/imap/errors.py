"""Logging a session's unexpected errors without what the mail said.

An exception's message can quote the data it choked on — a header, a line of a body, a
decoded attachment name — and a log line must never carry health data. These helpers log the
exception's type and where it was raised (file, line, function), never its message nor its
arguments; the full details stay reproducible from the code and the command name.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

#: Innermost frames kept in the log line.
FRAMES = 8


def describe(exc: BaseException) -> str:
    """``Type at file:line:function < …`` for ``exc``, innermost frame first, no message."""
    frames = traceback.extract_tb(exc.__traceback__)[-FRAMES:]
    where = " < ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames))
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {where or '?'}"


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log ``what`` failed because of ``exc``, without the exception's message."""
    logger.error("%s: %s", what, describe(exc))
