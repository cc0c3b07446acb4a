"""Commands of any state and session-wide ones: CAPABILITY, ENABLE (IMAP4rev2, RFC 9051, next to
IMAP4rev1), ID, NAMESPACE, NOOP, LOGOUT, IDLE waking up on a delivery. NOOP announcing new mail
is in test_session_imaplib, ENABLE CONDSTORE in test_condstore."""

from __future__ import annotations

import asyncio
import imaplib
import ssl

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver
from .raw import RawOpener


async def test_capability_and_enable(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    s = await raw_imap()
    caps = (await s.command("a CAPABILITY")).lines[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    await s.login(mailbox.address, mailbox.password, tag="b")
    await s.command("c SELECT INBOX")
    enabled = await s.command("e ENABLE IMAP4rev2 NOSUCHTHING")
    assert enabled.lines[0] == b"* ENABLED IMAP4rev2\r\n"
    # already on: still listed (RFC 9051 §7.2.1, as Dovecot)
    assert (await s.command("f ENABLE IMAP4rev2")).lines[0] == b"* ENABLED IMAP4rev2\r\n"


async def test_imaplib_still_speaks_rev1(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """Python's imaplib never enables IMAP4rev2: it must keep getting SEARCH and RECENT."""

    def run() -> tuple[list[bytes], list[bytes]]:
        with imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls) as c:
            c.login(mailbox.address, mailbox.password)
            c.select("INBOX")
            recent = c.response("RECENT")[1]
            _, found = c.search(None, "ALL")
            return recent, found

    recent, found = await asyncio.to_thread(run)
    assert recent == [b"2"]  # delivered, never selected before
    assert found == [b"1 2"]


async def test_idle_reports_a_delivery_as_it_happens(
    raw_imap: RawOpener, mailbox: Mailbox, storage: Storage, seeded: Seeded
) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password, tag="a1")
    await c.command("a2 SELECT INBOX")
    assert (await c.command("a3 IDLE", continuation=True)).tagged.startswith(b"+ ")
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))
    assert await c.readline() == b"* 3 EXISTS\r\n"
    assert await c.readline() == b"* 3 RECENT\r\n"  # this session takes it (RFC 3501 §2.3.2)
    await c.send(b"DONE\r\n")
    assert (await c.readline()).startswith(b"a3 OK")


async def test_id_namespace_noop_and_logout(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    c = await raw_imap()
    ident = await c.command('a ID ("name" "pytest")')
    assert ident.untagged == [b'* ID ("name" "espace-sante" "vendor" "espace-sante")\r\n']
    assert ident.tagged.startswith(b"a OK")
    assert (await c.command("b NAMESPACE")).tagged.startswith(b"b BAD")  # log in first
    await c.login(mailbox.address, mailbox.password, tag="c")
    namespace = await c.command("d NAMESPACE")
    assert namespace.untagged == [b'* NAMESPACE (("" "/")) NIL NIL\r\n']
    assert namespace.tagged.startswith(b"d OK")
    assert (await c.command("e NOOP")).tagged.startswith(b"e OK")
    assert (await c.command("f NOOP now")).tagged.startswith(b"f BAD")  # no arguments
    bye = await c.command("g LOGOUT")
    assert bye.untagged == [b"* BYE logging out\r\n"] and bye.tagged.startswith(b"g OK")
    assert await c.read_to_end() == b""  # and the server closes the connection
