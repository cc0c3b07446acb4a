"""What every IMAP command shares: the session's state (RFC 9051 §3 states, the selected
folder as this session last reported it), sending responses, mailbox-name conversions, the
state checks, message-set resolution, and reporting other sessions' changes at the end of a
command. The commands themselves live in ``commands``, one module per command family.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.mailbox.imap import mutf7
from espace_sante.mailbox.imap.mailstore import (
    AccountMailStore,
    FolderInfo,
    MessageRow,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    Limits,
    ParenList,
    String,
    Token,
)
from espace_sante.mailbox.imap.seqset import SequenceSet
from espace_sante.mailbox.imapmeta import imap_quote
from espace_sante.storage.runtime import Storage

SYSTEM_FLAGS = r"\Answered \Flagged \Deleted \Seen \Draft"


class Bad(Exception):
    """A command that cannot be carried out as written: tagged BAD."""


class No(Exception):
    """A command refused: tagged NO, with an optional response code."""


class Logout(Exception):
    """The session ends (LOGOUT, or an autologout)."""


@dataclass
class Selected:
    folder: FolderInfo
    readonly: bool
    messages: list[MessageRow]
    #: (uidnext, highest_modseq) of the folder when this session was last told of every change
    #: in it; a change made by this session does not move it (others may have come before).
    state: tuple[int, int] = (0, 0)
    #: The folder's keywords as the last FLAGS response listed them.
    keywords: list[str] = field(default_factory=list)

    def seq_of(self, uid: int) -> int | None:
        for index, m in enumerate(self.messages, 1):
            if m.uid == uid:
                return index
        return None

    def recent_count(self) -> int:
        return sum(1 for m in self.messages if m.recent)


S = TypeVar("S", bound="SessionCore")
Handler = Callable[[S, Command], Awaitable[None]]
"""A command's implementation: a session method taking the parsed command."""


class SessionCore:
    """The state and helpers of one connection; the command families are mixins over it."""

    def __init__(
        self,
        storage: Storage,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: ssl.SSLContext,
        hostname: str,
        idle_timeout: float,
        already_tls: bool,
        limits: Limits | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        signer: TokenSigner | None = None,
    ) -> None:
        self.storage = storage
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.hostname = hostname
        self.idle_timeout = idle_timeout
        self.secure = already_tls
        self.limits = limits or Limits()
        self.sleep = sleep
        self.signer = signer
        self.condstore = False  # RFC 7162: enabled by ENABLE or the first CONDSTORE use
        self.rev2 = False  # RFC 9051 responses, after ENABLE IMAP4rev2
        self.saved_uids: list[int] = []  # RFC 5182 SEARCHRES "$"
        self.account_id: int | None = None
        self.address = ""
        self.store: AccountMailStore | None = None
        self.selected: Selected | None = None
        peer = writer.get_extra_info("peername")
        self.remote = peer[0] if peer else "?"

    async def _send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def _enable_condstore(self) -> None:
        """A CONDSTORE enabling command (RFC 7162 §3.1): from now on every untagged FETCH that
        reports a flag change carries UID and MODSEQ; the first one while a folder is selected
        also reports its HIGHESTMODSEQ (as Dovecot does, before the command's other responses).
        """
        if self.condstore:
            return
        self.condstore = True
        if self.selected is not None and self.store is not None:
            _, highest = await self.store.state(self.selected.folder.id)
            await self._send(f"* OK [HIGHESTMODSEQ {highest}] Highest")

    async def _continue(self) -> None:
        await self._send("+ Ready for literal data")

    def _capabilities(self) -> str:
        caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "UNSELECT"]
        if self.account_id is not None:
            caps += [
                "NAMESPACE",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "IDLE",
                "ENABLE",
                "CONDSTORE",
                "SORT",
                "SORT=DISPLAY",
                "CHILDREN",
                "ESEARCH",
                "ESORT",
                "SEARCHRES",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "MULTIAPPEND",
                "BINARY",
                "STATUS=SIZE",
            ]
        if self.account_id is None:
            if self.secure:
                caps += ["AUTH=PLAIN", "AUTH=LOGIN", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]
            else:
                caps += ["STARTTLS", "LOGINDISABLED"]
        return " ".join(caps)

    # -- mailbox names: modified UTF-7 for IMAP4rev1 clients, UTF-8 once IMAP4rev2 is enabled --

    def _name_in(self, token: Token, strip_separator: bool = False) -> str:
        """The stored (Unicode) name of a mailbox name a client sent."""
        text = self._pattern_in(token)
        return mailbox_name(text.rstrip("/") if strip_separator else text)

    def _pattern_in(self, token: Token) -> str:
        if isinstance(token, String):
            try:
                text = token.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Bad("mailbox name is not UTF-8") from exc
        else:
            text = astring(token)
        if self.rev2 or not text.isascii():
            return text  # IMAP4rev2, or a rev1 client sending UTF-8 anyway
        try:
            return mutf7.decode(text)
        except mutf7.MUtf7Error as exc:  # a name no mailbox can have: NO, as Dovecot answers
            raise No(f"[CANNOT] invalid modified UTF-7 mailbox name: {exc}") from exc

    def _name_out(self, name: str) -> str:
        return imap_quote(name if self.rev2 else mutf7.encode(name))

    async def _list_line(self, store: AccountMailStore, folder: FolderInfo) -> str:
        """The LIST response of one folder, as SELECT sends it under IMAP4rev2."""
        names = {f.name for f in await store.folders()}
        children = any(n.startswith(folder.name + "/") for n in names)
        attrs = ["\\HasChildren" if children else "\\HasNoChildren"]
        if folder.special_use:
            attrs.append(folder.special_use)
        return f'* LIST ({" ".join(attrs)}) "/" {self._name_out(folder.name)}'

    # -- state checks ---------------------------------------------------------------------------

    def _require_auth(self) -> AccountMailStore:
        if self.store is None:
            raise Bad("log in first")
        return self.store

    def _require_selected(self) -> Selected:
        self._require_auth()
        if self.selected is None:
            raise Bad("select a mailbox first")
        return self.selected

    def _require_writable(self) -> tuple[Selected, AccountMailStore]:
        sel = self._require_selected()
        if sel.readonly:
            raise No("[READ-ONLY] the mailbox is open read-only")
        assert self.store is not None
        return sel, self.store

    # -- message sets and reporting changes -----------------------------------------------------

    def _targets(
        self, sel: Selected, numbers: SequenceSet, by_uid: bool
    ) -> list[tuple[int, MessageRow]]:
        if numbers.saved:  # "$": the last SEARCH ... RETURN (SAVE) result (RFC 5182)
            saved = set(self.saved_uids)
            return [(i, m) for i, m in enumerate(sel.messages, 1) if m.uid in saved]
        if not sel.messages:
            if by_uid:
                return []
            raise Bad("no messages in the mailbox")
        if by_uid:  # resolved once; each UID tested by bisection, not against every range
            spans = numbers.spans(sel.messages[-1].uid)
            return [(i, m) for i, m in enumerate(sel.messages, 1) if m.uid in spans]
        count = len(sel.messages)
        if any(n != -1 and n > count for r in numbers.ranges for n in r):
            raise Bad("message number beyond the mailbox")
        return [(n, sel.messages[n - 1]) for n in numbers.numbers(count)]

    async def _done(self, c: Command, text: str = "") -> None:
        """Report what changed in the selected folder, then the tagged OK."""
        pending = await self._sync(expunges=c.name not in NO_EXPUNGE_DURING)
        if pending and not text:  # RFC 9051 §7.1: the client may want to NOOP soon
            text = f"[EXPUNGEISSUED] {c.name} completed; some messages were expunged"
        await self._send(f"{c.tag} OK {text or c.name + ' completed'}")

    async def _sync(self, expunges: bool) -> bool:
        """Untagged EXPUNGE, FLAGS, FETCH FLAGS, EXISTS and RECENT for the changes made by other
        sessions, the gateway or this session's own APPEND, COPY or EXPUNGE since this session
        last looked (RFC 9051 §7.5.1, §5.2; RFC 3501 §7.3.2). Returns whether expunges are left
        to report, because ``expunges`` did not allow them during this command."""
        sel, store = self.selected, self.store
        if sel is None or store is None:
            return False
        state = await store.state(sel.folder.id)
        if state == sel.state:
            return False
        last = sel.messages[-1].uid if sel.messages else 0
        changes = await store.changes(sel.folder.id, sel.state[1], last, len(sel.messages))
        recent = sel.recent_count()
        pending = False
        if changes.present is not None:
            for index in range(len(sel.messages) - 1, -1, -1):
                if sel.messages[index].uid not in changes.present:
                    if expunges:
                        await self._send(f"* {index + 1} EXPUNGE")
                        del sel.messages[index]
                    else:
                        pending = True
        updated = [
            (index, m, changes.flags[m.uid])
            for index, m in enumerate(sel.messages, 1)
            if m.uid in changes.flags
        ]
        seen = [(modseq, flags) for _, _, (flags, modseq) in updated]
        seen += [(r.modseq, r.flags) for r in changes.new]
        seen.sort(key=lambda change: change[0])  # new keywords in the order they came
        await self._announce_keywords(sel, [flags for _, flags in seen])
        for index, m, (flags, modseq) in updated:
            shown = flags != m.flags
            m.flags, m.modseq = flags, modseq
            if shown:
                mod = f" MODSEQ ({m.modseq})" if self.condstore else ""
                text = " ".join(m.shown_flags)
                await self._send(f"* {index} FETCH (FLAGS ({text}) UID {m.uid}{mod})")
        if changes.new:
            await self._mark_recent(store, sel, changes.new)
            sel.messages.extend(changes.new)
            await self._send(f"* {len(sel.messages)} EXISTS")
        if not self.rev2 and sel.recent_count() != recent:
            await self._send(f"* {sel.recent_count()} RECENT")
        if not pending:
            sel.state = state
        return pending

    async def _mark_recent(
        self, store: AccountMailStore, sel: Selected, rows: list[MessageRow]
    ) -> None:
        """Set \\Recent on ``rows``, new to this session (RFC 3501 §2.3.2): a message is recent
        for the first session that selects its folder read-write after it arrived, which takes
        that status away from every later one; EXAMINE shows it without taking it. IMAP4rev2
        has no \\Recent: such a session leaves it to the others."""
        if self.rev2 or not rows:
            return
        if sel.readonly:
            first = await store.first_recent_uid(sel.folder.id)
        else:
            first = await store.claim_recent(sel.folder.id, rows[-1].uid)
        for row in rows:
            row.recent = row.uid >= first

    def _flags_lines(self, sel: Selected) -> list[str]:
        """FLAGS and PERMANENTFLAGS: the system flags and the folder's keywords."""
        flags = " ".join([*SYSTEM_FLAGS.split(), *sel.keywords])
        permanent = "" if sel.readonly else f"{flags} \\*"
        return [f"* FLAGS ({flags})", f"* OK [PERMANENTFLAGS ({permanent})] flags"]

    async def _announce_keywords(self, sel: Selected, flag_lists: list[list[str]]) -> None:
        """A new FLAGS (and PERMANENTFLAGS) when a keyword appears in the folder, to be sent
        before any FETCH that shows it (RFC 9051 §7.3.5)."""
        known = set(sel.keywords)
        new = [f for flags in flag_lists for f in flags if f[:1] != "\\" and f not in known]
        if not new:
            return
        sel.keywords.extend(dict.fromkeys(new))
        for line in self._flags_lines(sel):
            await self._send(line)


#: Commands during which an EXPUNGE may not be sent (RFC 9051 §7.5.1).
NO_EXPUNGE_DURING = {"FETCH", "STORE", "SEARCH", "SORT"}


def no_args(c: Command) -> None:
    if c.args:
        raise Bad(f"{c.name} takes no arguments")


def astring(token: Token) -> str:
    if isinstance(token, Atom):
        return token.value
    if isinstance(token, String):
        return token.value.decode("utf-8", "replace")
    raise Bad("expected a string")


def mailbox_name(name: str) -> str:
    if not name or len(name) > 255 or any(ord(ch) < 0x20 for ch in name):
        raise Bad("invalid mailbox name")
    return "INBOX" if name.upper() == "INBOX" else name


def flag_list(tokens: list[Token]) -> list[str]:
    if len(tokens) == 1 and isinstance(tokens[0], ParenList):
        tokens = list(tokens[0].items)
    flags = []
    for t in tokens:
        if not isinstance(t, Atom) or not _FLAG.fullmatch(t.value):
            raise Bad("invalid flag")
        value = t.value
        if value.startswith("\\"):
            canonical = _SYSTEM.get(value.upper())
            if canonical is None:
                raise Bad(f"unknown system flag {value}")
            value = canonical
        flags.append(value)
    return list(dict.fromkeys(flags))


_SYSTEM = {f.upper(): f for f in SYSTEM_FLAGS.split()}


_FLAG = re.compile(r"\\?[!#-'*+\-.0-9:;<=>?@A-Z^-z|~]{1,100}")
