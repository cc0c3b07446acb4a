"""FETCH of body sections: BINARY (RFC 3516; RFC 2045 §6.7 and §6.8), a part's content with its
transfer encoding undone, its size, partials; the parts of an encapsulated message (RFC 9051
§6.4.5); NUL octets (RFC 3516 §4.3, RFC 9051 §4.3); the ENVELOPE's routes and groups (RFC 9051
§7.5.2); UIDs out of range (RFC 9051 §9). Every section of the corpus is also compared with
Dovecot's in tests/mailbox/test_sections_dovecot.py. FETCH with imaplib (ENVELOPE,
BODYSTRUCTURE, PEEK and \\Seen): test_session_imaplib; MODSEQ and CHANGEDSINCE: test_condstore."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import ssl

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import Mailbox, deliver, imaplib_client
from .raw import Literal, RawImap, RawOpener


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


INNER = b"From: sub@x.fr\r\nSubject: submsg\r\n\r\nHello world\r\n"
FORWARD = (
    b"From: a@x.fr\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=o\r\n\r\n"
    b"--o\r\nContent-Type: text/plain\r\n\r\nVoir ci-dessous\r\n"
    b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: b@x.fr\r\nSubject: original\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
    b"--a\r\nContent-Type: text/plain\r\n\r\nTexte\r\n"
    b"--a\r\nContent-Type: message/rfc822\r\n\r\n" + INNER + b"--a--\r\n\r\n"
    b"--o--\r\n"
)
RFC822_IN_RFC822 = (
    b"From: a@x.fr\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: b@x.fr\r\nContent-Type: message/rfc822\r\n\r\n" + INNER
)
#: imaptest's quoted-printable part: trailing white space and soft line breaks (RFC 2045 §6.7)
QP = (
    b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\n"
    b"foo = \t\r\nbar\r\nfoo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n"
)
QP_DECODED = (
    b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"
)
ENCODINGS = (
    b"From: a@x.fr\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=t\r\n\r\n"
    b"--t\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    + QP
    + b"\r\n--t\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"AAEC*Aw\r\n QU\r\nJD\r\n"  # a character outside the alphabet, spaces, no padding
    b"--t\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b"caf\xc3\xa9\r\n"
    b"--t\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
    b"--t--\r\n"
)


async def _drafts(raw_imap: RawOpener, mailbox: Mailbox, *messages: bytes) -> RawImap:
    """A session with ``messages`` appended to Drafts, which is selected."""
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    for raw in messages:
        answer = await c.command("b APPEND Drafts ", Literal(raw))
        assert answer.tagged.startswith(b"b OK"), answer
    assert (await c.command("c SELECT Drafts")).tagged.startswith(b"c OK")
    return c


async def _fetch(c: RawImap, request: str) -> bytes:
    """The one untagged FETCH answer of a command that must succeed."""
    answer = await c.command(f"f {request}")
    assert answer.tagged.startswith(b"f OK"), answer
    (line,) = [u for u in answer.untagged if b" FETCH (" in u]
    return line


async def test_header_text_and_parts_of_an_embedded_message(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 9051 §6.4.5: HEADER, TEXT and HEADER.FIELDS of a message/rfc822 part are those of
    the message it encapsulates, and its parts are that message's parts; MIME is the part's
    own MIME header."""
    c = await _drafts(raw_imap, mailbox, FORWARD)
    inner_header = (
        b"From: b@x.fr\r\nSubject: original\r\nContent-Type: multipart/alternative; boundary=a"
        b"\r\n\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.HEADER])") == (
        b"* 1 FETCH (BODY[2.HEADER] {%d}\r\n" % len(inner_header) + inner_header + b")\r\n"
    )
    # the CRLF before "--o--" belongs to that delimiter (RFC 2046 §5.1.1)
    text = FORWARD[FORWARD.index(b"--a\r\n") : FORWARD.index(b"--a--\r\n") + 7]
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.TEXT])") == (
        b"* 1 FETCH (BODY[2.TEXT] {%d}\r\n" % len(text) + text + b")\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.HEADER.FIELDS (SUBJECT X-NONE)])") == (
        b"* 1 FETCH (BODY[2.HEADER.FIELDS (SUBJECT X-NONE)] {21}\r\nSubject: original\r\n\r\n)\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.MIME])") == (
        b"* 1 FETCH (BODY[2.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n)\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.1])") == b"* 1 FETCH (BODY[2.1] {5}\r\nTexte)\r\n"
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.1.MIME])") == (
        b"* 1 FETCH (BODY[2.1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n"
    )
    # nested deeper: part 2.2 is a message/rfc822 inside the embedded message
    header = b"From: sub@x.fr\r\nSubject: submsg\r\n\r\n"
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.2.HEADER])") == (
        b"* 1 FETCH (BODY[2.2.HEADER] {%d}\r\n" % len(header) + header + b")\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.2.1])") == (
        b"* 1 FETCH (BODY[2.2.1] {11}\r\nHello world)\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[2.2.TEXT]<6.5>)") == (
        b"* 1 FETCH (BODY[2.2.TEXT]<6> {5}\r\nworld)\r\n"
    )
    # HEADER of a part that is no message, and a part that does not exist: empty (as Dovecot)
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[1.HEADER] BODY.PEEK[3])") == (
        b"* 1 FETCH (BODY[1.HEADER] {0}\r\n BODY[3] {0}\r\n)\r\n"
    )


async def test_the_part_1_1_of_a_message_in_a_message_is_the_inner_message_s_body(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 9051 §6.4.5: a message that is not multipart has one part, 1 (its body); so in a
    message/rfc822 message holding a message/rfc822 message, 1.1 is the innermost message
    whole, 1.1.1 its body, and 1.MIME the outer message's header."""
    c = await _drafts(raw_imap, mailbox, RFC822_IN_RFC822)
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[1.1])") == (
        b"* 1 FETCH (BODY[1.1] {%d}\r\n" % len(INNER) + INNER + b")\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[1.1.1])") == (
        b"* 1 FETCH (BODY[1.1.1] {13}\r\nHello world\r\n)\r\n"
    )
    middle = b"From: b@x.fr\r\nContent-Type: message/rfc822\r\n\r\n"
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[1.HEADER])") == (
        b"* 1 FETCH (BODY[1.HEADER] {%d}\r\n" % len(middle) + middle + b")\r\n"
    )
    outer = b"From: a@x.fr\r\nContent-Type: message/rfc822\r\n\r\n"
    assert await _fetch(c, "FETCH 1 (BODY.PEEK[1.MIME])") == (
        b"* 1 FETCH (BODY[1.MIME] {%d}\r\n" % len(outer) + outer + b")\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[1.1.1] BINARY.SIZE[1.1])") == (
        b"* 1 FETCH (BINARY[1.1.1] {13}\r\nHello world\r\n BINARY.SIZE[1.1] %d)\r\n" % len(INNER)
    )


async def test_binary_undoes_quoted_printable_and_base64(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 2045 §6.7: white space at the end of an encoded line is removed and ``=`` before a
    line break (after white space) is a soft break; §6.8: characters outside the base64
    alphabet are ignored. BINARY.SIZE is the size of the decoded octets (RFC 3516 §4.2)."""
    c = await _drafts(raw_imap, mailbox, ENCODINGS)
    n = len(QP_DECODED)
    assert await _fetch(c, "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])") == (
        b"* 1 FETCH (BINARY.SIZE[1] %d BINARY[1] {%d}\r\n" % (n, n) + QP_DECODED + b")\r\n"
    )
    assert n == 65  # as Dovecot and imaptest count
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[1]<15.10>)") == (
        b"* 1 FETCH (BINARY[1]<15> {10}\r\n" + QP_DECODED[15:25] + b")\r\n"
    )
    octets = base64.b64decode(b"AAECAwQUJD==")  # 7 octets, NUL among them: a literal8
    assert await _fetch(c, "FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])") == (
        b"* 1 FETCH (BINARY.SIZE[2] 7 BINARY[2] ~{7}\r\n" + octets + b")\r\n"
    )
    # an 8bit part is sent as it is, in a plain literal (no NUL: RFC 3516 §4.3)
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[3])") == (
        b"* 1 FETCH (BINARY[3] {5}\r\ncaf\xc3\xa9)\r\n"
    )
    unknown = await c.command("g FETCH 1 (BINARY.PEEK[4])")
    assert unknown.tagged.startswith(b"g NO [UNKNOWN-CTE]")  # RFC 3516 §4.2
    assert (await c.command("h FETCH 1 (BODY.PEEK[4])")).tagged.startswith(b"h OK")
    assert (await c.command("i FETCH 1 (BINARY.PEEK[1.MIME])")).tagged.startswith(b"i BAD")


async def test_binary_of_a_whole_message_decodes_each_leaf(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """BINARY[] (and BINARY of a message/rfc822 part) is the entity with every leaf decoded and
    marked ``Content-Transfer-Encoding: binary``, as Dovecot answers; BINARY.SIZE[] its size."""
    message = b"From: a@x.fr\r\nContent-Transfer-Encoding: base64\r\nSubject: s\r\n\r\naGVsbG8=\r\n"
    c = await _drafts(raw_imap, mailbox, message)
    whole = b"From: a@x.fr\r\nSubject: s\r\nContent-Transfer-Encoding: binary\r\n\r\nhello"
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])") == (
        b"* 1 FETCH (BINARY[] {%d}\r\n" % len(whole)
        + whole
        + b" BINARY.SIZE[] %d)\r\n" % len(whole)
    )
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[]<14.9>)") == (
        b"* 1 FETCH (BINARY[]<14> {9}\r\nSubject: )\r\n"
    )


async def test_appended_binary_content_is_stored_in_base64_and_binary_returns_it(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3516 §4.4: a literal8 APPEND of binary content (NUL octets) is stored with a CTE of
    the base protocol, which BODYSTRUCTURE and BODY show (§6); BINARY returns the octets in a
    literal8 (§4.3), never a NUL inside a plain literal."""
    content = b"\x00-\xe4\r\n\x00"
    message = (
        b"From: a@x.fr\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n" + content
    )
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    answer = await c.command(b"b APPEND Drafts ~{%d+}\r\n" % len(message) + message)
    assert answer.tagged.startswith(b"b OK"), answer
    await c.command("c SELECT Drafts")
    encoded = base64.b64encode(content)
    assert await _fetch(c, "FETCH 1 (BODYSTRUCTURE BODY.PEEK[1])") == (
        b'* 1 FETCH (BODYSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" %d NIL '
        b"NIL NIL NIL) BODY[1] {%d}\r\n" % (len(encoded), len(encoded)) + encoded + b")\r\n"
    )
    assert await _fetch(c, "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])") == (
        b"* 1 FETCH (BINARY[1] ~{6}\r\n" + content + b" BINARY.SIZE[1] 6)\r\n"
    )


async def test_nul_octets_of_a_delivered_message(
    raw_imap: RawOpener, mailbox: Mailbox, storage: Storage, seeded: Seeded
) -> None:
    """RFC 9051 §4.3: a literal holds no NUL. BODY sections show each as 0x80 (Dovecot's
    answer; RFC822.SIZE still holds); BINARY sends the octets in a literal8 (RFC 3516 §4.3)."""
    message = b"From: a@x.fr\r\nSubject: nul\r\n\r\nhello\x00world\r\n"
    await deliver(storage, seeded, message)
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    await c.command("b EXAMINE INBOX")
    uid_search = await c.command("c UID SEARCH SUBJECT nul")
    uid = uid_search.untagged[0].split()[-1].decode()
    replaced = message.replace(b"\x00", b"\x80")
    line = await _fetch(c, f"UID FETCH {uid} (RFC822.SIZE BODY.PEEK[] BINARY.PEEK[1])")
    assert line.endswith(
        b"RFC822.SIZE %d BODY[] {%d}\r\n" % (len(message), len(message))
        + replaced
        + b" BINARY[1] ~{13}\r\nhello\x00world\r\n)\r\n"
    )
    text = await _fetch(c, f"UID FETCH {uid} (BODY.PEEK[TEXT] BINARY.PEEK[1]<5.3>)")
    assert text.endswith(b"BODY[TEXT] {13}\r\nhello\x80world\r\n BINARY[1]<5> ~{3}\r\n\x00wo)\r\n")


async def test_envelope_keeps_routes_and_groups(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 9051 §7.5.2: an address's route goes in its adl field; a group is its start
    ``(NIL NIL name NIL)``, its members, then ``(NIL NIL NIL NIL)``."""
    message = (
        b"From: Joe <@r1.example,@r2.example:joe@x.fr>\r\nTo: undisclosed-recipients:;\r\n"
        b"Cc: Equipe: a@x.fr, c@y.fr (Dr C);\r\nSubject: s\r\n\r\nx\r\n"
    )
    c = await _drafts(raw_imap, mailbox, message)
    joe = b'(("Joe" "@r1.example,@r2.example" "joe" "x.fr"))'
    assert await _fetch(c, "FETCH 1 (ENVELOPE)") == (
        b'* 1 FETCH (ENVELOPE (NIL "s" ' + joe + b" " + joe + b" " + joe + b" "
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) '
        b'((NIL NIL "Equipe" NIL)(NIL NIL "a" "x.fr")("Dr C" NIL "c" "y.fr")(NIL NIL NIL NIL)) '
        b"NIL NIL NIL))\r\n"
    )


async def test_uids_beyond_32_bits_are_bad_and_missing_uids_answer_nothing(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 9051 §9: a UID is an nz-number, below 2^32: a larger number is a syntax error (BAD);
    UID FETCH of valid UIDs no message has answers OK with no data (§6.4.9)."""
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    await c.command("b EXAMINE INBOX")
    for tag, numbers in (("c", "99999999999999999999"), ("d", "4294967296"), ("e", "1:4294967296")):
        answer = await c.command(f"{tag} UID FETCH {numbers} (FLAGS)")
        assert answer.untagged == [] and answer.tagged.startswith(f"{tag} BAD".encode()), answer
    for tag, numbers in (("f", "4294967295"), ("g", "1000:2000")):
        answer = await c.command(f"{tag} UID FETCH {numbers} (FLAGS)")
        assert answer.untagged == [] and answer.tagged.startswith(f"{tag} OK".encode()), answer
    answer = await c.command("h FETCH 4294967296 (FLAGS)")
    assert answer.tagged.startswith(b"h BAD"), answer
    assert (await c.command("i NOOP")).tagged.startswith(b"i OK")  # the session goes on


async def test_a_large_message_is_cut_into_sections_like_a_small_one(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """Above fetch.OFFLOAD_BYTES the sections are computed in a worker thread: same answers."""
    blob = bytes(range(256)) * 8192  # 2 MiB
    encoded = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    message = (
        b"From: a@x.fr\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: text/plain\r\n\r\nvoir la pi\xc3\xa8ce jointe\r\n"
        b"--z\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + encoded
        + b"--z--\r\n"
    )
    c = await _drafts(raw_imap, mailbox, message)
    assert await _fetch(c, "FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2]<1023.4> BODY.PEEK[1])") == (
        b"* 1 FETCH (BINARY.SIZE[2] %d BINARY[2]<1023> ~{4}\r\n" % len(blob)
        + blob[1023:1027]
        + b" BODY[1] {21}\r\nvoir la pi\xc3\xa8ce jointe)\r\n"
    )
