"""Folder counts in one command: LIST … RETURN (STATUS (MESSAGES UNSEEN)) (RFC 5819) against our
own IMAP server, agreeing with the STATUS-per-folder fallback."""

from __future__ import annotations

import re
from typing import Any

from espace_sante.webmail.mail.imap_client import FOLDERS, ImapMailbox, open_mailbox

from .conftest import Filled, Web


def _record_commands(box: ImapMailbox) -> list[str]:
    """The names of the commands the session sends (the server still answers each)."""
    sent: list[str] = []
    run = box._run

    async def recording(name: str, *args: str, uid: bool = False) -> Any:
        sent.append(name)
        return await run(name, *args, uid=uid)

    box._run = recording  # type: ignore[method-assign]
    return sent


async def test_one_list_status_command_gives_the_same_counts_as_status(
    web: Web, filled: Filled
) -> None:
    account = web.account
    async with open_mailbox(web.settings, account.account_id, account.address) as box:
        assert "LIST-STATUS" in box.capabilities
        sent = _record_commands(box)
        await box.fetch_message("INBOX", (await box.sorted_uids("INBOX"))[0])  # one seen
        await box.move("INBOX", (await box.sorted_uids("INBOX"))[-1], "Trash")
        sent.clear()
        one_command = await box.folders()
        assert sent == ["LIST"]
        box.capabilities = frozenset()  # as against a server without RFC 5819
        sent.clear()
        per_folder = await box.folders()
        assert sent == ["STATUS"] * len(FOLDERS)
    assert one_command == per_folder
    counts = {f.name: (f.messages, f.unseen) for f in one_command}
    assert counts["INBOX"] == (5, 4) and counts["Trash"] == (1, 1)
    assert counts["Sent"] == counts["Drafts"] == counts["Archive"] == (0, 0)
    assert [f.name for f in one_command] == list(FOLDERS)


async def test_the_folders_page_and_a_later_status_after_list_status(
    web: Web, filled: Filled
) -> None:
    r = await web.client.get("/mail/dossiers")
    assert r.status_code == 200
    row = re.search(r"Boîte de réception</a></th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>", r.text)
    assert row is not None and row.groups() == ("6", "6")
    account = web.account
    async with open_mailbox(web.settings, account.account_id, account.address) as box:
        await box.folders()
        # the collector is gone: a STATUS afterwards is answered as usual
        responses = await box._run("STATUS", '"INBOX"', "(MESSAGES)")
        assert responses and responses[-1][-1] == ["MESSAGES", "6"]
