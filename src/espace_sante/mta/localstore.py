"""Filing a message into one of our own accounts' folders: the copy in Sent of a submitted
message, and a delivery status notification for a local sender.

The blob is written (encrypted, fsync'd) before the transaction; :func:`file_message` adds the
rows inside the caller's transaction, so the folder entry commits with whatever caused it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.mailbox import imapmeta
from espace_sante.mailbox.store import StoredMessage, append_message
from espace_sante.storage.blobs import StoredBlob
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Blob


@dataclass(frozen=True)
class PreparedCopy:
    """A message ready to be filed for one account: its blob is on disk, its metadata computed."""

    account_id: int
    blob: StoredBlob
    meta_json: str
    message_id: str | None
    sender: str
    subject: str
    sent_date: datetime | None


async def prepare_copy(storage: Storage, account_id: int, raw: bytes) -> PreparedCopy:
    """Write ``raw`` as ``account_id``'s encrypted blob and compute its IMAP metadata."""
    meta = await asyncio.to_thread(imapmeta.compute_meta, raw)
    async with storage.sessions() as session:
        cipher = await storage.cipher_for(session, account_id)
    blob = await storage.blobs.put(account_id, cipher, raw)
    headers = _header_block(raw)
    return PreparedCopy(
        account_id=account_id,
        blob=blob,
        meta_json=imapmeta.to_json(meta),
        message_id=headers.get("message-id"),
        sender=_first_address(headers.get("from", "")),
        subject=headers.get("subject", ""),
        sent_date=_date(headers.get("date")),
    )


async def file_message(
    session: AsyncSession,
    copy: PreparedCopy,
    *,
    folder: str,
    flags: str = "",
    at: datetime | None = None,
) -> StoredMessage:
    """Add the prepared copy to ``folder`` inside the caller's transaction."""
    at = at or datetime.now(UTC)
    session.add(
        Blob(
            id=copy.blob.id,
            account_id=copy.account_id,
            size=copy.blob.size,
            sha256=copy.blob.sha256,
            created_at=at,
        )
    )
    return await append_message(
        session,
        account_id=copy.account_id,
        folder_name=folder,
        blob_id=copy.blob.id,
        size=copy.blob.size,
        meta_json=copy.meta_json,
        internal_date=at,
        flags=flags,
        message_id_header=copy.message_id,
        sender=copy.sender,
        subject=copy.subject,
        sent_date=copy.sent_date,
    )


def discard_copy(storage: Storage, copy: PreparedCopy) -> None:
    """Remove the blob of a copy whose transaction did not commit."""
    storage.blobs.delete_sync(copy.account_id, copy.blob.id)


def _header_block(raw: bytes) -> dict[str, str]:
    """The first value of each header (unfolded, RFC 2047 words decoded), lower-case names."""
    from email import policy
    from email.parser import BytesHeaderParser

    parsed = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    found: dict[str, str] = {}
    for name in ("message-id", "from", "subject", "date"):
        try:
            value = parsed.get(name)
        except Exception:  # a header the parser cannot make sense of
            value = None
        if value is not None:
            found[name] = " ".join(str(value).split())
    return found


def _first_address(text: str) -> str:
    for _, addr in getaddresses([text]):
        if "@" in addr:
            return addr.lower()
    return ""


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
