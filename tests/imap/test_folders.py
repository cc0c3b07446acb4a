"""CREATE, DELETE, RENAME, SUBSCRIBE/LSUB and CHILDREN; UIDVALIDITY never reused for a name."""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_folder_lifecycle(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> dict[str, object]:
        c = imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls, timeout=10)
        c.login(mailbox.address, mailbox.password)
        out: dict[str, object] = {}
        out["create"] = c.create("Cardiologie")
        out["create_child"] = c.create("Cardiologie/2026")
        out["again"] = c.create("Cardiologie")
        out["inbox"] = c.create("INBOX")
        out["wild"] = c.create("a*b")
        out["list"] = c.list()[1]
        c.select("INBOX")
        c.copy("1", "Cardiologie/2026")
        out["validity1"] = c.status("Cardiologie/2026", "(UIDVALIDITY MESSAGES)")[1][0]
        out["rename"] = c.rename("Cardiologie", "Cardio")
        out["after_rename"] = c.list('""', "Cardio*")[1]
        out["rename_inbox"] = c.rename("INBOX", "Old")
        out["delete_default"] = c.delete("Trash")
        out["unsubscribe"] = c.unsubscribe("Archive")
        out["lsub"] = c.lsub()[1]
        out["delete"] = c.delete("Cardio/2026")
        c.create("Cardio/2026")
        out["validity2"] = c.status("Cardio/2026", "(UIDVALIDITY MESSAGES)")[1][0]
        out["delete_missing"] = c.delete("Nope")
        c.logout()
        return out

    out = await asyncio.to_thread(session)
    assert out["create"][0] == "OK" and out["create_child"][0] == "OK"  # type: ignore[index]
    assert out["again"][0] == "NO" and b"ALREADYEXISTS" in out["again"][1][0]  # type: ignore[index]
    assert out["inbox"][0] == "NO" and out["wild"][0] == "NO"  # type: ignore[index]
    listing = b"\n".join(out["list"])  # type: ignore[arg-type]
    assert b'(\\HasChildren) "/" "Cardiologie"' in listing
    assert b'(\\HasNoChildren) "/" "Cardiologie/2026"' in listing
    assert out["rename"][0] == "OK"  # type: ignore[index]
    renamed = b"\n".join(out["after_rename"])  # type: ignore[arg-type]
    assert b'"Cardio"' in renamed and b'"Cardio/2026"' in renamed
    assert out["rename_inbox"][0] == "NO" and out["delete_default"][0] == "NO"  # type: ignore[index]
    subscribed = b"\n".join(out["lsub"])  # type: ignore[arg-type]
    assert b'"INBOX"' in subscribed and b'"Archive"' not in subscribed
    assert out["delete"][0] == "OK" and out["delete_missing"][0] == "NO"  # type: ignore[index]
    v1 = int(re.search(rb"UIDVALIDITY (\d+)", out["validity1"]).group(1))  # type: ignore[arg-type, union-attr]
    v2 = int(re.search(rb"UIDVALIDITY (\d+)", out["validity2"]).group(1))  # type: ignore[arg-type, union-attr]
    assert v2 > v1  # a re-created name gets a new UIDVALIDITY even within the same second
    assert b"MESSAGES 0" in out["validity2"]  # type: ignore[operator]


async def test_list_extended_and_list_status(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=client_tls)
    await reader.readline()

    async def command(line: str) -> list[bytes]:
        tag = line.split()[0].encode()
        writer.write(line.encode() + b"\r\n")
        out = []
        while True:
            reply = await asyncio.wait_for(reader.readline(), 10)
            out.append(reply)
            if reply.startswith(tag + b" "):
                return out

    await command(f"a LOGIN {mailbox.address} {mailbox.password}")
    await command("b UNSUBSCRIBE Archive")
    replies = await command('c LIST "" (INBOX Sent) RETURN (STATUS (MESSAGES UNSEEN))')
    assert replies[:4] == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n',
        b'* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)\r\n',
        b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"\r\n',
        b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)\r\n',
    ]
    subscribed = b"".join(await command('d LIST (SUBSCRIBED) "" "*"'))
    assert b'\\Subscribed) "/" "INBOX"' in subscribed and b'"Archive"' not in subscribed
    special = b"".join(await command('e LIST (SPECIAL-USE) "" "*"'))
    assert b'"INBOX"' not in special and b"\\Trash" in special
    for bad in ('f LIST (BOGUS) "" "*"', 'g LIST "" "*" RETURN (STATUS (COLOR))'):
        assert (await command(bad))[-1].split()[1] == b"BAD"
    writer.close()
