"""mutt as an IMAP client, driven in batch through a pseudo-terminal (it needs one for curses).

mutt opens the INBOX over implicit TLS (verifying our development CA), pipes the first message
to a file, saves it into Archive (a UID COPY or MOVE plus a deletion) and syncs the mailbox on
quit. The test then checks the file and the store.
"""

from __future__ import annotations

import asyncio
import os
import pty
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from espace_sante.mailbox.imap.mailstore import AccountMailStore
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage

from .conftest import Mailbox

pytestmark = pytest.mark.skipif(shutil.which("mutt") is None, reason="mutt is not installed")


def _run_in_pty(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """Run ``argv`` on a pseudo-terminal, drain its output, return (exit code, screen bytes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    screen = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            import select

            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            proc.kill()
        return proc.wait(5), bytes(screen)
    finally:
        os.close(master)


async def test_mutt_reads_and_files_a_message(
    imap: ImapListener,
    pki: DevPki,
    mailbox: Mailbox,
    storage: Storage,
    seeded,
    tmp_path: Path,
) -> None:
    out = tmp_path / "piped.eml"
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        "\n".join(
            [
                f'set folder="imaps://{mailbox.address}@localhost:{imap.tls_port}/"',
                'set spoolfile="+INBOX"',
                f'set imap_user="{mailbox.address}"',
                f'set imap_pass="{mailbox.password}"',
                f'set ssl_ca_certificates_file="{pki.ca_cert}"',
                f'set certificate_file="{tmp_path / "certs"}"',
                "set ssl_verify_host=yes",
                "set ssl_force_tls=yes",
                "set sort=date",
                "set wait_key=no",
                "set confirmappend=no",
                "set delete=yes",
                "set move=no",
                "set quit=yes",
                "set mail_check=0",
                "set timeout=1",
                'set header_cache=""',
                'set message_cachedir=""',
            ]
        )
        + "\n"
    )
    keys = f"<pipe-message>cat > {out}<enter><save-message>=Archive<enter><sync-mailbox><quit>"
    env = {"HOME": str(tmp_path), "TERM": "xterm", "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    code, screen = await asyncio.to_thread(
        _run_in_pty,
        ["mutt", "-n", "-F", str(muttrc), "-e", f'push "{keys}"'],
        env,
        60,
    )
    assert code == 0, screen.decode("utf-8", "replace")[-2000:]
    piped = out.read_bytes()
    assert b"Subject: Compte rendu" in piped  # the older message sorts first

    store = AccountMailStore(storage, seeded.active.account_id)
    inbox = await store.folder("INBOX")
    archive = await store.folder("Archive")
    assert inbox is not None and archive is not None
    left = await store.messages(inbox.id)
    archived = await store.messages(archive.id)
    assert len(left) == 1 and await store.raw(left[0]) == mailbox.messages[1]
    assert len(archived) == 1
    assert await store.raw(archived[0]) == mailbox.messages[0]
