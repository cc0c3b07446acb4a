"""Opening a folder and asking about one: SELECT, EXAMINE (CONDSTORE) and STATUS."""

from __future__ import annotations

from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    Selected,
    SessionCore,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    Token,
)


class SelectCommands(SessionCore):
    """SELECT, EXAMINE and STATUS."""

    async def cmd_select(self, c: Command, readonly: bool = False) -> None:
        store = self._require_auth()
        if len(c.args) == 2 and _is_condstore_parameter(c.args[1]):
            self.condstore = True  # RFC 7162 §3.1.8; this SELECT reports HIGHESTMODSEQ itself
        elif len(c.args) != 1:
            raise Bad(f"{c.name} takes a mailbox name and optionally (CONDSTORE)")
        if self.selected is not None and self.rev2:
            await self._send("* OK [CLOSED] previous mailbox closed")
        self.selected = None
        self.saved_uids = []
        folder = await store.folder(self._name_in(c.args[0]))
        if folder is None:
            raise No("[NONEXISTENT] no such mailbox")
        state = await store.state(folder.id)
        messages = await store.messages(folder.id)
        by_change = sorted(messages, key=lambda m: m.modseq)  # about the order they came in
        keywords = [f for m in by_change for f in m.flags if f[:1] != "\\"]
        sel = Selected(folder, readonly, messages, state, list(dict.fromkeys(keywords)))
        self.selected = sel
        await self._mark_recent(store, sel, messages)  # SELECT takes them, EXAMINE does not
        unseen = next((i for i, m in enumerate(messages, 1) if "\\Seen" not in m.flags), None)
        await self._send(f"* {len(messages)} EXISTS")
        if self.rev2:
            await self._send(await self._list_line(store, folder))
        else:
            await self._send(f"* {sel.recent_count()} RECENT")
        for line in self._flags_lines(sel):  # the folder's keywords too, as Dovecot lists them
            await self._send(line)
        if unseen is not None and not self.rev2:  # RFC 9051 dropped UNSEEN
            await self._send(f"* OK [UNSEEN {unseen}] first unseen")
        await self._send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        await self._send(f"* OK [UIDNEXT {folder.uidnext}] predicted next UID")
        await self._send(f"* OK [HIGHESTMODSEQ {state[1]}] changes so far")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        await self._send(f"{c.tag} OK [{mode}] {c.name} completed")

    async def cmd_examine(self, c: Command) -> None:
        await self.cmd_select(c, readonly=True)

    async def cmd_status(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 2 or not isinstance(c.args[1], ParenList):
            raise Bad("STATUS takes a mailbox and a list of items")
        folder = await store.folder(self._name_in(c.args[0]))
        if folder is None:
            raise No("[NONEXISTENT] no such mailbox")
        values = await store.status(folder)
        sel = self.selected
        if sel is not None and sel.folder.id == folder.id and not sel.readonly:
            values["RECENT"] += sel.recent_count()  # this session took them from the others
        wanted = []
        for item in c.args[1].items:
            if not isinstance(item, Atom) or item.upper not in values:
                raise Bad("unknown STATUS item")
            wanted.append(f"{item.upper} {values[item.upper]}")
        if "HIGHESTMODSEQ" in (i.upper for i in c.args[1].items if isinstance(i, Atom)):
            await self._enable_condstore()  # RFC 7162 §3.1: a CONDSTORE enabling command
        await self._send(f"* STATUS {self._name_out(folder.name)} ({' '.join(wanted)})")
        await self._done(c)


def _is_condstore_parameter(token: Token) -> bool:
    """``(CONDSTORE)``, in any case (RFC 7162 §3.1.8 select-param)."""
    items = token.items if isinstance(token, ParenList) else ()
    return len(items) == 1 and isinstance(items[0], Atom) and items[0].upper == "CONDSTORE"


HANDLERS: dict[str, Handler[SelectCommands]] = {
    "SELECT": SelectCommands.cmd_select,
    "EXAMINE": SelectCommands.cmd_examine,
    "STATUS": SelectCommands.cmd_status,
}
