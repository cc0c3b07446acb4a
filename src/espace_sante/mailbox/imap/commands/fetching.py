"""FETCH and UID FETCH: message data items, body sections, BINARY, CHANGEDSINCE.
The items themselves are computed by ``imap.fetch``.
"""

from __future__ import annotations

import asyncio

from espace_sante.mailbox.imap import fetch
from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
)
from espace_sante.mailbox.imap.mailstore import (
    MessageRow,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    Token,
)
from espace_sante.mailbox.imap.seqset import SequenceSet
from espace_sante.mailbox.imap.slices import Slicer


class FetchCommands(SessionCore):
    """FETCH and UID FETCH."""

    async def cmd_fetch(self, c: Command, by_uid: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        if len(c.args) not in (2, 3) or not isinstance(c.args[0], Atom):
            raise Bad("FETCH takes a sequence set, items and optional modifiers")
        numbers = SequenceSet.parse(c.args[0].value)
        items = fetch.parse_items(c.args[1])
        if not by_uid:
            items = [i for i in items if i != "UID"] if not _asked_uid(c.args[1]) else items
        targets = self._targets(sel, numbers, by_uid)
        if len(c.args) == 3:
            changed_since = _changed_since(c.args[2])
            targets = [(seq, row) for seq, row in targets if row.modseq > changed_since]
            if "MODSEQ" not in items:
                items.append("MODSEQ")
        if "MODSEQ" in items:  # MODSEQ or CHANGEDSINCE: CONDSTORE enabling (RFC 7162 §3.1)
            await self._enable_condstore()
        to_mark: list[MessageRow] = []
        sections = [i for i in items if isinstance(i, fetch.SectionItem)]
        sets_seen = any(i.sets_seen for i in sections) and not sel.readonly
        slicer = Slicer()  # cached content is not awaited: pause between slices of messages
        for seq, row in targets:
            await slicer.pause()
            raw = await store.raw(row) if sections else None
            try:
                if raw is not None and len(raw) > fetch.OFFLOAD_BYTES:
                    parts = await asyncio.to_thread(fetch.render, items, row, raw)
                else:
                    parts = fetch.render(items, row, raw)
            except fetch.UnknownTransferEncoding as exc:
                raise No("[UNKNOWN-CTE] cannot decode this part") from exc
            if sets_seen and "\\Seen" not in row.flags:
                to_mark.append(row)
            await self._send(b"* %d FETCH (" % seq + b" ".join(parts) + b")")
        if to_mark:
            unique = list({r.id: r for r in to_mark}.values())
            await store.add_flags(sel.folder.id, unique, ["\\Seen"])
            await self._announce_keywords(sel, [r.flags for r in unique])
            index = {r.id: i for i, r in enumerate(sel.messages, 1)}
            for r in unique:
                mod = f" UID {r.uid} MODSEQ ({r.modseq})" if self.condstore else ""
                await self._send(f"* {index[r.id]} FETCH (FLAGS ({' '.join(r.shown_flags)}){mod})")
        await self._done(c)

    async def cmd_uid_fetch(self, c: Command) -> None:
        await self.cmd_fetch(c, by_uid=True)


def _changed_since(token: Token) -> int:
    items = token.items if isinstance(token, ParenList) else ()
    if (
        len(items) != 2
        or not isinstance(items[0], Atom)
        or items[0].upper != "CHANGEDSINCE"
        or not isinstance(items[1], Atom)
        or not items[1].value.isdigit()
    ):
        raise Bad("expected (CHANGEDSINCE modseq)")
    return int(items[1].value)


def _asked_uid(token: Token) -> bool:
    from espace_sante.mailbox.imap.parser import ParenList

    tokens = token.items if isinstance(token, ParenList) else (token,)
    return any(isinstance(t, Atom) and t.upper == "UID" for t in tokens)


HANDLERS: dict[str, Handler[FetchCommands]] = {
    "FETCH": FetchCommands.cmd_fetch,
    "UID FETCH": FetchCommands.cmd_uid_fetch,
}
