"""aioimaplib (the webmail's client) and imap-tools against our server."""

from __future__ import annotations

import asyncio
import ssl

import aioimaplib
import pytest
from imap_tools import AND, MailBox

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_aioimaplib_reads_and_flags(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    client = aioimaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(mailbox.address, mailbox.password)).result == "OK"
    selected = await client.select("INBOX")
    assert selected.result == "OK" and b"2 EXISTS" in selected.lines
    fetched = await client.uid("fetch", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert fetched.result == "OK"
    text = b"".join(line for line in fetched.lines if isinstance(line, bytes | bytearray))
    assert b"Subject: Compte rendu" in text and b"Subject: Ordonnance" in text
    body = await client.fetch("2", "(BODY.PEEK[])")
    assert bytes(body.lines[1]) == mailbox.messages[1]
    stored = await client.uid("store", "1", "+FLAGS", "(\\Flagged)")
    assert stored.result == "OK"
    found = await client.search("FLAGGED")
    assert found.result == "OK" and found.lines[0] == b"1"
    await client.logout()


async def test_imap_tools_fetch_and_search(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> tuple[list[str], list[str], list[str]]:
        with MailBox("127.0.0.1", port=imap.tls_port, ssl_context=client_tls).login(
            mailbox.address, mailbox.password, initial_folder="INBOX"
        ) as box:
            subjects = [m.subject for m in box.fetch(mark_seen=False)]
            attachments = [
                a.filename for m in box.fetch(AND(subject="Ordonnance")) for a in m.attachments
            ]
            folders = [f.name for f in box.folder.list()]
        return subjects, attachments, folders

    subjects, attachments, folders = await asyncio.to_thread(session)
    assert subjects == ["Compte rendu", "Ordonnance"]
    assert attachments and attachments[0].endswith(".pdf")
    assert {"INBOX", "Sent", "Drafts", "Trash", "Archive"} <= set(folders)
