"""SEARCH (ESEARCH, SEARCHRES, CONDSTORE's MODSEQ) and SORT (RFC 5256, SORT=DISPLAY, ESORT),
and their UID forms; the search program itself is parsed and evaluated by ``imap.search``, in
slices that leave the event loop to the other clients and protocols.
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
from espace_sante.mailbox.imap.slices import in_pool, in_slices

_BADCHARSET = f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset"


class SearchCommands(SessionCore):
    """SEARCH and SORT."""

    async def cmd_search(self, c: Command, by_uid: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        returns, args = _returns(list(c.args))
        program = await self._program(sel, args, charset=True)
        if program.modseq:
            await self._enable_condstore()
        matches = await search.evaluate(program, sel.messages, store.raw)
        if returns is None and self.rev2:  # RFC 9051 §7.3.4: ESEARCH replaces SEARCH
            returns = ["ALL"]
        if returns is None:
            await self._send(_listed("SEARCH", matches, by_uid, program.modseq))
        else:
            await self._esearch(c, matches, returns, by_uid, program.modseq)
        await self._done(c)

    async def cmd_uid_search(self, c: Command) -> None:
        await self.cmd_search(c, by_uid=True)

    async def cmd_sort(self, c: Command, by_uid: bool = False) -> None:
        """SORT [RETURN (options)] (criteria) charset search-keys (RFC 5256, RFC 5267 ESORT);
        ties in every criterion are ordered by sequence number."""
        sel = self._require_selected()
        store = self._require_auth()
        returns, args = _returns(list(c.args))
        if len(args) < 3:
            raise Bad("SORT takes criteria, a charset and search keys")
        criteria = search.parse_sort(args[0])
        try:
            search.check_charset(astring(args[1]))
        except search.BadCharset as exc:
            raise No(_BADCHARSET) from exc
        program = await self._program(sel, args[2:], charset=False)
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
        if returns is None:
            await self._send(_listed("SORT", ordered, by_uid, program.modseq))
        else:
            await self._esearch(c, ordered, returns, by_uid, program.modseq)
        await self._done(c)

    async def cmd_uid_sort(self, c: Command) -> None:
        await self.cmd_sort(c, by_uid=True)

    async def _esearch(
        self,
        c: Command,
        matches: list[search.Candidate],
        returns: list[str],
        by_uid: bool,
        modseq: bool,
    ) -> None:
        """The ESEARCH answer (RFC 4731) of SEARCH RETURN and SORT RETURN (RFC 5267 §3.2: MIN
        and MAX are the first and last in the sort order, ALL lists them in that order), and
        what SAVE keeps (RFC 5182 §2.1: only MIN and MAX when they come without ALL or COUNT)."""
        found = [m.uid if by_uid else m.seq for m in matches]
        only_ends = bool({"MIN", "MAX"} & set(returns)) and not {"ALL", "COUNT"} & set(returns)
        if "SAVE" in returns:
            kept = matches
            if only_ends and matches:
                kept = ([matches[0]] if "MIN" in returns else []) + (
                    [matches[-1]] if "MAX" in returns else []
                )
            self.saved_uids = sorted({m.uid for m in kept})
        if returns == ["SAVE"]:  # SAVE alone answers nothing (RFC 5182 §2.1)
            return
        answer = [f'(TAG "{c.tag}")'] + (["UID"] if by_uid else [])
        if found and "MIN" in returns:
            answer.append(f"MIN {found[0]}")
        if found and "MAX" in returns:
            answer.append(f"MAX {found[-1]}")
        if "COUNT" in returns:
            answer.append(f"COUNT {len(found)}")
        if found and "ALL" in returns:
            answer.append(f"ALL {_in_order(found)}")
        if modseq and found:  # RFC 4731 §3.2: MIN or MAX alone: the messages they return
            ends = ([matches[0]] if "MIN" in returns else []) + (
                [matches[-1]] if "MAX" in returns else []
            )
            answer.append(f"MODSEQ {max(m.modseq for m in (ends if only_ends else matches))}")
        await self._send("* ESEARCH " + " ".join(answer))

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


def _listed(name: str, matches: Sequence[search.Candidate], by_uid: bool, modseq: bool) -> str:
    """``* SEARCH`` or ``* SORT`` and the numbers; with a MODSEQ key, the highest mod-sequence
    of the matches (RFC 7162 §3.1.5: none when nothing matched)."""
    numbers = "".join(f" {m.uid if by_uid else m.seq}" for m in matches)
    highest = max((m.modseq for m in matches), default=None) if modseq else None
    return f"* {name}{numbers}" + (f" (MODSEQ {highest})" if highest is not None else "")


def _in_order(numbers: list[int]) -> str:
    """A sequence set listing ``numbers`` in their order, runs of consecutive ascending numbers
    as ranges (for a SEARCH, sorted: the shortest set)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


def _returns(args: list[Token]) -> tuple[list[str] | None, list[Token]]:
    """The RETURN options in front of the arguments (RFC 4731, RFC 5267), and the rest."""
    if args and isinstance(args[0], Atom) and args[0].upper == "RETURN":
        if len(args) < 2 or not isinstance(args[1], ParenList):
            raise Bad("RETURN takes a list of options")
        return _return_options(args[1]), args[2:]
    return None, args


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
