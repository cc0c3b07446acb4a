"""Folders and subscriptions: LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB,
CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable

from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
)
from espace_sante.mailbox.imap.mailstore import (
    FolderError,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    Token,
)


class FolderCommands(SessionCore):
    """The folder hierarchy and the subscriptions."""

    async def cmd_list(self, c: Command, lsub: bool = False) -> None:
        """LIST, with the LIST-EXTENDED selection (SUBSCRIBED, SPECIAL-USE), several patterns
        and RETURN options (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS: RFC 5258, 5819, 6154)."""
        store = self._require_auth()
        args = list(c.args)
        selection: set[str] = set()
        first = args[0] if args else None
        if isinstance(first, ParenList) and not lsub:
            args.pop(0)
            selection = {_option(t) for t in first.items}
            if not selection <= {"SUBSCRIBED", "SPECIAL-USE", "REMOTE", "RECURSIVEMATCH"}:
                raise Bad("unknown LIST selection option")
        returns: set[str] = set()
        status_items: list[str] = []
        if len(args) == 4 and isinstance(args[2], Atom) and args[2].upper == "RETURN":
            if not isinstance(args[3], ParenList):
                raise Bad("RETURN takes a list of options")
            returns, status_items = _list_returns(args[3])
            args = args[:2]
        if len(args) != 2:
            raise Bad(f"{c.name} takes a reference and a pattern")
        reference = self._pattern_in(args[0])
        patterns = (
            [self._pattern_in(t) for t in args[1].items]
            if isinstance(args[1], ParenList)
            else [self._pattern_in(args[1])]
        )
        if patterns == [""]:
            await self._send(f'* {c.name} (\\Noselect) "/" ""')
            await self._send(f"{c.tag} OK {c.name} completed")
            return
        folders = await store.folders()
        names = {f.name for f in folders}
        subscribed = await store.subscribed()
        only_subscribed = lsub or "SUBSCRIBED" in selection
        for folder in folders:
            if not any(_matches(reference + p, folder.name) for p in patterns):
                continue
            if only_subscribed and folder.name not in subscribed:
                continue
            if "SPECIAL-USE" in selection and not folder.special_use:
                continue
            has_children = any(n.startswith(folder.name + "/") for n in names)
            attrs = ["\\HasChildren" if has_children else "\\HasNoChildren"]
            if (
                (only_subscribed or "SUBSCRIBED" in returns)
                and folder.name in subscribed
                and not lsub
            ):
                attrs.append("\\Subscribed")
            if folder.special_use:
                attrs.append(folder.special_use)
            name = self._name_out(folder.name)
            await self._send(f'* {c.name} ({" ".join(attrs)}) "/" {name}')
            if status_items:
                values = await store.status(folder)
                pairs = " ".join(f"{k} {values[k]}" for k in status_items)
                await self._send(f"* STATUS {name} ({pairs})")
        await self._send(f"{c.tag} OK {c.name} completed")

    async def cmd_lsub(self, c: Command) -> None:
        await self.cmd_list(c, lsub=True)

    async def cmd_create(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 1:
            raise Bad("CREATE takes a mailbox name")
        name = self._name_in(c.args[0], strip_separator=True)
        if name == "INBOX" or "%" in name or "*" in name or "//" in name or name.startswith("/"):
            raise No("[CANNOT] invalid mailbox name")
        await self._folder_op(c, store.create_folder(name))

    async def cmd_delete(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 1:
            raise Bad("DELETE takes a mailbox name")
        name = self._name_in(c.args[0])
        if self.selected is not None and self.selected.folder.name == name:
            self.selected = None
        await self._folder_op(c, store.delete_folder(name))

    async def cmd_rename(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 2:
            raise Bad("RENAME takes two mailbox names")
        old, new = (self._name_in(a) for a in c.args)
        if new == "INBOX" or "%" in new or "*" in new:
            raise No("[CANNOT] invalid new name")
        await self._folder_op(c, store.rename_folder(old, new))

    async def cmd_subscribe(self, c: Command, subscribed: bool = True) -> None:
        store = self._require_auth()
        if len(c.args) != 1:
            raise Bad(f"{c.name} takes a mailbox name")
        name = self._name_in(c.args[0])
        await self._folder_op(c, store.set_subscribed(name, subscribed))

    async def cmd_unsubscribe(self, c: Command) -> None:
        await self.cmd_subscribe(c, subscribed=False)

    async def _folder_op(self, c: Command, operation: Awaitable[None]) -> None:
        try:
            await operation
        except FolderError as exc:
            raise No(str(exc)) from exc
        await self._send(f"{c.tag} OK {c.name} completed")


_STATUS_ITEMS = (
    "MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ", "SIZE", "RECENT", "DELETED"
)  # fmt: skip


def _option(token: Token) -> str:
    if not isinstance(token, Atom):
        raise Bad("expected an option name")
    return token.upper


def _list_returns(token: ParenList) -> tuple[set[str], list[str]]:
    options: set[str] = set()
    status: list[str] = []
    items = list(token.items)
    while items:
        name = _option(items.pop(0))
        if name == "STATUS":
            wanted = items.pop(0) if items else None
            if not isinstance(wanted, ParenList):
                raise Bad("STATUS takes a list of items")
            status = [_option(t) for t in wanted.items]
            if not status or not set(status) <= set(_STATUS_ITEMS):
                raise Bad("unknown STATUS item")
        elif name in ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE"):
            options.add(name)
        else:
            raise Bad("unknown LIST RETURN option")
    return options, status


def _matches(pattern: str, name: str) -> bool:
    """LIST wildcards: ``*`` matches anything, ``%`` anything but the hierarchy separator."""

    regex = "".join(
        ".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern
    )
    flags = re.I if name.upper() == "INBOX" else 0
    return re.fullmatch(regex, name, flags) is not None


HANDLERS: dict[str, Handler[FolderCommands]] = {
    "LIST": FolderCommands.cmd_list,
    "LSUB": FolderCommands.cmd_lsub,
    "CREATE": FolderCommands.cmd_create,
    "DELETE": FolderCommands.cmd_delete,
    "RENAME": FolderCommands.cmd_rename,
    "SUBSCRIBE": FolderCommands.cmd_subscribe,
    "UNSUBSCRIBE": FolderCommands.cmd_unsubscribe,
}
