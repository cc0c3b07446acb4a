"""FETCH of body sections: BINARY (RFC 3516), a part's content with its transfer encoding undone,
its size, partials; the parts of an encapsulated message. FETCH with imaplib (ENVELOPE,
BODYSTRUCTURE, PEEK and \\Seen): test_session_imaplib; MODSEQ and CHANGEDSINCE: test_condstore."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox, imaplib_client
from .raw import RawOpener


async def test_binary_fetch_of_a_base64_attachment(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    message = email.message_from_bytes(mailbox.messages[1], policy=email.policy.default)
    pdf = list(message.iter_parts())[1].get_content()  # part 2: application/pdf, base64
    assert isinstance(pdf, bytes)
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    await c.command("b EXAMINE INBOX")
    size = (await c.command("c FETCH 2 (BINARY.SIZE[2])")).joined
    assert f"BINARY.SIZE[2] {len(pdf)}".encode() in size
    body = (await c.command("d FETCH 2 (BINARY.PEEK[2])")).joined
    assert b"BINARY[2] {%d}\r\n" % len(pdf) + pdf in body
    partial = (await c.command("e FETCH 2 (BINARY.PEEK[2]<0.4>)")).joined
    assert b"BINARY[2]<0> {4}\r\n%PDF" in partial
    text = (await c.command("f FETCH 2 (BINARY.PEEK[1])")).joined
    assert b"BINARY[1] {" in text
    # no such part: empty, as Dovecot answers (RFC 3516 leaves it open)
    answer = await c.command("g FETCH 2 (BINARY.PEEK[7])")
    assert answer.untagged == [b"* 2 FETCH (BINARY[7] {0}\r\n)\r\n"], answer
    assert b"h BAD" in (await c.command("h FETCH 2 (BINARY.PEEK[2.HEADER])")).joined


async def test_the_body_of_a_forwarded_single_part_message_is_part_2_1(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 9051 §6.4.5: a non-multipart encapsulated message has one part, S.1 (its body)."""
    inner = (
        b"From: a@b.fr\r\nSubject: original\r\nContent-Type: text/plain\r\n\r\nTexte d'origine\r\n"
    )
    outer = (
        b"From: c@d.fr\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nVoir ci-dessous\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n"
    )

    def run() -> tuple[bytes, bytes, object]:
        with imaplib_client(imap, client_tls, mailbox.address, mailbox.password) as c:
            c.append("Drafts", None, None, outer)
            c.select("Drafts")
            _, body = c.fetch("1", "(BODY.PEEK[2.1])")
            _, mime = c.fetch("1", "(BODY.PEEK[2.1.MIME])")
            _, missing = c.fetch("1", "(BODY.PEEK[2.2])")
            return body[0][1], mime[0][1], missing[0]  # type: ignore[index]

    body, mime, missing = await asyncio.to_thread(run)
    assert body == b"Texte d'origine"  # the CRLF before the boundary belongs to the delimiter
    assert mime.startswith(b"From: a@b.fr\r\nSubject: original")
    assert missing == (b"1 (BODY[2.2] {0}", b"")  # no such part: empty, as Dovecot answers
