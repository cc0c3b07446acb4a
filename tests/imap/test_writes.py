"""STORE, EXPUNGE, COPY, MOVE, APPEND (and MULTIAPPEND) with STATUS after them, CLOSE and
UNSELECT; two sessions on one mailbox see each other's changes; UIDs never repeat. STORE
UNCHANGEDSINCE: test_condstore; STORE on a saved result: test_search_sort."""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox, imaplib_client
from .raw import Literal, RawOpener

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _login(imap: ImapListener, tls: ssl.SSLContext, mailbox: Mailbox) -> imaplib.IMAP4_SSL:
    return imaplib_client(imap, tls, mailbox.address, mailbox.password)


async def test_store_expunge_copy_move_append(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> dict[str, object]:
        c = _login(imap, client_tls, mailbox)
        out: dict[str, object] = {"caps": c.capability()[1][0].split()}
        c.select("INBOX")
        out["store"] = c.store("1", "+FLAGS", "(\\Flagged $Important)")
        out["store_silent"] = c.store("2", "+FLAGS.SILENT", "(\\Seen)")
        out["flags"] = c.fetch("1:2", "(FLAGS)")
        out["bad_flag"] = _error(lambda: c.store("1", "+FLAGS", "(\\Bogus)"))
        out["copy"] = c.copy("1", "Archive")
        out["move"] = c.uid("MOVE", "2", "Trash")
        out["move_untagged"] = c.untagged_responses.pop("EXPUNGE", None)
        typ, data = c.select("INBOX")
        out["after_move"] = (typ, list(data))
        message = b"From: me@example.org\r\nSubject: brouillon\r\n\r\nnote\r\n"
        out["append"] = c.append("Drafts", "(\\Draft)", None, message)
        out["append_missing"] = c.append("Nope", None, None, message)
        out["status"] = c.status("Archive", "(MESSAGES UNSEEN UIDNEXT)")
        out["status_drafts"] = c.status("Drafts", "(MESSAGES)")
        c.store("1", "+FLAGS", "(\\Deleted)")
        out["expunge"] = c.expunge()
        typ, data = c.select("INBOX")
        out["after_expunge"] = (typ, list(data))
        c.select("Drafts")
        out["draft"] = c.fetch("1", "(FLAGS BODY.PEEK[])")
        c.logout()
        return out

    out = await asyncio.to_thread(session)
    assert {b"UIDPLUS", b"MOVE", b"NAMESPACE"} <= set(out["caps"])  # type: ignore[arg-type]
    assert b"\\Flagged \\Recent $Important" in out["store"][1][0]  # type: ignore[index]
    assert out["store_silent"][1] == [None]  # type: ignore[index]
    flags = out["flags"][1]  # type: ignore[index]
    assert b"\\Seen" in flags[1]
    assert "unknown system flag" in str(out["bad_flag"])
    assert out["copy"][0] == "OK" and b"COPYUID" in out["copy"][1][0]  # type: ignore[index]
    assert out["move"][0] == "OK"  # type: ignore[index]
    assert out["move_untagged"] == [b"2"]
    assert out["after_move"] == ("OK", [b"1"])
    assert out["append"][0] == "OK" and b"APPENDUID" in out["append"][1][0]  # type: ignore[index]
    assert out["append_missing"][0] == "NO"  # type: ignore[index]
    assert b"TRYCREATE" in out["append_missing"][1][0]  # type: ignore[index]
    assert out["status"][1][0] == b'"Archive" (MESSAGES 1 UNSEEN 1 UIDNEXT 2)'  # type: ignore[index]
    assert out["expunge"] == ("OK", [b"1"])
    assert out["after_expunge"] == ("OK", [b"0"])
    draft = out["draft"][1][0]  # type: ignore[index]
    assert b"\\Draft" in draft[0] and draft[1].endswith(b"note\r\n")


def _error(fn: object) -> str:
    try:
        fn()  # type: ignore[operator]
    except imaplib.IMAP4.error as exc:
        return str(exc)
    return "no error"


async def test_two_sessions_see_each_others_changes(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> dict[str, object]:
        a = _login(imap, client_tls, mailbox)
        b = _login(imap, client_tls, mailbox)
        a.select("INBOX")
        b.select("INBOX")
        a.store("2", "+FLAGS", "(\\Answered)")
        b.noop()
        out: dict[str, object] = {"b_fetch": b.untagged_responses.pop("FETCH", None)}
        a.store("1", "+FLAGS", "(\\Deleted)")
        a.expunge()
        b.noop()
        out["b_expunge"] = b.untagged_responses.pop("EXPUNGE", None)
        typ, data = b.select("INBOX")
        out["b_count"] = (typ, list(data))  # imaplib keeps appending to the same list
        a.append("INBOX", None, None, b"Subject: x\r\n\r\ny\r\n")
        b.noop()
        out["b_exists"] = b.untagged_responses.pop("EXISTS", None)
        out["uids"] = b.uid("FETCH", "1:*", "(UID)")
        a.logout()
        b.logout()
        return out

    out = await asyncio.to_thread(session)
    assert out["b_fetch"] and b"\\Answered" in out["b_fetch"][0]  # type: ignore[index]
    assert out["b_expunge"] == [b"1"]
    assert out["b_count"] == ("OK", [b"1"])
    assert out["b_exists"][-1] == b"2"  # type: ignore[index]  # after the SELECT's own "1"
    uids = [int(x.split(b"UID ")[1].rstrip(b")")) for x in out["uids"][1]]  # type: ignore[index]
    assert uids == [2, 3]  # the appended message took a new UID, not the expunged 1


async def test_multiappend_is_all_or_nothing(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    one, two = b"Subject: un\r\n\r\n1\r\n", b"Subject: deux\r\n\r\n2\r\n"
    ok = await c.command(
        "b APPEND Drafts (\\Draft) ",
        Literal(one),
        ' (\\Seen) "24-Nov-2026 10:00:00 +0100" ',
        Literal(two),
    )
    assert re.match(rb"b OK \[APPENDUID \d+ 1:2\]", ok.tagged), ok
    # a bad second message (empty) means neither is stored
    bad = await c.command("c APPEND Drafts ", Literal(one), " ", Literal(b""))
    assert bad.tagged.startswith(b"c NO")
    status = (await c.command("d STATUS Drafts (MESSAGES)")).joined
    assert b"MESSAGES 2" in status
    await c.send(b"e EXAMINE Drafts\r\nf FETCH 2 (FLAGS INTERNALDATE)\r\n")  # pipelined
    fetched = (await c.read_until("f")).joined
    # the same instant, in UTC, on SQLite as on PostgreSQL
    assert b"\\Seen" in fetched and b'"24-Nov-2026 09:00:00 +0000"' in fetched


async def test_append_with_a_synchronising_literal(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    message = b"Subject: synchrone\r\n\r\nattendu\r\n"
    appended = await c.command("b APPEND Drafts ", Literal(message, synchronising=True))
    assert re.match(rb"b OK \[APPENDUID \d+ 1\]", appended.tagged), appended
    await c.command("c EXAMINE Drafts")
    fetched = await c.command("d FETCH 1 (BODY.PEEK[])")
    assert fetched.untagged == [b"* 1 FETCH (BODY[] {%d}\r\n%s)\r\n" % (len(message), message)]


async def test_unselect_and_close_leave_the_selected_state(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    assert (await c.command("b CLOSE")).tagged.startswith(b"b BAD")  # nothing selected
    await c.command("c SELECT INBOX")
    assert (await c.command("d UNSELECT")).tagged.startswith(b"d OK")
    assert (await c.command("e FETCH 1 (FLAGS)")).tagged.startswith(b"e BAD")
    await c.command("f EXAMINE INBOX")
    assert (await c.command("g CLOSE")).tagged.startswith(b"g OK")
    assert (await c.command("h FETCH 1 (FLAGS)")).tagged.startswith(b"h BAD")
    assert (await c.command("i UNSELECT")).tagged.startswith(b"i BAD")
