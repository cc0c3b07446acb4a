"""A raw IMAP client for the protocol tests: the bytes a test writes go out as they are, the
server's answers come back byte for byte, split into (untagged lines, tagged line).

    async def test_x(raw_imap: RawOpener, mailbox: Mailbox) -> None:
        c = await raw_imap()  # implicit TLS; raw_imap(starttls=True) for the STARTTLS port
        await c.login(mailbox.address, mailbox.password)
        untagged, tagged = await c.command("b SELECT INBOX")
        assert tagged.startswith(b"b OK")

Every line keeps its CRLF. A response line that announces a literal (``{n}`` or ``~{n}``) comes
back as one ``bytes`` with the literal and the rest of the line after it. Each read gives up
after ``timeout`` seconds (``TimeoutError``); the end of the connection before the awaited line
raises ``ConnectionError``. Writes are never drained, so a test can flood a server that stops
reading.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

TIMEOUT = 10.0
HOST = "127.0.0.1"
_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n$")


@dataclass(frozen=True)
class Literal:
    """A literal inside a command: ``{n+}`` (LITERAL+, sent at once) unless ``synchronising``,
    then ``{n}`` and the data only after the server's ``+`` continuation request."""

    data: bytes
    synchronising: bool = False


class Response(NamedTuple):
    """The lines before the command's completion, and the completion: the tagged line, or the
    ``+`` continuation request when the command was sent with ``continuation=True``."""

    untagged: list[bytes]
    tagged: bytes

    @property
    def lines(self) -> list[bytes]:
        """Every line, the completion last."""
        return [*self.untagged, self.tagged]

    @property
    def joined(self) -> bytes:
        """Every line, concatenated."""
        return b"".join(self.lines)


class RawImap:
    """One connection; build it with :func:`connect` (or the ``raw_imap`` fixture)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, greeting: bytes
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = greeting  # the server's first line, "* OK ..." normally

    async def send(self, data: bytes) -> None:
        """Write raw bytes, nothing added (no CRLF, no tag), without waiting for the socket."""
        self.writer.write(data)

    async def readline(self, timeout: float = TIMEOUT) -> bytes:
        """The next line as it came, CRLF included; ``b""`` once the server has closed."""
        return await asyncio.wait_for(self.reader.readline(), timeout)

    async def read_response_line(self, timeout: float = TIMEOUT) -> bytes:
        """The next response line with the literals it announces and the rest of the line."""
        line = await self.readline(timeout)
        while match := _LITERAL.search(line):
            line += await asyncio.wait_for(self.reader.readexactly(int(match[1])), timeout)
            line += await self.readline(timeout)
        return line

    async def read_to_end(self, timeout: float = TIMEOUT) -> bytes:
        """Everything the server still sends until it closes the connection."""
        return await asyncio.wait_for(self.reader.read(), timeout)

    async def read_until(
        self, tag: str | bytes, *, continuation: bool = False, timeout: float = TIMEOUT
    ) -> Response:
        """Read responses until the line tagged ``tag`` (or a ``+`` line, if ``continuation``)."""
        prefix = (tag.encode() if isinstance(tag, str) else tag) + b" "
        untagged: list[bytes] = []
        while True:
            line = await self.read_response_line(timeout)
            if not line:
                raise ConnectionError(f"closed before {prefix!r}; received {untagged!r}")
            if line.startswith(prefix) or (continuation and line.startswith(b"+")):
                return Response(untagged, line)
            untagged.append(line)

    async def command(
        self, *parts: str | bytes | Literal, continuation: bool = False, timeout: float = TIMEOUT
    ) -> Response:
        """Send one command, ``parts`` joined and CRLF added, and read up to its completion.

        The tag is the first word of the first part. ``Literal`` parts are announced and sent
        as RFC 3501/7888 say; a server that refuses a synchronising literal ends the command.
        """
        first = parts[0]
        tag = (first if isinstance(first, bytes) else str(first).encode()).split()[0]
        pending = b""
        untagged: list[bytes] = []
        for part in parts:
            if isinstance(part, Literal):
                if part.synchronising:
                    await self.send(pending + b"{%d}\r\n" % len(part.data))
                    pending = b""
                    answer = await self.read_until(tag, continuation=True, timeout=timeout)
                    untagged += answer.untagged
                    if not answer.tagged.startswith(b"+"):
                        return Response(untagged, answer.tagged)
                else:
                    pending += b"{%d+}\r\n" % len(part.data)
                pending += part.data
            else:
                pending += part.encode() if isinstance(part, str) else part
        await self.send(pending + b"\r\n")
        answer = await self.read_until(tag, continuation=continuation, timeout=timeout)
        return Response(untagged + answer.untagged, answer.tagged)

    async def login(self, user: str, password: str, *, tag: str = "a") -> Response:
        """LOGIN, which must succeed."""
        answer = await self.command(f"{tag} LOGIN {user} {password}")
        assert answer.tagged.startswith(f"{tag} OK".encode()), answer
        return answer

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        """Drop the connection at once, whatever is still unsent."""
        self.writer.transport.abort()


async def connect(
    port: int,
    tls: ssl.SSLContext,
    *,
    starttls: bool = False,
    host: str = HOST,
    timeout: float = TIMEOUT,
) -> RawImap:
    """Connect and read the greeting: over implicit TLS, or in clear text then ``STARTTLS``
    (the greeting kept is the clear-text one)."""
    reader, writer = await asyncio.open_connection(host, port, ssl=None if starttls else tls)
    client = RawImap(reader, writer, await asyncio.wait_for(reader.readline(), timeout))
    if starttls:
        answer = await client.command("s0 STARTTLS", timeout=timeout)
        assert answer.tagged.startswith(b"s0 OK"), answer
        await writer.start_tls(tls, server_hostname=host)
    return client


class RawOpener(Protocol):
    """The ``raw_imap`` fixture: opens connections to the test server, closed at teardown."""

    def __call__(self, *, starttls: bool = False) -> Awaitable[RawImap]: ...
