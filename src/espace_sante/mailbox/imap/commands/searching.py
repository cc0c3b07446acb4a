"""SEARCH (ESEARCH, SEARCHRES) and SORT, and their UID forms; the search program
itself is parsed and evaluated by ``imap.search``.
"""

from __future__ import annotations

from typing import Any

from espace_sante.mailbox.imap import search
from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
    astring,
)
from espace_sante.mailbox.imap.mailstore import (
    MessageRow,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
)
from espace_sante.mailbox.imap.seqset import compress


class SearchCommands(SessionCore):
    """SEARCH and SORT."""

    async def cmd_search(self, c: Command, by_uid: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        args = list(c.args)
        returns: list[str] | None = None
        if args and isinstance(args[0], Atom) and args[0].upper == "RETURN":
            if len(args) < 2 or not isinstance(args[1], ParenList):
                raise Bad("RETURN takes a list of options")
            returns = _return_options(args[1])
            args = args[2:]
        try:
            predicate = search.parse_search(args, saved=self.saved_uids)
        except search.BadCharset as exc:
            raise No(f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset") from exc
        largest_uid = sel.messages[-1].uid if sel.messages else 0
        rows = []
        for seq, row in enumerate(sel.messages, 1):
            candidate = search.Candidate(seq, row, store.raw)
            if await predicate(candidate, len(sel.messages), largest_uid):
                rows.append((seq, row))
        found = [row.uid if by_uid else seq for seq, row in rows]
        if returns is None and self.rev2:  # RFC 9051 §7.3.4: ESEARCH replaces SEARCH
            returns = ["ALL"]
        if returns is None:
            await self._send("* SEARCH" + "".join(f" {n}" for n in found))
            await self._done(c)
            return
        if "SAVE" in returns:
            self.saved_uids = [row.uid for _, row in rows]
        answer = [f'(TAG "{c.tag}")'] + (["UID"] if by_uid else [])
        if found and "MIN" in returns:
            answer.append(f"MIN {found[0]}")
        if found and "MAX" in returns:
            answer.append(f"MAX {found[-1]}")
        if "COUNT" in returns:
            answer.append(f"COUNT {len(found)}")
        if found and "ALL" in returns:
            answer.append(f"ALL {compress(found)}")
        if returns != ["SAVE"]:  # SAVE alone answers nothing (RFC 5182 §2.1)
            await self._send("* ESEARCH " + " ".join(answer))
        await self._done(c)

    async def cmd_uid_search(self, c: Command) -> None:
        await self.cmd_search(c, by_uid=True)

    async def cmd_sort(self, c: Command, by_uid: bool = False) -> None:
        """SORT (criteria) charset search-keys (RFC 5256); ties keep mailbox order."""
        sel = self._require_selected()
        store = self._require_auth()
        if len(c.args) < 3:
            raise Bad("SORT takes criteria, a charset and search keys")
        criteria = search.parse_sort(c.args[0])
        charset = astring(c.args[1]).upper()
        if charset not in search.CHARSETS:
            raise No(f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset")
        predicate = search.parse_search(list(c.args[2:]))
        largest_uid = sel.messages[-1].uid if sel.messages else 0
        matches: list[tuple[int, MessageRow]] = []
        for seq, row in enumerate(sel.messages, 1):
            if await predicate(
                search.Candidate(seq, row, store.raw), len(sel.messages), largest_uid
            ):
                matches.append((seq, row))
        for key, reverse in reversed(criteria):  # stable sorts, least significant key first

            def value(m: tuple[int, MessageRow], k: str = key) -> Any:
                return search.sort_value(k, m[0], m[1])

            matches.sort(key=value, reverse=reverse)
        numbers = [row.uid if by_uid else seq for seq, row in matches]
        await self._send("* SORT" + "".join(f" {n}" for n in numbers))
        await self._done(c)

    async def cmd_uid_sort(self, c: Command) -> None:
        await self.cmd_sort(c, by_uid=True)


_RETURN_OPTIONS = ("MIN", "MAX", "COUNT", "ALL", "SAVE")


def _return_options(token: ParenList) -> list[str]:
    options = []
    for item in token.items:
        if not isinstance(item, Atom) or item.upper not in _RETURN_OPTIONS:
            raise Bad("unknown RETURN option")
        options.append(item.upper)
    return options or ["ALL"]


HANDLERS: dict[str, Handler[SearchCommands]] = {
    "SEARCH": SearchCommands.cmd_search,
    "UID SEARCH": SearchCommands.cmd_uid_search,
    "SORT": SearchCommands.cmd_sort,
    "UID SORT": SearchCommands.cmd_uid_sort,
}
