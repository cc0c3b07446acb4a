"""Folders and subscriptions: LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB,
CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.

What LIST and LSUB answer is worked out by :func:`plan_list`, a pure function of the request,
the account's folders and its subscribed names (a subscription is a name: it may outlive its
folder, RFC 3501 §6.3.6). Patterns are matched by :class:`Pattern` in time linear in the name,
whatever wildcards a client sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
)
from espace_sante.mailbox.imap.mailstore import (
    FolderError,
    FolderInfo,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ParenList,
    Token,
)

SEPARATOR = "/"
#: Selection options (RFC 5258 §3.1, RFC 6154 §5.1); REMOTE selects nothing more here.
_SELECTION = {"SUBSCRIBED", "SPECIAL-USE", "REMOTE", "RECURSIVEMATCH"}
#: The selection options that are criteria a mailbox meets or not, in CHILDINFO order.
_CRITERIA = ("SUBSCRIBED", "SPECIAL-USE")
#: Patterns × names above which LIST is worked out off the event loop.
_INLINE_WORK = 20_000  # about 0.1 s at worst (~4 µs per element and 200-character name)


@dataclass(frozen=True)
class ListRequest:
    """A LIST or LSUB command, its patterns already joined to the reference."""

    patterns: list[str]
    lsub: bool = False
    extended: bool = False  # LIST-EXTENDED syntax: selection, several patterns or RETURN
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status_items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListEntry:
    name: str
    attributes: list[str]
    childinfo: list[str]  # RFC 5258 §3.5 CHILDINFO criteria, with RECURSIVEMATCH
    exists: bool  # a folder (LIST-STATUS answers for these only, RFC 5819 §2)


class FolderCommands(SessionCore):
    """The folder hierarchy and the subscriptions."""

    async def cmd_list(self, c: Command, lsub: bool = False) -> None:
        """LIST with the LIST-EXTENDED selection (SUBSCRIBED, SPECIAL-USE, RECURSIVEMATCH),
        several patterns and RETURN options (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS: RFC
        5258, 5819, 6154); LSUB (RFC 3501 §6.3.9)."""
        store = self._require_auth()
        request, delimiter_only = self._list_request(c, lsub)
        if delimiter_only:
            await self._send(f'* {c.name} (\\Noselect) "{SEPARATOR}" ""')
            await self._send(f"{c.tag} OK {c.name} completed")
            return
        folders = {f.name: f for f in await store.folders()}
        subscribed = await store.subscribed()
        work = (len(folders) + len(subscribed)) * sum(len(p) + 1 for p in request.patterns)
        if work > _INLINE_WORK:  # a hostile mix of patterns and folders: keep the loop free
            entries = await asyncio.to_thread(plan_list, request, folders, subscribed)
        else:
            entries = plan_list(request, folders, subscribed)
        for entry in entries:
            name = self._name_out(entry.name)
            extra = ""
            if entry.childinfo:
                extra = " (CHILDINFO (" + " ".join(f'"{k}"' for k in entry.childinfo) + "))"
            attrs = " ".join(entry.attributes)
            await self._send(f'* {c.name} ({attrs}) "{SEPARATOR}" {name}{extra}')
            if request.status_items and entry.exists:
                values = await store.status(folders[entry.name])
                pairs = " ".join(f"{k} {values[k]}" for k in request.status_items)
                await self._send(f"* STATUS {name} ({pairs})")
        await self._send(f"{c.tag} OK {c.name} completed")

    def _list_request(self, c: Command, lsub: bool) -> tuple[ListRequest, bool]:
        """The request, and whether it is the base ``LIST ref ""`` asking for the delimiter."""
        args = list(c.args)
        selection: set[str] = set()
        extended = False
        first = args[0] if args else None
        if isinstance(first, ParenList) and not lsub:
            args.pop(0)
            selection = {_option(t) for t in first.items}
            extended = True
            if not selection <= _SELECTION:
                raise Bad("unknown LIST selection option")
            if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
                raise Bad("RECURSIVEMATCH needs another selection option (RFC 5258 §3.1)")
        returns: set[str] = set()
        status_items: list[str] = []
        if len(args) == 4 and isinstance(args[2], Atom) and args[2].upper == "RETURN" and not lsub:
            if not isinstance(args[3], ParenList):
                raise Bad("RETURN takes a list of options")
            returns, status_items = _list_returns(args[3])
            extended = True
            args = args[:2]
        if len(args) != 2 or isinstance(args[0], ParenList):
            raise Bad(f"{c.name} takes a reference and a pattern")
        if isinstance(args[1], ParenList):
            if lsub or not args[1].items:
                raise Bad(f"{c.name} takes a reference and a pattern")
            raw_patterns = list(args[1].items)
            extended = True
        else:
            raw_patterns = [args[1]]
        reference = self._list_text(args[0])
        texts = [self._list_text(t) for t in raw_patterns]
        if not extended and not lsub and texts == [""]:
            return ListRequest([]), True
        patterns = (
            []
            if reference is None
            else list(dict.fromkeys(reference + t for t in texts if t is not None))
        )
        request = ListRequest(
            patterns,
            lsub=lsub,
            extended=extended,
            selection=frozenset(selection),
            returns=frozenset(returns),
            status_items=status_items,
        )
        return request, False

    def _list_text(self, token: Token) -> str | None:
        """A reference or pattern; None for one no name can match (not modified UTF-7)."""
        try:
            return self._pattern_in(token)
        except No:
            return None

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


# -- what LIST and LSUB answer --------------------------------------------------------------


def plan_list(
    request: ListRequest, folders: dict[str, FolderInfo], subscribed: set[str]
) -> list[ListEntry]:
    """The answer to a LIST or LSUB, in name order.

    LIST without selection criteria lists the folders and the hierarchy levels above them
    that are no folder (``\\Noselect``, or ``\\NonExistent`` in the extended syntax: RFC 5258
    §3, as Dovecot answers). With SUBSCRIBED it lists subscribed names, folders or not
    (``\\NonExistent``); with RECURSIVEMATCH also the names matching a pattern that have a
    descendant meeting the criteria which matches no pattern, and CHILDINFO on every listed
    name with such descendants (RFC 5258 §3.1 notes 1 and 2, §3.5, the examples of §5).
    LSUB lists subscribed names as ``()`` and, for ``%``, a name that is not subscribed but
    has subscribed descendants the pattern does not reach, as ``\\Noselect`` (RFC 3501 §6.3.9).
    """
    patterns = [Pattern(p) for p in request.patterns]
    matched: dict[str, bool] = {}

    def matches(name: str) -> bool:
        hit = matched.get(name)
        if hit is None:
            analysed = AnalysedName(name)
            hit = matched[name] = any(p.match(analysed) for p in patterns)
        return hit

    if not patterns:
        return []
    with_children = {a for n in folders for a in _ancestors(n)}
    if request.lsub:
        return _plan_lsub(subscribed, folders, matches)
    criteria = [k for k in _CRITERIA if k in request.selection]
    if "SUBSCRIBED" in criteria:
        chosen = {n for n in subscribed if _meets(n, criteria, folders, subscribed)}
        listed = set(chosen)
    elif criteria:
        chosen = {n for n in folders if _meets(n, criteria, folders, subscribed)}
        listed = set(chosen)
    else:
        chosen = set(folders)
        listed = chosen | with_children  # the levels above folders, folders or not
    recursive = "RECURSIVEMATCH" in request.selection
    below: set[str] = set()  # names with a descendant meeting the criteria
    below_unmatched: set[str] = set()  # ... one that matches no pattern
    if recursive:
        for n in chosen:
            ancestors = _ancestors(n)
            below.update(ancestors)
            if not matches(n):
                below_unmatched.update(ancestors)
    show_subscribed = "SUBSCRIBED" in request.returns or "SUBSCRIBED" in request.selection
    entries = []
    for name in sorted(listed | below_unmatched):
        if not matches(name):
            continue
        folder = folders.get(name)
        attributes = []
        if folder is None:
            attributes.append("\\NonExistent" if request.extended else "\\Noselect")
        attributes.append("\\HasChildren" if name in with_children else "\\HasNoChildren")
        if show_subscribed and name in subscribed:
            attributes.append("\\Subscribed")
        if folder is not None and folder.special_use:
            attributes.append(folder.special_use)
        childinfo = criteria if recursive and name in below else []
        entries.append(ListEntry(name, attributes, list(childinfo), folder is not None))
    return entries


def _plan_lsub(
    subscribed: set[str], folders: dict[str, FolderInfo], matches: Callable[[str], bool]
) -> list[ListEntry]:
    parents_unmatched = {a for n in subscribed if not matches(n) for a in _ancestors(n)}
    entries = []
    for name in sorted(subscribed | parents_unmatched):
        if not matches(name):
            continue
        if name in subscribed:
            entries.append(ListEntry(name, [], [], name in folders))
        else:
            entries.append(ListEntry(name, ["\\Noselect"], [], False))
    return entries


def _meets(
    name: str, criteria: Iterable[str], folders: dict[str, FolderInfo], subs: set[str]
) -> bool:
    for k in criteria:
        if k == "SUBSCRIBED" and name not in subs:
            return False
        if k == "SPECIAL-USE":
            folder = folders.get(name)
            if folder is None or not folder.special_use:
                return False
    return True


def _ancestors(name: str) -> list[str]:
    parts = name.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


class Pattern:
    """A LIST pattern (RFC 3501 §6.3.8): ``*`` matches anything, ``%`` anything but the
    hierarchy separator; INBOX matches case-insensitively.

    Matching keeps the set of name prefixes the pattern read so far can match, as the bits of
    an integer: each pattern element is one operation on it, so a name is matched in time
    linear in the pattern (a regular expression of many ``%`` backtracks exponentially).
    """

    def __init__(self, text: str) -> None:
        tokens: list[str] = []
        for ch in text:
            if ch in "*%" and tokens and tokens[-1] in ("*", "%"):
                tokens[-1] = "*" if "*" in (ch, tokens[-1]) else "%"  # "%*", "**" are "*"
            else:
                tokens.append(ch)
        self.tokens = tokens
        self.text = text

    def match(self, name: str | AnalysedName) -> bool:
        target = name if isinstance(name, AnalysedName) else AnalysedName(name)
        fold = target.fold
        state = 1  # bit i: the pattern read so far matches name[:i]
        for token in self.tokens:
            if token == "*":
                state = target.full & ~((state & -state) - 1)
            elif token == "%":
                for mask in target.levels:
                    inside = state & mask
                    if inside:
                        state |= mask & ~((inside & -inside) - 1)
            else:
                state = (state & target.chars.get(token.upper() if fold else token, 0)) << 1
            if not state:
                return False
        return bool(state >> target.size & 1)


class AnalysedName:
    """A name as :class:`Pattern` reads it, worked out once for all the patterns of a LIST:
    for each character the bit set of its positions, and the positions of each level."""

    __slots__ = ("chars", "fold", "full", "levels", "size")

    def __init__(self, name: str) -> None:
        self.fold = name == "INBOX"  # INBOX in any case (RFC 3501 §5.1); not INBOX/...
        self.size = len(name)
        self.full = (1 << (self.size + 1)) - 1
        self.chars: dict[str, int] = {}
        self.levels: list[int] = []  # the positions from a level's start to its separator
        start = 0
        for i, ch in enumerate(name):
            key = ch.upper() if self.fold else ch
            self.chars[key] = self.chars.get(key, 0) | (1 << i)
            if ch == SEPARATOR:
                self.levels.append((1 << (i + 1)) - (1 << start))
                start = i + 1
        self.levels.append((1 << (self.size + 1)) - (1 << start))


# -- arguments -------------------------------------------------------------------------------

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


HANDLERS: dict[str, Handler[FolderCommands]] = {
    "LIST": FolderCommands.cmd_list,
    "LSUB": FolderCommands.cmd_lsub,
    "CREATE": FolderCommands.cmd_create,
    "DELETE": FolderCommands.cmd_delete,
    "RENAME": FolderCommands.cmd_rename,
    "SUBSCRIBE": FolderCommands.cmd_subscribe,
    "UNSUBSCRIBE": FolderCommands.cmd_unsubscribe,
}
