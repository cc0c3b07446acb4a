"""curl as an IMAP client: imaps:// and imap:// with STARTTLS required."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.store_queries import inbox

from .conftest import Mailbox

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


async def _curl(pki: DevPki, mailbox: Mailbox, url: str, *extra: str) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "--max-time", "20", "--cacert", str(pki.ca_cert),
        "-u", f"{mailbox.address}:{mailbox.password}", *extra, url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out


async def test_curl_fetches_a_message_byte_for_byte(
    imap: ImapListener, pki: DevPki, mailbox: Mailbox, storage: Storage, seeded
) -> None:
    rows = await inbox(storage, seeded.active.account_id)
    url = f"imaps://localhost:{imap.tls_port}/INBOX;UID={rows[1].uid}"
    code, body = await _curl(pki, mailbox, url)
    assert code == 0 and body == mailbox.messages[1]


async def test_curl_lists_folders_over_starttls(
    imap: ImapListener, pki: DevPki, mailbox: Mailbox
) -> None:
    code, listing = await _curl(pki, mailbox, f"imap://localhost:{imap.port}/", "--ssl-reqd")
    assert code == 0
    assert b'"INBOX"' in listing and b"\\Trash" in listing


async def test_curl_with_a_wrong_password_fails(
    imap: ImapListener, pki: DevPki, mailbox: Mailbox
) -> None:
    bad = Mailbox(mailbox.address, "aaaa-bbbb-cccc-dddd", [], "", "")
    code, _ = await _curl(pki, bad, f"imaps://localhost:{imap.tls_port}/INBOX;UID=1")
    assert code == 67  # curl: login denied
