"""CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST and LSUB with CHILDREN, LIST-EXTENDED and
LIST-STATUS; UIDVALIDITY never reused for a name; mailbox names in modified UTF-7 for IMAP4rev1
and in UTF-8 for IMAP4rev2 (the codec itself: test_mutf7)."""

from __future__ import annotations

import asyncio
import re
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox, imaplib_client
from .raw import RawOpener

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_folder_lifecycle(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> dict[str, object]:
        c = imaplib_client(imap, client_tls, mailbox.address, mailbox.password)
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


async def test_list_extended_and_list_status(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    await c.command("b UNSUBSCRIBE Archive")
    replies = (await c.command('c LIST "" (INBOX Sent) RETURN (STATUS (MESSAGES UNSEEN))')).lines
    assert replies[:4] == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n',
        b'* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)\r\n',
        b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"\r\n',
        b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)\r\n',
    ]
    subscribed = (await c.command('d LIST (SUBSCRIBED) "" "*"')).joined
    assert b'\\Subscribed) "/" "INBOX"' in subscribed and b'"Archive"' not in subscribed
    special = (await c.command('e LIST (SPECIAL-USE) "" "*"')).joined
    assert b'"INBOX"' not in special and b"\\Trash" in special
    for bad in ('f LIST (BOGUS) "" "*"', 'g LIST "" "*" RETURN (STATUS (COLOR))'):
        assert (await c.command(bad)).tagged.split()[1] == b"BAD"


async def test_names_are_modified_utf7_for_rev1_and_utf8_for_rev2(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    rev1 = await raw_imap()
    await rev1.login(mailbox.address, mailbox.password)
    assert (await rev1.command("b CREATE R&AOk-sultats/Biologie")).tagged.startswith(b"b OK")
    listed = (await rev1.command('c LIST "" "R*"')).lines
    assert b'* LIST (\\HasChildren) "/" "R&AOk-sultats"\r\n' in listed
    assert b'* LIST (\\HasNoChildren) "/" "R&AOk-sultats/Biologie"\r\n' in listed
    # a name that is not modified UTF-7 names no mailbox: NO, as Dovecot answers
    assert (await rev1.command("d CREATE &AOk")).tagged.startswith(b"d NO [CANNOT]")
    assert (await rev1.command("e SELECT R&AOk-sultats/Biologie")).tagged.startswith(b"e OK")

    rev2 = await raw_imap()
    await rev2.login(mailbox.address, mailbox.password)
    await rev2.command("b ENABLE IMAP4rev2")
    listed = (await rev2.command('c LIST "" "R*"')).lines
    assert '* LIST (\\HasChildren) "/" "Résultats"\r\n'.encode() in listed
    status = (await rev2.command('d STATUS "Résultats/Biologie" (MESSAGES)')).lines
    assert status[0] == '* STATUS "Résultats/Biologie" (MESSAGES 0)\r\n'.encode()
    # the same folder, whichever way it was named
    assert (await rev2.command('e CREATE "Résultats"')).tagged.startswith(b"e NO")
    renamed = await rev2.command('f RENAME "Résultats" "Comptes rendus"')
    assert renamed.tagged.startswith(b"f OK")
    listed = (await rev1.command('g LIST "" "*"')).lines
    assert b'* LIST (\\HasNoChildren) "/" "Comptes rendus/Biologie"\r\n' in listed
