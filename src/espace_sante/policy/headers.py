"""The MSSanté headers: ``X-MSS-INS`` (qualified INS present, O/N) and ``X-MSS-CODECDA``."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[,;\s]+")


def parse_x_mss_ins(value: str | None) -> bool | None:
    """``O`` → True, ``N`` → False, anything else → None (absent or unreadable)."""
    if value is None:
        return None
    v = value.strip().upper()
    return True if v == "O" else False if v == "N" else None


def parse_x_mss_codecda(value: str | None) -> list[str]:
    """The CDA document codes, as given, split on commas, semicolons or spaces."""
    if not value:
        return []
    return [item for item in _SEPARATORS.split(value.strip()) if item]
