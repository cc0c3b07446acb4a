"""Sending SMS (one-time login codes) through a pluggable gateway.

The :class:`SmsGateway` protocol is all the login code needs. :class:`FileSmsGateway` is the
development gateway: it appends each message as one JSON line to a file (``[web] sms_file``), which
the tests and a developer read. A production operator plugs in their provider's HTTP API behind
the same protocol.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from espace_sante.config import Settings


class SmsError(RuntimeError):
    """The gateway could not take the message."""


class SmsGateway(Protocol):
    async def send(self, phone: str, text: str) -> None:
        """Hand ``text`` to the gateway for ``phone`` (E.164); raise SmsError on failure."""
        ...


class FileSmsGateway:
    """Appends ``{"at", "to", "text"}`` JSON lines to a file (development and tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, phone: str, text: str) -> None:
        line = json.dumps(
            {"at": datetime.now(UTC).isoformat(), "to": phone, "text": text}, ensure_ascii=False
        )
        try:
            await asyncio.to_thread(self._append, line + "\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.path}: {exc}") from exc

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def read_sms_file(path: Path) -> list[dict[str, str]]:
    """Every message in a development SMS file, oldest first (for tests and tools)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def gateway_from_settings(settings: Settings) -> SmsGateway:
    if settings.web.sms_gateway == "file":
        return FileSmsGateway(settings.sms_file)
    raise SmsError(f"unknown SMS gateway {settings.web.sms_gateway!r}")  # pragma: no cover
