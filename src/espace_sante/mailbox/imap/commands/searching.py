"""SEARCH (ESEARCH, SEARCHRES, CONDSTORE's MODSEQ) and SORT (RFC 5256, SORT=DISPLAY), and their
UID forms; the search program itself is parsed and evaluated by ``imap.search``, in slices that
leave the event loop to the other clients and protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from espace_sante.mailbox.imap import search
from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    Selected,
    SessionCore,
    astring,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    Token,
)
from espace_sante.mailbox.imap.seqset import compress
from espace_sante.mailbox.imap.slices import in_pool, in_slices

_BADCHARSET = f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset"


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
        program = await self._program(sel, args, charset=True)
        if program.modseq:
            await self._enable_condstore()
        matches = await search.evaluate(program, sel.messages, store.raw)
        found = [m.uid if by_uid else m.seq for m in matches]
        if returns is None and self.rev2:  # RFC 9051 §7.3.4: ESEARCH replaces SEARCH
            returns = ["ALL"]
        if returns is None:
            modseq = _highest(matches) if program.modseq else None
            await self._send(
                "* SEARCH"
                + "".join(f" {n}" for n in found)
                + (f" (MODSEQ {modseq})" if modseq is not None else "")
            )
            await self._done(c)
            return
        if "SAVE" in returns:
            self.saved_uids = [m.uid for m in matches]
        answer = [f'(TAG "{c.tag}")'] + (["UID"] if by_uid else [])
        if found and "MIN" in returns:
            answer.append(f"MIN {found[0]}")
        if found and "MAX" in returns:
            answer.append(f"MAX {found[-1]}")
        if "COUNT" in returns:
            answer.append(f"COUNT {len(found)}")
        if found and "ALL" in returns:
            answer.append(f"ALL {compress(found)}")
        if program.modseq and found:
            answer.append(f"MODSEQ {_esearch_modseq(matches, returns)}")
        if returns != ["SAVE"]:  # SAVE alone answers nothing (RFC 5182 §2.1)
            await self._send("* ESEARCH " + " ".join(answer))
        await self._done(c)

    async def cmd_uid_search(self, c: Command) -> None:
        await self.cmd_search(c, by_uid=True)

    async def cmd_sort(self, c: Command, by_uid: bool = False) -> None:
        """SORT (criteria) charset search-keys (RFC 5256); ties in every criterion are ordered
        by sequence number."""
        sel = self._require_selected()
        store = self._require_auth()
        if len(c.args) < 3:
            raise Bad("SORT takes criteria, a charset and search keys")
        criteria = search.parse_sort(c.args[0])
        try:
            search.check_charset(astring(c.args[1]))
        except search.BadCharset as exc:
            raise No(_BADCHARSET) from exc
        program = await self._program(sel, c.args[2:], charset=False)
        if program.modseq:
            await self._enable_condstore()
        matches = await search.evaluate(program, sel.messages, store.raw)
        keys = await in_slices(
            lambda m: tuple(search.sort_value(key, m) for key, _ in criteria), matches
        )
        order = list(range(len(matches)))  # sequence order: the last tie-break
        for index in range(len(criteria) - 1, -1, -1):  # stable sorts, least significant first
            column = [k[index] for k in keys]
            order.sort(key=column.__getitem__, reverse=criteria[index][1])
        ordered = [matches[i] for i in order]
        modseq = _highest(matches) if program.modseq else None
        await self._send(
            "* SORT"
            + "".join(f" {m.uid if by_uid else m.seq}" for m in ordered)
            + (f" (MODSEQ {modseq})" if modseq is not None else "")
        )
        await self._done(c)

    async def cmd_uid_sort(self, c: Command) -> None:
        await self.cmd_sort(c, by_uid=True)

    async def _program(self, sel: Selected, args: Sequence[Token], charset: bool) -> search.Program:
        """The search program of ``args``, parsed and bound in the pool: a long one (a thousand
        keys, ten thousand ranges) takes tens of milliseconds."""
        try:
            return await in_pool(
                partial(
                    search.parse_search,
                    args,
                    count=len(sel.messages),
                    largest_uid=sel.messages[-1].uid if sel.messages else 0,
                    saved=tuple(self.saved_uids),
                    charset=charset,
                )
            )
        except search.BadCharset as exc:
            raise No(_BADCHARSET) from exc
        except search.SearchLimit as exc:
            raise No(f"[LIMIT] {exc}") from exc


def _highest(matches: Sequence[search.Candidate]) -> int | None:
    """The highest mod-sequence of the matches, for SEARCH and SORT answers (RFC 7162 §3.1.5:
    none when nothing matched)."""
    return max((m.modseq for m in matches), default=None)


def _esearch_modseq(matches: Sequence[search.Candidate], returns: list[str]) -> int:
    """RFC 4731 §3.2: with MIN and/or MAX alone, the highest mod-sequence of the messages they
    return; otherwise that of every match."""
    if "ALL" in returns or "COUNT" in returns or not ({"MIN", "MAX"} & set(returns)):
        return max(m.modseq for m in matches)
    chosen = ([matches[0]] if "MIN" in returns else []) + (
        [matches[-1]] if "MAX" in returns else []
    )
    return max(m.modseq for m in chosen)


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
