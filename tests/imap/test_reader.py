"""Taking whole commands off the wire: literals, continuations, limits, and cut connections."""

from __future__ import annotations

import asyncio

import pytest

from espace_sante.mailbox.imap.parser import (
    ConnectionDropped,
    Limits,
    LiteralTooLarge,
    ParseError,
    read_command,
)


class Wire:
    def __init__(self, data: bytes, *, eof: bool = True, buffer_limit: int = 2**16) -> None:
        self.reader = asyncio.StreamReader(limit=buffer_limit)
        self.reader.feed_data(data)
        if eof:
            self.reader.feed_eof()
        self.continuations = 0

    async def read(self, limits: Limits | None = None) -> bytes:
        async def cont() -> None:
            self.continuations += 1

        return await read_command(self.reader, limits or Limits(), cont)


async def test_lines_and_pipelined_commands() -> None:
    wire = Wire(b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOGOUT\n")
    assert [await wire.read() for _ in range(3)] == [b"a1 NOOP", b"a2 CAPABILITY", b"a3 LOGOUT"]
    with pytest.raises(ConnectionDropped):
        await wire.read()


async def test_synchronising_literal_gets_one_continuation() -> None:
    wire = Wire(b"a1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n")
    assert await wire.read() == b"a1 LOGIN {5}\r\nalice {6}\r\nsecret"
    assert wire.continuations == 2


async def test_non_synchronising_literal_gets_none() -> None:
    wire = Wire(b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    assert await wire.read() == b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret"
    assert wire.continuations == 0


async def test_an_endless_line_is_refused_and_the_session_goes_on() -> None:
    wire = Wire(b"a1 NOOP " + b"x" * 300_000 + b"\r\na2 NOOP\r\n", buffer_limit=4096)
    with pytest.raises(ParseError, match="too long") as info:
        await wire.read(Limits(max_line=10_000))
    assert info.value.tag == "a1"
    assert await wire.read() == b"a2 NOOP"


async def test_a_line_without_end_and_a_closed_connection() -> None:
    wire = Wire(b"a1 NOO")
    with pytest.raises(ConnectionDropped):
        await wire.read()


async def test_an_oversized_synchronising_literal_is_refused_before_it_is_sent() -> None:
    wire = Wire(b"a1 LOGIN {999999}\r\na2 NOOP\r\n")
    with pytest.raises(LiteralTooLarge) as info:
        await wire.read(Limits(max_literal=1000))
    assert info.value.tag == "a1" and not info.value.must_close
    assert wire.continuations == 0
    assert await wire.read() == b"a2 NOOP"


async def test_an_oversized_non_synchronising_literal_closes_the_connection() -> None:
    wire = Wire(b"a1 LOGIN {999999+}\r\n" + b"x" * 100)
    with pytest.raises(LiteralTooLarge) as info:
        await wire.read(Limits(max_literal=1000))
    assert info.value.must_close


async def test_append_may_carry_a_message_sized_literal() -> None:
    message = b"Subject: hi\r\n\r\n" + b"x" * 200_000
    wire = Wire(b"a1 APPEND INBOX {%d}\r\n" % len(message) + message + b"\r\n")
    raw = await wire.read(Limits(max_literal=1000, max_append_literal=1_000_000))
    assert raw.endswith(message)
    wire = Wire(b"a1 APPEND INBOX {2000000}\r\n")
    with pytest.raises(LiteralTooLarge):
        await wire.read(Limits(max_append_literal=1_000_000))


async def test_total_command_size_is_bounded() -> None:
    part = b"{900+}\r\n" + b"x" * 900
    wire = Wire(b"a1 XCMD " + b" ".join([part] * 20) + b"\r\n")
    with pytest.raises(LiteralTooLarge, match="over the limit"):
        await wire.read(Limits(max_literal=1000, max_command=10_000))


async def test_connection_cut_in_the_middle_of_a_literal() -> None:
    wire = Wire(b"a1 APPEND INBOX {100}\r\nonly a part")
    with pytest.raises(ConnectionDropped):
        await wire.read()
