"""CONDSTORE (RFC 7162), across the command families it extends: ENABLE, SELECT (CONDSTORE) and
HIGHESTMODSEQ, FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE."""

from __future__ import annotations

import re

from .conftest import Mailbox
from .raw import RawOpener


async def test_condstore_flow(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password, tag="a1")
    assert b"* ENABLED CONDSTORE\r\n" in (await c.command("a2 ENABLE CONDSTORE")).lines
    selected = (await c.command("a3 SELECT INBOX (CONDSTORE)")).joined
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected).group(1))  # type: ignore[union-attr]
    fetched = (await c.command("a4 FETCH 1:* (MODSEQ)")).joined
    modseqs = [int(m) for m in re.findall(rb"MODSEQ \((\d+)\)", fetched)]
    assert len(modseqs) == 2 and max(modseqs) == highest
    stored = (await c.command(f"a5 STORE 1 (UNCHANGEDSINCE {highest}) +FLAGS (\\Seen)")).joined
    assert re.search(rb"\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) UID 1 MODSEQ \((\d+)\)\)", stored)
    # the same condition again fails: message 1 changed after `highest`
    again = (await c.command(f"a6 STORE 1 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)")).joined
    assert b"a6 OK [MODIFIED 1]" in again
    changed = (await c.command(f"a7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).joined
    assert changed.count(b" FETCH (") == 1 and b"MODSEQ" in changed
    assert b"a8 BAD" in (await c.command("a8 FETCH 1 (FLAGS) (CHANGEDSINCE x)")).joined
