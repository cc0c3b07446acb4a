"""mbsync (Debian's isync) synchronising a patient's INBOX both ways, twice, with no differences:
new mail on each side, flags changed on each side, a deletion propagated."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded
from fixtures.store_queries import inbox

from .conftest import Mailbox, deliver

pytestmark = pytest.mark.peer
MBSYNC = shutil.which("mbsync")


def _config(root: Path, imap: ImapListener, pki: DevPki, mailbox: Mailbox) -> Path:
    (root / "mail").mkdir()
    config = root / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount patient
Host localhost
Port {imap.tls_port}
User {mailbox.address}
Pass {mailbox.password}
SSLType IMAPS
CertificateFile {pki.ca_cert}

IMAPStore remote
Account patient

MaildirStore local
Path {root}/mail/
Inbox {root}/mail/INBOX
SubFolders Verbatim

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Create Near
Expunge Both
Sync All
SyncState *
"""
    )
    return config


async def _sync(config: Path, home: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        MBSYNC or "mbsync", "-c", str(config), "-V", "inbox",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    return text


def _local(root: Path) -> dict[bytes, str]:
    """Message-ID → maildir flags of every local message."""
    found = {}
    for sub in ("cur", "new"):
        for path in (root / "mail" / "INBOX" / sub).iterdir():
            raw = path.read_bytes()
            mid = next(
                line.split(b":", 1)[1].strip()
                for line in raw.split(b"\r\n\r\n", 1)[0].splitlines()
                if line.lower().startswith(b"message-id:")
            )
            flags = path.name.split(":2,", 1)[1] if ":2," in path.name else ""
            found[mid] = flags
    return found


async def _remote(storage: Storage, account_id: int) -> dict[bytes, str]:
    letters = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R", "\\Deleted": "T", "\\Draft": "D"}
    out = {}
    for m in await inbox(storage, account_id):
        assert m.message_id_header is not None
        flags = "".join(sorted(letters[f] for f in m.flags.split() if f in letters))
        out[m.message_id_header.encode()] = flags
    return out


@pytest.mark.skipif(
    MBSYNC is None, reason="Debian's isync is not installed (make test installs it)"
)
async def test_two_way_sync_twice_without_differences(
    imap: ImapListener, pki: DevPki, mailbox: Mailbox, storage: Storage, seeded: Seeded,
    tmp_path: Path,
) -> None:  # fmt: skip
    config = _config(tmp_path, imap, pki, mailbox)
    account = seeded.active.account_id
    await _sync(config, tmp_path)
    assert _local(tmp_path) == await _remote(storage, account)
    assert len(_local(tmp_path)) == 2

    # on the phone: read the first message, flag it; write a draft note
    box = tmp_path / "mail" / "INBOX"
    first = sorted([*(box / "new").iterdir(), *(box / "cur").iterdir()])[0]
    first.rename(box / "cur" / (first.name.split(":2,")[0] + ":2,FS"))
    note = b"From: me@example.org\r\nSubject: note\r\nMessage-ID: <note@phone>\r\n\r\nhello\r\n"
    (tmp_path / "mail" / "INBOX" / "new" / "1700000000.note.phone").write_bytes(note)
    # meanwhile the gateway delivers a new message
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))

    await _sync(config, tmp_path)
    local, remote = _local(tmp_path), await _remote(storage, account)
    assert local == remote
    assert len(remote) == 4 and remote[b"<note@phone>"] == ""
    assert "FS" in remote.values()

    # on the server side (another client): delete the note and expunge
    rows = await inbox(storage, account)
    note_row = next(r for r in rows if r.message_id_header == "<note@phone>")
    from espace_sante.mailbox.imap.mailstore import AccountMailStore

    store = AccountMailStore(storage, account)
    await store.store_flags(note_row.folder_id, [note_row.uid], "+", ["\\Deleted"])
    await store.expunge(note_row.folder_id)

    await _sync(config, tmp_path)
    assert _local(tmp_path) == await _remote(storage, account)
    assert b"<note@phone>" not in _local(tmp_path)
    # a second run has nothing to do: no file and no server row changes
    files = sorted(p.name for p in (tmp_path / "mail" / "INBOX").rglob("*") if p.is_file())
    rows = [(r.uid, r.flags, r.modseq) for r in await inbox(storage, account)]
    await _sync(config, tmp_path)
    assert sorted(p.name for p in (tmp_path / "mail" / "INBOX").rglob("*") if p.is_file()) == files
    assert [(r.uid, r.flags, r.modseq) for r in await inbox(storage, account)] == rows
