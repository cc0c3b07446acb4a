"""Two sessions on one folder: when the changes of one reach the other (RFC 3501 §7.4.1,
RFC 9051 §7.5.1), and the content of a message one expunges while the other still shows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from espace_sante.mailbox.imap.mailstore import EXPUNGED_BLOB_GRACE, sweep_orphaned_blobs
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Blob, Folder, Message
from fixtures.seed import Seeded

from .conftest import Mailbox
from .raw import Literal, RawImap, RawOpener


async def _session(raw_imap: RawOpener, mailbox: Mailbox) -> RawImap:
    """A new connection, logged in (tag "a")."""
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    return c


async def _expunge_first(a: RawImap, tag: str) -> None:
    await a.command(f"{tag}1 STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert (await a.command(f"{tag}2 EXPUNGE")).lines[0] == b"* 1 EXPUNGE\r\n"


async def test_noop_after_own_store_reports_the_other_sessions_expunge(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §7.4.1: the EXPUNGE held back during B's STORE comes with B's next NOOP,
    although B's own STORE moved the folder's modseq past A's expunge."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await _expunge_first(a, "c")
    assert (await b.command("c STORE 2 +FLAGS (\\Seen)")).lines == [
        b"* 2 FETCH (FLAGS (\\Seen))\r\n",
        b"c OK [EXPUNGEISSUED] STORE completed; some messages were expunged\r\n",
    ]
    assert (await b.command("d NOOP")).lines == [b"* 1 EXPUNGE\r\n", b"d OK NOOP completed\r\n"]
    assert (await b.command("e CHECK")).lines == [b"e OK CHECK completed\r\n"]  # told once
    assert (await b.command("f FETCH 1 (UID FLAGS)")).lines[
        0
    ] == b"* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n"


async def test_expunges_wait_for_a_command_that_may_carry_them(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH (nor SORT, which numbers
    messages the same way); UID FETCH, UID STORE and UID SEARCH may carry one, as Dovecot's
    do, and so do NOOP and CHECK."""
    cases = [
        ("FETCH 1 (FLAGS)", False),
        ("STORE 1 +FLAGS.SILENT (\\Flagged)", False),
        ("SEARCH ALL", False),
        ("SORT (ARRIVAL) UTF-8 ALL", False),
        ("UID FETCH 1:* (FLAGS)", True),
        ("UID STORE 1:* +FLAGS.SILENT (\\Answered)", True),
        ("UID SEARCH ALL", True),
        ("NOOP", True),
        ("CHECK", True),
    ]
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    for n in range(len(cases) - 1):
        await a.command(f"p{n} APPEND INBOX ", Literal(f"Subject: {n}\r\n\r\n".encode()))
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    for n, (command, carries) in enumerate(cases):
        await _expunge_first(a, f"x{n}")
        lines = (await b.command(f"y{n} {command}")).lines
        assert (b"* 1 EXPUNGE\r\n" in lines) is carries, (command, lines)
        held = lines[-1].startswith(f"y{n} OK [EXPUNGEISSUED]".encode())
        assert held is not carries, (command, lines)
        if not carries:
            assert (await b.command(f"z{n} NOOP")).lines == [
                b"* 1 EXPUNGE\r\n",
                f"z{n} OK NOOP completed\r\n".encode(),
            ]
    assert (await b.command("e FETCH 1:* (UID)")).lines == [
        b"* 1 FETCH (UID 10)\r\n",
        b"e OK FETCH completed\r\n",
    ]


async def test_flag_changes_of_another_session_come_with_any_command(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §7.4.1: flag changes (unlike expunges) may be sent during FETCH, STORE and
    SEARCH too; each is reported once."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await a.command("c STORE 2 +FLAGS (\\Flagged)")
    assert (await b.command("c FETCH 1 (UID)")).lines == [
        b"* 1 FETCH (UID 1)\r\n",
        b"* 2 FETCH (FLAGS (\\Flagged) UID 2)\r\n",
        b"c OK FETCH completed\r\n",
    ]
    await a.command("d STORE 1 +FLAGS (\\Answered)")
    assert (await b.command("d SEARCH ALL")).lines == [
        b"* SEARCH 1 2\r\n",
        b"* 1 FETCH (FLAGS (\\Answered) UID 1)\r\n",
        b"d OK SEARCH completed\r\n",
    ]
    assert (await b.command("e NOOP")).lines == [b"e OK NOOP completed\r\n"]


async def _blob_of(storage: Storage, account_id: int, folder: str, uid: int) -> str:
    async with storage.sessions() as s:
        return (
            await s.execute(
                select(Message.blob_id)
                .join(Folder, Folder.id == Message.folder_id)
                .where(Message.account_id == account_id, Folder.name == folder, Message.uid == uid)
            )
        ).scalar_one()


async def _orphaned_at(storage: Storage, blob_id: str) -> datetime | None:
    async with storage.sessions() as s:
        blob = await s.get(Blob, blob_id)
        assert blob is not None
        return blob.orphaned_at


async def test_a_message_expunged_elsewhere_stays_readable_until_told(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    """The race of issue 9, item 16: A expunges, B (not told yet: FETCH may not say so)
    fetches the body. B gets the message (RFC 2180 §4.1.1), with [EXPUNGEISSUED] on the tagged
    OK (RFC 9051 §7.1), and the EXPUNGE at its next NOOP."""
    account = seeded.active.account_id
    blob_id = await _blob_of(storage, account, "INBOX", 1)
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    size = int(
        re.findall(rb"RFC822.SIZE (\d+)", (await b.command("c FETCH 1 RFC822.SIZE")).lines[0])[0]
    )
    await _expunge_first(a, "c")
    assert await _orphaned_at(storage, blob_id) is not None
    assert storage.blobs.path_for(account, blob_id).exists()
    lines = (await b.command("d FETCH 1 (BODY[])")).lines
    body = b"".join(lines[:-1])
    assert body.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % size), lines[:3]
    assert b"Subject: Compte rendu" in body
    assert lines[-1] == b"d OK [EXPUNGEISSUED] FETCH completed; some messages were expunged\r\n"
    assert (await b.command("e NOOP")).lines == [b"* 1 EXPUNGE\r\n", b"e OK NOOP completed\r\n"]
    # the sweep keeps the blob for EXPUNGED_BLOB_GRACE, then deletes the row and the file
    assert await sweep_orphaned_blobs(storage, datetime.now(UTC) - EXPUNGED_BLOB_GRACE) == 0
    assert storage.blobs.path_for(account, blob_id).exists()
    assert await sweep_orphaned_blobs(storage, datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert not storage.blobs.path_for(account, blob_id).exists()
    async with storage.sessions() as s:
        assert await s.get(Blob, blob_id) is None


async def test_after_the_sweep_a_stale_fetch_is_refused_with_expungeissued(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    """A session that has not been told of an expunge for longer than the grace period gets
    ``NO [EXPUNGEISSUED]`` for the content (RFC 2180 §4.1.2, RFC 9051 §7.1), never SERVERBUG;
    what it holds in memory (FLAGS, UID) is still answered."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await _expunge_first(a, "c")
    assert await sweep_orphaned_blobs(storage, datetime.now(UTC) + timedelta(seconds=1)) == 1
    lines = (await b.command("d FETCH 1 (BODY.PEEK[])")).lines
    assert lines == [b"d NO [EXPUNGEISSUED] some messages no longer exist\r\n"]
    assert (await b.command("e FETCH 1 (UID)")).lines == [
        b"* 1 FETCH (UID 1)\r\n",
        b"e OK [EXPUNGEISSUED] FETCH completed; some messages were expunged\r\n",
    ]
    # a UID command may carry the EXPUNGE: the client's retry then succeeds
    assert (await b.command("f UID FETCH 1:* (BODY.PEEK[])")).lines == [
        b"* 1 EXPUNGE\r\n",
        b"f NO [EXPUNGEISSUED] some messages no longer exist\r\n",
    ]
    lines = (await b.command("g UID FETCH 1:* (BODY.PEEK[])")).lines
    assert lines[0].startswith(b"* 1 FETCH (UID 2 BODY[] {") and lines[-1].startswith(b"g OK")


async def test_a_blob_still_used_by_a_copy_is_never_orphaned(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    """COPY shares the blob: expunging the original leaves it in use, untouched by the sweep."""
    account = seeded.active.account_id
    blob_id = await _blob_of(storage, account, "INBOX", 1)
    a = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await a.command("c COPY 1 Archive")
    await _expunge_first(a, "d")
    assert await _orphaned_at(storage, blob_id) is None
    assert await sweep_orphaned_blobs(storage, datetime.now(UTC) + timedelta(seconds=1)) == 0
    await a.command("e SELECT Archive")
    assert b"Subject: Compte rendu" in (await a.command("f FETCH 1 (BODY.PEEK[])")).joined


async def test_a_deleted_folder_stays_readable_by_the_session_that_has_it_open(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    """DELETE of a folder another session has selected: that session still reads what it
    shows until it is told the messages are gone."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b CREATE Projets")
    await a.command("c SELECT INBOX")
    await a.command("d MOVE 1 Projets")
    await b.command("b SELECT Projets")
    assert (await a.command("e DELETE Projets")).lines[-1].startswith(b"e OK")
    lines = (await b.command("c FETCH 1 (BODY.PEEK[])")).lines
    assert b"Subject: Compte rendu" in b"".join(lines)
    assert lines[-1].startswith(b"c OK [EXPUNGEISSUED]")
    assert (await b.command("d NOOP")).lines == [
        b"* 1 EXPUNGE\r\n",
        b"* 0 RECENT\r\n",  # B's SELECT had taken the \Recent of the moved message
        b"d OK NOOP completed\r\n",
    ]
