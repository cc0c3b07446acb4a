"""What the IMAP sessions read and change in the mailbox store, always within one account."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select, update

from espace_sante import audit
from espace_sante.mailbox import imapmeta
from espace_sante.mailbox.imapmeta import MessageMeta, from_json
from espace_sante.mailbox.read_receipts import mark_read
from espace_sante.mailbox.store import DEFAULT_FOLDERS, append_message
from espace_sante.storage.blobs import BlobError
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Blob, Document, Folder, Message

#: Keywords a message may carry (system flags do not count).
MAX_KEYWORDS = 64
#: How long the content of an expunged message stays readable: another session may still show
#: the message until its next command that may report the expunge (RFC 9051 §7.5.1).
EXPUNGED_BLOB_GRACE = timedelta(hours=1)
#: Names under this prefix (a control character: no client can type one) are the store's own.
RESERVED = "\x01"
#: Deleted folders are kept under this prefix for their UIDVALIDITY.
TOMBSTONE = RESERVED + "deleted-"
#: A subscription is a name, not a folder (RFC 3501 §6.3.6, RFC 9051 §6.3.7): one whose name
#: has no folder (deleted, or renamed away) is kept as a row named with this prefix.
SUBSCRIPTION = RESERVED + "subscribed:"
#: Folder names are stored in 255 characters, a kept subscription's prefix included.
MAX_NAME = 255 - len(SUBSCRIPTION)
#: Decrypted messages kept per session (bytes).
RECENT_BYTES = 8 * 1024 * 1024
_DEFAULT_NAMES = {name for name, _ in DEFAULT_FOLDERS}


class FolderError(Exception):
    """A folder operation refused; the message starts with its response code."""


class TooManyKeywords(Exception):
    """A change would leave a message with more than :data:`MAX_KEYWORDS` keywords."""


class MessageExpunged(LookupError):
    """The message was expunged by another session and its content is gone (after
    :data:`EXPUNGED_BLOB_GRACE`): the session still shows it, the client should NOOP."""


@dataclass(frozen=True)
class FolderInfo:
    id: int
    name: str
    special_use: str | None
    uidvalidity: int
    uidnext: int
    highest_modseq: int


@dataclass
class MessageRow:
    id: int
    uid: int
    flags: list[str]
    modseq: int
    internal_date: datetime
    size: int
    blob_id: str
    meta_json: str
    #: \Recent for the session holding this row (RFC 3501 §2.3.2; IMAP4rev1 sessions only).
    recent: bool = False

    _meta: MessageMeta | None = None

    @property
    def meta(self) -> MessageMeta:
        if self._meta is None:
            self._meta = from_json(self.meta_json)
        return self._meta

    @property
    def shown_flags(self) -> list[str]:
        """The flags as FETCH shows them: \\Recent after the system flags when it applies."""
        if not self.recent:
            return self.flags
        system = [f for f in self.flags if f.startswith("\\")]
        return system + ["\\Recent"] + [f for f in self.flags if not f.startswith("\\")]


@dataclass
class FolderChanges:
    """What changed in a folder since a session last looked (:meth:`AccountMailStore.changes`)."""

    #: UIDs still present up to the last one the session knows; None when none of them is gone.
    present: set[int] | None
    #: {uid: (flags, modseq)} of the known messages changed since the session's modseq.
    flags: dict[int, tuple[list[str], int]] = field(default_factory=dict)
    #: Messages the session does not know yet (UID above its last), in UID order.
    new: list[MessageRow] = field(default_factory=list)


class AccountMailStore:
    """One account's folders and messages; every query is filtered by its account id."""

    def __init__(self, storage: Storage, account_id: int) -> None:
        self.storage = storage
        self.account_id = account_id
        self._cipher: AESGCM | None = None
        # The last few decrypted messages: clients often fetch a header, then the body.
        self._recent: OrderedDict[str, bytes] = OrderedDict()

    async def folders(self) -> list[FolderInfo]:
        async with self.storage.sessions() as s:
            rows = (
                await s.execute(
                    select(Folder).where(Folder.account_id == self.account_id).order_by(Folder.name)
                )
            ).scalars()
            return [_folder(f) for f in rows if not f.name.startswith(RESERVED)]

    async def subscribed(self) -> set[str]:
        """The subscribed names: folders' and those kept for names without a folder."""
        async with self.storage.sessions() as s:
            rows = await s.execute(
                select(Folder.name).where(
                    Folder.account_id == self.account_id, Folder.subscribed.is_(True)
                )
            )
            names = set()
            for (name,) in rows:
                if name.startswith(SUBSCRIPTION):
                    names.add(name[len(SUBSCRIPTION) :])
                elif not name.startswith(RESERVED):
                    names.add(name)
            return names

    async def create_folder(self, name: str) -> None:
        """A new folder, and its missing parents (RFC 9051 §6.3.4); its UIDVALIDITY is above
        every one this account ever had (deleted folders stay as tombstones for that), so a
        re-created name never reuses one. CREATE subscribes nothing (only SUBSCRIBE does); a
        name still subscribed from before (deleted while subscribed) is subscribed again."""
        _check_name(name)
        async with transaction(self.storage.sessions) as s:
            if await self._by_name(s, name) is not None:
                raise FolderError("[ALREADYEXISTS] the mailbox already exists")
            await self._create_missing(s, name, include_self=True)

    async def _create_missing(self, s: Any, name: str, include_self: bool) -> None:
        """Create the missing parents of ``name`` (and ``name`` itself if ``include_self``)."""
        parts = name.split("/")
        uidvalidity = await self._next_uidvalidity(s)
        for depth in range(1, len(parts) + (1 if include_self else 0)):
            path = "/".join(parts[:depth])
            if depth < len(parts) and await self._by_name(s, path) is not None:
                continue
            s.add(
                Folder(
                    account_id=self.account_id,
                    name=path,
                    special_use=None,
                    uidvalidity=uidvalidity,
                    uidnext=1,
                    highest_modseq=1,
                    subscribed=await self._take_kept_subscription(s, path),
                )
            )
            uidvalidity += 1
            await audit.append(
                s, account_id=self.account_id, actor=f"account:{self.account_id}",
                action="folder.created", detail={"name": path},
            )  # fmt: skip

    async def _next_uidvalidity(self, s: Any) -> int:
        highest = (
            await s.execute(
                select(func.max(Folder.uidvalidity)).where(Folder.account_id == self.account_id)
            )
        ).scalar() or 0
        return max(int(time.time()), highest + 1)

    async def _take_kept_subscription(self, s: Any, name: str) -> bool:
        """Whether ``name`` was subscribed without a folder; the kept row goes (the folder now
        carries the subscription)."""
        kept = await self._by_name(s, SUBSCRIPTION + name, lock=True)
        if kept is None:
            return False
        await s.delete(kept)
        await s.flush()
        return True

    async def _keep_subscription(self, s: Any, name: str) -> None:
        """``name`` stays subscribed although its folder goes (DELETE, RENAME)."""
        if await self._by_name(s, SUBSCRIPTION + name) is None:
            s.add(
                Folder(
                    account_id=self.account_id,
                    name=SUBSCRIPTION + name,
                    special_use=None,
                    uidvalidity=0,
                    uidnext=1,
                    highest_modseq=1,
                    subscribed=True,
                )
            )

    async def delete_folder(self, name: str) -> None:
        """Delete a folder and its messages; the default folders cannot be deleted. The folders
        below it stay (the name becomes a \\Noselect level, RFC 3501 §6.3.4), and so does its
        subscription: a subscription is a name (RFC 3501 §6.3.6; Dovecot keeps it too)."""
        async with transaction(self.storage.sessions) as s:
            folder = await self._by_name(s, name, lock=True)
            if folder is None:
                raise FolderError("[NONEXISTENT] no such mailbox")
            if folder.name in _DEFAULT_NAMES:
                raise FolderError("[CANNOT] the default mailboxes cannot be deleted")
            rows = (
                await s.execute(
                    select(Message.id, Message.blob_id).where(
                        Message.account_id == self.account_id, Message.folder_id == folder.id
                    )
                )
            ).all()
            await s.execute(delete(Message).where(Message.id.in_([r.id for r in rows])))
            await self._orphan_blobs(s, {r.blob_id for r in rows})
            folder.highest_modseq += 1  # a session that has it selected sees the messages go
            if folder.subscribed:
                await self._keep_subscription(s, folder.name)
            folder.name = f"{TOMBSTONE}{folder.id}"
            folder.subscribed = False
            await audit.append(
                s, account_id=self.account_id, actor=f"account:{self.account_id}",
                action="folder.deleted", detail={"name": name, "messages": len(rows)},
            )  # fmt: skip

    async def rename_folder(self, old: str, new: str) -> None:
        """Rename a folder and the folders below it (``old/…``), creating the missing parents of
        the new name (RFC 3501 §6.3.5); not INBOX nor the defaults.

        Subscriptions are names and stay where they are, as Dovecot does: the old names stay
        subscribed (now without a folder), the new ones are subscribed only if they already
        were (mail apps re-subscribe after a RENAME themselves)."""
        _check_name(new)
        if new.startswith(old + "/"):
            raise FolderError("[CANNOT] a mailbox cannot be moved below itself")
        async with transaction(self.storage.sessions) as s:
            folder = await self._by_name(s, old, lock=True)
            if folder is None:
                raise FolderError("[NONEXISTENT] no such mailbox")
            if folder.name in _DEFAULT_NAMES:
                raise FolderError("[CANNOT] the default mailboxes cannot be renamed")
            if await self._by_name(s, new) is not None:
                raise FolderError("[ALREADYEXISTS] the new name is taken")
            children = list(
                (
                    await s.execute(
                        select(Folder).where(
                            Folder.account_id == self.account_id,
                            Folder.name.startswith(old + "/"),
                        )
                    )
                ).scalars()
            )
            moves = [(f, new + f.name[len(old) :]) for f in [folder, *children]]
            for _, target in moves:
                _check_name(target)
                if await self._by_name(s, target) is not None:
                    raise FolderError(f"[ALREADYEXISTS] {target} already exists")
            for f, _ in moves:
                if f.subscribed:
                    await self._keep_subscription(s, f.name)
            for f, target in moves:
                f.name = target
                f.subscribed = await self._take_kept_subscription(s, target)
            await s.flush()
            await self._create_missing(s, new, include_self=False)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """SUBSCRIBE (of an existing folder: RFC 3501 §6.3.6 lets a server check, and Dovecot
        does) or UNSUBSCRIBE (of any name, also one whose folder is gone; OK if it was not
        subscribed, as Dovecot answers)."""
        async with transaction(self.storage.sessions) as s:
            folder = await self._by_name(s, name, lock=True)
            if folder is None:
                if subscribed:
                    raise FolderError("[NONEXISTENT] no such mailbox")
                kept = await self._by_name(s, SUBSCRIPTION + name, lock=True)
                if kept is not None:
                    await s.delete(kept)
                return
            folder.subscribed = subscribed

    async def _by_name(self, s: Any, name: str, lock: bool = False) -> Folder | None:
        query = select(Folder).where(Folder.account_id == self.account_id, Folder.name == name)
        if lock:
            query = query.with_for_update()
        return (await s.execute(query)).scalar_one_or_none()

    async def folder(self, name: str) -> FolderInfo | None:
        if name.upper() == "INBOX":
            name = "INBOX"
        if name.startswith(RESERVED):
            return None
        async with self.storage.sessions() as s:
            row = (
                await s.execute(
                    select(Folder).where(Folder.account_id == self.account_id, Folder.name == name)
                )
            ).scalar_one_or_none()
            return _folder(row) if row is not None else None

    async def messages(self, folder_id: int, after_uid: int = 0) -> list[MessageRow]:
        """The folder's messages with a UID above ``after_uid``, in UID order."""
        async with self.storage.sessions() as s:
            rows = (
                await s.execute(
                    select(Message)
                    .where(
                        Message.account_id == self.account_id,
                        Message.folder_id == folder_id,
                        Message.uid > after_uid,
                    )
                    .order_by(Message.uid)
                )
            ).scalars()
            return [_row(m) for m in rows]

    async def raw(self, row: MessageRow) -> bytes:
        """The stored message, decrypted (kept for the next few requests of this session)."""
        cached = self._recent.get(row.blob_id)
        if cached is not None:
            self._recent.move_to_end(row.blob_id)
            return cached
        try:
            data = await self.storage.blobs.get(self.account_id, await self.cipher(), row.blob_id)
        except BlobError:
            async with self.storage.sessions() as s:
                if await s.get(Message, row.id) is None:  # expunged long ago: not a failure
                    raise MessageExpunged(row.uid) from None
            raise
        if len(data) <= RECENT_BYTES // 4:
            self._recent[row.blob_id] = data
            while sum(map(len, self._recent.values())) > RECENT_BYTES:
                self._recent.popitem(last=False)
        return data

    async def cipher(self) -> AESGCM:
        """The account's data-key cipher, read once per session."""
        if self._cipher is None:
            async with self.storage.sessions() as s:
                self._cipher = await self.storage.cipher_for(s, self.account_id)
        return self._cipher

    async def changes(
        self, folder_id: int, since_modseq: int, last_uid: int, known: int
    ) -> FolderChanges:
        """What a session that knows ``known`` messages up to UID ``last_uid``, and every change
        up to ``since_modseq``, has not seen: expunges, flag changes and new messages."""
        mine = (Message.account_id == self.account_id, Message.folder_id == folder_id)
        async with self.storage.sessions() as s:
            count = (
                await s.execute(select(func.count()).where(*mine, Message.uid <= last_uid))
            ).scalar_one()
            present = None
            if count != known:
                present = set(
                    (
                        await s.execute(select(Message.uid).where(*mine, Message.uid <= last_uid))
                    ).scalars()
                )
            changed = await s.execute(
                select(Message.uid, Message.flags, Message.modseq).where(
                    *mine, Message.uid <= last_uid, Message.modseq > since_modseq
                )
            )
            new = (
                await s.execute(
                    select(Message).where(*mine, Message.uid > last_uid).order_by(Message.uid)
                )
            ).scalars()
            return FolderChanges(
                present,
                {int(uid): (flags.split(), int(modseq)) for uid, flags, modseq in changed},
                [_row(m) for m in new],
            )

    async def first_recent_uid(self, folder_id: int) -> int:
        """The lowest UID still \\Recent in the folder (no session has claimed it)."""
        async with self.storage.sessions() as s:
            return int(
                (
                    await s.execute(
                        select(Folder.first_recent_uid).where(
                            Folder.id == folder_id, Folder.account_id == self.account_id
                        )
                    )
                ).scalar_one()
            )

    async def claim_recent(self, folder_id: int, up_to_uid: int) -> int:
        """Take the \\Recent status of the messages up to ``up_to_uid`` for the calling
        session (a read-write SELECT, or new messages it is told of): returns the lowest UID it
        got; the messages from there to ``up_to_uid`` are recent for it and for no other."""
        first = await self.first_recent_uid(folder_id)
        if first > up_to_uid:
            return first  # nothing left to claim: no write
        async with transaction(self.storage.sessions) as s:
            folder = await self._locked_folder(s, folder_id)
            first = int(folder.first_recent_uid)
            if first <= up_to_uid:
                folder.first_recent_uid = up_to_uid + 1
            return first

    # -- changes ------------------------------------------------------------------------------

    async def state(self, folder_id: int) -> tuple[int, int]:
        """(uidnext, highest_modseq): when both are unchanged, nothing in the folder changed."""
        async with self.storage.sessions() as s:
            row = (
                await s.execute(
                    select(Folder.uidnext, Folder.highest_modseq).where(
                        Folder.id == folder_id, Folder.account_id == self.account_id
                    )
                )
            ).one()
            return int(row[0]), int(row[1])

    async def store_flags(
        self,
        folder_id: int,
        uids: list[int],
        mode: str,
        flags: list[str],
        unchanged_since: int | None = None,
    ) -> tuple[dict[int, tuple[list[str], int]], list[int]]:
        """Change the flags of the messages ``uids``: ``mode`` is "+", "-" or "" (replace).

        Returns {uid: (flags, modseq)} of every message still present (changed or not) and the
        UIDs refused because they changed after ``unchanged_since`` (RFC 7162 §3.1.3). Raises
        :class:`TooManyKeywords`, changing nothing, when a message would get more keywords than
        :data:`MAX_KEYWORDS`.
        """
        result: dict[int, tuple[list[str], int]] = {}
        failed: list[int] = []
        first_read: list[int] = []  # messages read now for the first time: receipts become due
        if not uids:
            return result, failed
        async with transaction(self.storage.sessions) as s:
            folder = await self._locked_folder(s, folder_id)
            rows = (
                await s.execute(
                    select(Message).where(
                        Message.account_id == self.account_id,
                        Message.folder_id == folder_id,
                        Message.uid.in_(uids),
                    )
                )
            ).scalars()
            for m in rows:
                current = m.flags.split()
                if unchanged_since is not None and m.modseq > unchanged_since:
                    failed.append(m.uid)
                    result[m.uid] = (current, m.modseq)
                    continue
                if mode == "+":
                    new = current + [f for f in flags if f not in current]
                elif mode == "-":
                    new = [f for f in current if f not in flags]
                else:
                    new = list(dict.fromkeys(flags))
                if _keywords(new) > max(MAX_KEYWORDS, _keywords(current)):
                    raise TooManyKeywords(m.uid)  # the transaction rolls back: nothing changes
                if new != current:
                    folder.highest_modseq += 1
                    m.flags = " ".join(new)
                    m.modseq = folder.highest_modseq
                    if "\\Seen" in new and "\\Seen" not in current:
                        first_read.append(m.id)
                result[m.uid] = (new, m.modseq)
            await mark_read(s, self.account_id, first_read, datetime.now(UTC))
        return result, sorted(failed)

    async def add_flags(self, folder_id: int, rows: list[MessageRow], flags: list[str]) -> None:
        """Add ``flags`` (e.g. \\Seen when a body is read) and update ``rows`` in place."""
        changed, _ = await self.store_flags(folder_id, [r.uid for r in rows], "+", flags)
        for r in rows:
            if r.uid in changed:
                r.flags, r.modseq = changed[r.uid][0], changed[r.uid][1]

    async def expunge(self, folder_id: int, only_uids: list[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (among ``only_uids`` when given); their UIDs."""
        async with transaction(self.storage.sessions) as s:
            folder = await self._locked_folder(s, folder_id)
            query = select(Message.id, Message.uid, Message.blob_id, Message.flags).where(
                Message.account_id == self.account_id, Message.folder_id == folder_id
            )
            if only_uids is not None:
                query = query.where(Message.uid.in_(only_uids))
            doomed = [r for r in (await s.execute(query)).all() if "\\Deleted" in r.flags.split()]
            if not doomed:
                return []
            await s.execute(delete(Message).where(Message.id.in_([r.id for r in doomed])))
            folder.highest_modseq += 1
            await self._orphan_blobs(s, {r.blob_id for r in doomed})
            await audit.append(
                s,
                account_id=self.account_id,
                actor=f"account:{self.account_id}",
                action="message.expunged",
                detail={"folder": folder.name, "uids": [r.uid for r in doomed]},
            )
        return sorted(r.uid for r in doomed)

    async def append(
        self, folder_name: str, messages: list[tuple[bytes, list[str], datetime | None]]
    ) -> tuple[int, list[int]]:
        """Store messages given by the client (APPEND, MULTIAPPEND) all or none, in one
        transaction; returns (UIDVALIDITY, UIDs). Raises :class:`TooManyKeywords` before
        storing anything when a message has more than :data:`MAX_KEYWORDS`."""
        if any(_keywords(flags) > MAX_KEYWORDS for _, flags, _ in messages):
            raise TooManyKeywords()
        cipher = await self.cipher()
        prepared = []
        try:
            for raw, flags, when in messages:
                meta = await asyncio.to_thread(imapmeta.compute_meta, raw)
                blob = await self.storage.blobs.put(self.account_id, cipher, raw)
                prepared.append((raw, flags, when, meta, blob))
            uids = []
            async with transaction(self.storage.sessions) as s:
                uidvalidity = 0
                for raw, flags, when, meta, blob in prepared:
                    s.add(
                        Blob(
                            id=blob.id,
                            account_id=self.account_id,
                            size=blob.size,
                            sha256=blob.sha256,
                            created_at=datetime.now(UTC),
                        )
                    )
                    stored = await append_message(
                        s,
                        account_id=self.account_id,
                        folder_name=folder_name,
                        blob_id=blob.id,
                        size=len(raw),
                        meta_json=imapmeta.to_json(meta),
                        internal_date=when or datetime.now(UTC),
                        flags=" ".join(flags),
                        message_id_header=meta.message_id,
                        sender=meta.from_addr,
                        subject=meta.subject,
                        sent_date=meta.date,
                    )
                    uids.append(stored.uid)
                    folder = await s.get(Folder, stored.folder_id)
                    assert folder is not None
                    uidvalidity = folder.uidvalidity
        except BaseException:
            for *_, blob in prepared:
                await asyncio.to_thread(self.storage.blobs.delete_sync, self.account_id, blob.id)
            raise
        return uidvalidity, uids

    async def copy(
        self, folder_id: int, uids: list[int], destination: str, move: bool
    ) -> tuple[int, list[int], list[int]]:
        """Copy (or move) messages into ``destination`` of the same account, sharing their blobs.

        Returns (destination UIDVALIDITY, source UIDs, new UIDs) in matching order.
        """
        async with transaction(self.storage.sessions) as s:
            source = await self._locked_folder(s, folder_id)
            target = (
                await s.execute(
                    select(Folder)
                    .where(Folder.account_id == self.account_id, Folder.name == destination)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if target is None:
                raise LookupError(destination)
            rows = list(
                (
                    await s.execute(
                        select(Message)
                        .where(
                            Message.account_id == self.account_id,
                            Message.folder_id == folder_id,
                            Message.uid.in_(uids),
                        )
                        .order_by(Message.uid)
                    )
                ).scalars()
            )
            new_uids = []
            for m in rows:
                stored = await append_message(
                    s,
                    account_id=self.account_id,
                    folder_name=target.name,
                    blob_id=m.blob_id,
                    size=m.size,
                    meta_json=m.meta,
                    internal_date=m.internal_date,
                    flags=m.flags,
                    message_id_header=m.message_id_header,
                    sender=m.sender,
                    subject=m.subject,
                    sent_date=m.sent_date,
                    mss_ins=m.mss_ins,
                    mss_codecda=m.mss_codecda,
                )
                new_uids.append(stored.uid)
            if move and rows:
                await s.execute(delete(Message).where(Message.id.in_([m.id for m in rows])))
                source.highest_modseq += 1
            return target.uidvalidity, [m.uid for m in rows], new_uids

    async def status(self, folder: FolderInfo) -> dict[str, int]:
        """MESSAGES, UNSEEN, UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ, SIZE, DELETED of a folder, and
        RECENT: the messages no session has claimed yet."""
        async with self.storage.sessions() as s:
            rows = (
                await s.execute(
                    select(Message.flags, Message.size, Message.uid).where(
                        Message.account_id == self.account_id, Message.folder_id == folder.id
                    )
                )
            ).all()
        uidnext, modseq = await self.state(folder.id)
        first_recent = await self.first_recent_uid(folder.id)
        return {
            "MESSAGES": len(rows),
            "UNSEEN": sum(1 for r in rows if "\\Seen" not in r.flags.split()),
            "UIDNEXT": uidnext,
            "UIDVALIDITY": folder.uidvalidity,
            "HIGHESTMODSEQ": modseq,
            "SIZE": sum(int(r.size) for r in rows),
            "DELETED": sum(1 for r in rows if "\\Deleted" in r.flags.split()),
            "RECENT": sum(1 for r in rows if r.uid >= first_recent),
        }

    async def _locked_folder(self, s: Any, folder_id: int) -> Folder:
        return (
            await s.execute(
                select(Folder)
                .where(Folder.id == folder_id, Folder.account_id == self.account_id)
                .with_for_update()
            )
        ).scalar_one()

    async def _orphan_blobs(self, s: Any, blob_ids: set[str]) -> list[str]:
        """Of ``blob_ids``, mark those no message references any more (their rows are deleted)
        as orphaned: :func:`sweep_orphaned_blobs` deletes them once no session can still show
        their message, so a session that has not been told of the expunge can read it."""
        orphans = []
        for blob_id in blob_ids:
            users = (
                await s.execute(select(func.count()).where(Message.blob_id == blob_id))
            ).scalar_one()
            if users == 0:
                orphans.append(blob_id)
        if orphans:
            await s.execute(
                update(Blob)
                .where(Blob.id.in_(orphans), Blob.account_id == self.account_id)
                .values(orphaned_at=datetime.now(UTC))
            )
        return orphans


def _check_name(name: str) -> None:
    if any(not p for p in name.split("/")):
        raise FolderError("[CANNOT] empty level in the mailbox name")
    if len(name) > MAX_NAME:
        raise FolderError(f"[LIMIT] mailbox names are at most {MAX_NAME} characters")
    if name.startswith(RESERVED):
        raise FolderError("[CANNOT] invalid mailbox name")


async def sweep_orphaned_blobs(storage: Storage, orphaned_before: datetime) -> int:
    """Delete the blobs of expunged messages orphaned before ``orphaned_before`` (rows, then
    files after the commit), of every account; returns how many. Run periodically by the IMAP
    listener with ``now - EXPUNGED_BLOB_GRACE``."""
    deleted = 0
    while True:
        async with transaction(storage.sessions) as s:
            rows = (
                await s.execute(
                    select(Blob.id, Blob.account_id)
                    .where(Blob.orphaned_at.is_not(None), Blob.orphaned_at < orphaned_before)
                    .limit(500)
                )
            ).all()
            if not rows:
                return deleted
            ids = [r.id for r in rows]
            used = set(
                (await s.execute(select(Message.blob_id).where(Message.blob_id.in_(ids)))).scalars()
            ) | set(
                (
                    await s.execute(select(Document.blob_id).where(Document.blob_id.in_(ids)))
                ).scalars()
            )
            if used:  # referenced again (never by design): keep it, and stop sweeping it
                await s.execute(update(Blob).where(Blob.id.in_(used)).values(orphaned_at=None))
            gone = [r for r in rows if r.id not in used]
            await s.execute(delete(Blob).where(Blob.id.in_([r.id for r in gone])))
        for r in gone:  # after the commit: a failed transaction keeps its files
            await asyncio.to_thread(storage.blobs.delete_sync, r.account_id, r.id)
        deleted += len(gone)


def _keywords(flags: list[str]) -> int:
    return sum(1 for f in flags if not f.startswith("\\"))


def _row(m: Message) -> MessageRow:
    return MessageRow(
        m.id, m.uid, m.flags.split(), m.modseq, m.internal_date, m.size, m.blob_id, m.meta
    )


def _folder(f: Folder) -> FolderInfo:
    return FolderInfo(f.id, f.name, f.special_use, f.uidvalidity, f.uidnext, f.highest_modseq)
