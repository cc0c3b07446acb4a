"""Changing the selected folder: STORE (UNCHANGEDSINCE), EXPUNGE, COPY, MOVE (UIDPLUS
answers), APPEND and MULTIAPPEND, CLOSE and UNSELECT.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from espace_sante.mailbox import imapmeta
from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
    flag_list,
    no_args,
)
from espace_sante.mailbox.imap.mailstore import MAX_KEYWORDS, TooManyKeywords
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    String,
)
from espace_sante.mailbox.imap.seqset import SequenceSet, compress


class WriteCommands(SessionCore):
    """The commands that change messages or leave the selected folder."""

    async def cmd_store(self, c: Command, by_uid: bool = False) -> None:
        sel, store = self._require_writable()
        args = list(c.args)
        if len(args) < 3 or not isinstance(args[0], Atom):
            raise Bad("STORE takes a sequence set, an action and flags")
        targets = self._targets(sel, SequenceSet.parse(args[0].value), by_uid)
        unchanged_since = None
        if isinstance(args[1], ParenList):
            modifier = args.pop(1)
            assert isinstance(modifier, ParenList)
            unchanged_since = _unchanged_since(modifier)
            await self._enable_condstore()  # RFC 7162 §3.1: a CONDSTORE enabling command
        if not isinstance(args[1], Atom):
            raise Bad("expected FLAGS, +FLAGS or -FLAGS")
        action = args[1].upper
        m = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)
        if m is None:
            raise Bad("expected FLAGS, +FLAGS or -FLAGS")
        flags = flag_list(args[2:])
        try:
            changed, failed = await store.store_flags(
                sel.folder.id, [row.uid for _, row in targets], m.group(1), flags, unchanged_since
            )
        except TooManyKeywords as exc:
            raise No(_TOO_MANY_KEYWORDS) from exc
        await self._announce_keywords(sel, [new for new, _ in changed.values()])
        silent = m.group(2) is not None
        for seq, row in targets:
            if row.uid not in changed or row.uid in failed:
                continue  # a message that failed UNCHANGEDSINCE is in MODIFIED (as Dovecot)
            new_flags, modseq = changed[row.uid]
            was = row.flags
            row.flags, row.modseq = new_flags, modseq
            # RFC 7162 §3.1: once CONDSTORE is on, UID and MODSEQ in each FETCH; with .SILENT,
            # MODSEQ alone for each message that changed (§3.1.3 example)
            uid = f"UID {row.uid}" if by_uid or self.condstore else ""
            mod = f"MODSEQ ({modseq})" if self.condstore else ""
            if not silent:
                data = " ".join(p for p in (f"FLAGS ({' '.join(row.shown_flags)})", uid, mod) if p)
            elif self.condstore and was != new_flags:
                data = " ".join(p for p in (uid if by_uid else "", mod) if p)
            else:
                continue
            await self._send(f"* {seq} FETCH ({data})")
        # sel.state stays: changes of other sessions may come before ours, _sync reports them
        if failed:
            # RFC 7162 §3.1.3: UIDs for UID STORE, message numbers for STORE
            refused = failed if by_uid else [seq for seq, row in targets if row.uid in failed]
            await self._done(c, f"[MODIFIED {compress(refused)}] conditional STORE failed")
            return
        await self._done(c)

    async def cmd_uid_store(self, c: Command) -> None:
        await self.cmd_store(c, by_uid=True)

    async def cmd_expunge(self, c: Command, uids: list[int] | None = None) -> None:
        sel, store = self._require_writable()
        _ = await store.expunge(sel.folder.id, uids)
        await self._done(c)  # the sync reports each EXPUNGE, highest number first

    async def cmd_uid_expunge(self, c: Command) -> None:
        sel = self._require_selected()
        if len(c.args) != 1 or not isinstance(c.args[0], Atom):
            raise Bad("UID EXPUNGE takes a UID set")
        targets = self._targets(sel, SequenceSet.parse(c.args[0].value), by_uid=True)
        await self.cmd_expunge(c, [row.uid for _, row in targets])

    async def cmd_copy(self, c: Command, by_uid: bool = False, move: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        if move:
            self._require_writable()
        if len(c.args) != 2 or not isinstance(c.args[0], Atom):
            raise Bad(f"{c.name} takes a sequence set and a mailbox")
        targets = self._targets(sel, SequenceSet.parse(c.args[0].value), by_uid)
        destination = self._name_in(c.args[1])
        try:
            validity, source, created = await store.copy(
                sel.folder.id, [row.uid for _, row in targets], destination, move
            )
        except LookupError as exc:
            raise No("[TRYCREATE] no such mailbox") from exc
        code = ""
        if source:
            code = f"[COPYUID {validity} {compress(source)} {compress(created)}] "
        if move:
            await self._send(f"* OK {code}moved")
            await self._done(c)
        else:
            await self._done(c, f"{code}{c.name} completed")

    async def cmd_uid_copy(self, c: Command) -> None:
        await self.cmd_copy(c, by_uid=True)

    async def cmd_move(self, c: Command) -> None:
        await self.cmd_copy(c, move=True)

    async def cmd_uid_move(self, c: Command) -> None:
        await self.cmd_copy(c, by_uid=True, move=True)

    async def cmd_append(self, c: Command) -> None:
        """APPEND, and MULTIAPPEND (RFC 3502): several messages, stored all or none."""
        store = self._require_auth()
        args = list(c.args)
        if len(args) < 2:
            raise Bad("APPEND takes a mailbox, optional flags and date, and a message literal")
        name = self._name_in(args.pop(0))
        messages: list[tuple[bytes, list[str], datetime | None]] = []
        flags: list[str] = []
        when: datetime | None = None
        for arg in args:
            if isinstance(arg, String) and arg.literal:
                if not arg.value:
                    raise No("empty message")
                # binary content (RFC 3516 §4.4) is stored in base64, as BODY must show it
                messages.append((imapmeta.encode_binary_parts(arg.value), flags, when))
                flags, when = [], None
            elif isinstance(arg, ParenList):
                flags = flag_list(list(arg.items))
            elif isinstance(arg, String):
                when = _parse_date_time(arg.value.decode("ascii", "replace"))
            else:
                raise Bad("unexpected APPEND argument")
        if not messages or flags or when is not None:
            raise Bad("each message must be a literal, after its optional flags and date")
        if await store.folder(name) is None:
            raise No("[TRYCREATE] no such mailbox")
        try:
            validity, uids = await store.append(name, messages)
        except TooManyKeywords as exc:
            raise No(_TOO_MANY_KEYWORDS) from exc
        await self._done(c, f"[APPENDUID {validity} {compress(uids)}] APPEND completed")

    async def cmd_close(self, c: Command) -> None:
        """Leave the folder, removing its \\Deleted messages without a word when it was open
        read-write (RFC 3501 §6.4.2, RFC 9051 §6.4.1); after EXAMINE, nothing is removed."""
        no_args(c)
        sel = self._require_selected()
        store = self._require_auth()
        self.selected = None
        if not sel.readonly:
            await store.expunge(sel.folder.id)
        await self._send(f"{c.tag} OK CLOSE completed")

    async def cmd_unselect(self, c: Command) -> None:
        """Leave the folder, removing nothing (RFC 3691)."""
        no_args(c)
        self._require_selected()
        self.selected = None
        await self._send(f"{c.tag} OK UNSELECT completed")


_TOO_MANY_KEYWORDS = f"[LIMIT] at most {MAX_KEYWORDS} keywords per message; nothing changed"


def _unchanged_since(modifier: ParenList) -> int:
    items = modifier.items
    if (
        len(items) != 2
        or not isinstance(items[0], Atom)
        or items[0].upper != "UNCHANGEDSINCE"
        or not isinstance(items[1], Atom)
        or not items[1].value.isdigit()
    ):
        raise Bad("expected (UNCHANGEDSINCE modseq)")
    return int(items[1].value)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


def _parse_date_time(text: str) -> datetime:
    m = re.fullmatch(
        r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", text
    )
    if m is None or m.group(2).upper() not in _MONTHS:
        raise Bad("invalid date-time")
    sign = 1 if m.group(7) == "+" else -1
    tz = timezone(sign * timedelta(hours=int(m.group(8)), minutes=int(m.group(9))))
    try:
        return datetime(
            int(m.group(3)), _MONTHS[m.group(2).upper()], int(m.group(1)),
            int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=tz,
        )  # fmt: skip
    except ValueError as exc:
        raise Bad("invalid date-time") from exc


HANDLERS: dict[str, Handler[WriteCommands]] = {
    "STORE": WriteCommands.cmd_store,
    "UID STORE": WriteCommands.cmd_uid_store,
    "EXPUNGE": WriteCommands.cmd_expunge,
    "UID EXPUNGE": WriteCommands.cmd_uid_expunge,
    "COPY": WriteCommands.cmd_copy,
    "UID COPY": WriteCommands.cmd_uid_copy,
    "MOVE": WriteCommands.cmd_move,
    "UID MOVE": WriteCommands.cmd_uid_move,
    "APPEND": WriteCommands.cmd_append,
    "CLOSE": WriteCommands.cmd_close,
    "UNSELECT": WriteCommands.cmd_unselect,
}
