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
from dataclasses import dataclass
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
    state: tuple[int, int] = (0, 0)  # (uidnext, highest_modseq) last seen

    def seq_of(self, uid: int) -> int | None:
        for index, m in enumerate(self.messages, 1):
            if m.uid == uid:
                return index
        return None


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
        await self._sync(expunges=c.name not in NO_EXPUNGE_DURING)
        await self._send(f"{c.tag} OK {text or c.name + ' completed'}")

    async def _sync(self, expunges: bool) -> None:
        """Untagged EXPUNGE, EXISTS and FETCH FLAGS for changes made by other sessions or the
        gateway since this session last looked (RFC 9051 §7.5.1, §5.2)."""
        sel, store = self.selected, self.store
        if sel is None or store is None:
            return
        state = await store.state(sel.folder.id)
        if state == sel.state:
            return
        fresh = await store.flag_states(sel.folder.id)
        pending = False
        for index in range(len(sel.messages) - 1, -1, -1):
            if sel.messages[index].uid not in fresh:
                if expunges:
                    await self._send(f"* {index + 1} EXPUNGE")
                    del sel.messages[index]
                else:
                    pending = True
        for index, m in enumerate(sel.messages, 1):
            now = fresh.get(m.uid)
            if now is not None and now[0] != m.flags:
                m.flags, m.modseq = now
                mod = f" MODSEQ ({m.modseq})" if self.condstore else ""
                await self._send(f"* {index} FETCH (FLAGS ({' '.join(m.flags)}) UID {m.uid}{mod})")
        last = sel.messages[-1].uid if sel.messages else 0
        new = (
            await store.messages(sel.folder.id, after_uid=last)
            if any(uid > last for uid in fresh)
            else []
        )
        if new:
            sel.messages.extend(new)
            await self._send(f"* {len(sel.messages)} EXISTS")
        if not pending:
            sel.state = state


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
