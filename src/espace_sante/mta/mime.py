"""Parsing received messages with ``email``'s modern policy, without re-parsing headers.

``policy.default`` parses a header again on every access (``msg["Content-Type"]``,
``get_content_type()``, ``get_filename()``...); checking and delivering one message read its
headers about forty times. :data:`GATEWAY_POLICY` behaves like ``policy.default`` but remembers
the header objects it made (they are immutable) for values of ordinary length.
"""

from __future__ import annotations

import functools
import re
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from typing import Any

#: Longer header values are parsed each time rather than kept.
MAX_CACHED_VALUE = 2000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@functools.lru_cache(maxsize=2048)
def _header(factory: HeaderRegistry, name: str, value: str) -> BaseHeader:
    return factory(name, value)


class _CachingPolicy(EmailPolicy):
    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        value = "".join(_LINE_BREAK.split(value))
        if len(value) > MAX_CACHED_VALUE:
            return self.header_factory(name, value)
        return _header(self.header_factory, name, value)


#: ``policy.default`` with parsed headers remembered.
GATEWAY_POLICY = _CachingPolicy()


def parse_message(raw: bytes) -> EmailMessage:
    """Parse a whole received message with :data:`GATEWAY_POLICY`."""
    parsed = BytesParser(policy=GATEWAY_POLICY).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed
