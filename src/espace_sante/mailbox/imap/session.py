"""One IMAP connection: the state machine of RFC 9051 §3 (not authenticated, authenticated,
selected, logout) and the commands implemented so far.

Implemented: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (PLAIN, XOAUTH2,
OAUTHBEARER; SASL-IR), ID, ENABLE, NAMESPACE, LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, STATUS, SELECT, EXAMINE, CHECK, FETCH, STORE (UNCHANGEDSINCE), EXPUNGE, COPY, MOVE,
SEARCH, SORT (and their UID forms, with UIDPLUS answers), APPEND and MULTIAPPEND, IDLE, CLOSE,
UNSELECT.
Changes made by other sessions or the gateway are reported at the end of each command and
during IDLE. Anything else is answered ``BAD`` and the session goes on. Only what works is
advertised.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from espace_sante.accounts import mail_auth
from espace_sante.accounts.tokens import TokenError, TokenSigner
from espace_sante.mailbox.imap import fetch, mutf7, search
from espace_sante.mailbox.imap.errors import log_failure
from espace_sante.mailbox.imap.mailstore import (
    AccountMailStore,
    FolderError,
    FolderInfo,
    MessageRow,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ConnectionDropped,
    Limits,
    LiteralTooLarge,
    ParenList,
    ParseError,
    String,
    Token,
    parse_command,
    read_command,
)
from espace_sante.mailbox.imap.seqset import SequenceSet, SequenceSetError, compress
from espace_sante.mailbox.imapmeta import imap_quote
from espace_sante.storage.runtime import Storage

log = logging.getLogger(__name__)

#: How often an IDLE session looks for changes (deliveries come from other processes too).
IDLE_POLL_SECONDS = 1.0

SYSTEM_FLAGS = r"\Answered \Flagged \Deleted \Seen \Draft"


class _Bad(Exception):
    """A command that cannot be carried out as written: tagged BAD."""


class _No(Exception):
    """A command refused: tagged NO, with an optional response code."""


class _Logout(Exception):
    pass


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


class ImapSession:
    """Serves one connection until LOGOUT, an idle timeout or the client leaving."""

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

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._send(f"* OK [CAPABILITY {self._capabilities()}] {self.hostname} ready")
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(
                        read_command(self.reader, self.limits, self._continue),
                        timeout=self.idle_timeout,
                    )
                except TimeoutError:
                    await self._send("* BYE Autologout; idle for too long")
                    return
                except LiteralTooLarge as exc:
                    await self._send(f"{exc.tag or '*'} BAD [TOOBIG] {exc.reason}")
                    if exc.must_close:
                        await self._send("* BYE Too much data")
                        return
                    continue
                except ParseError as exc:
                    log.info("imap: BAD from %s: %s", self.remote, exc.reason)
                    await self._send(f"{exc.tag or '*'} BAD {exc.reason}")
                    continue
                await self._handle(raw)
        except (_Logout, ConnectionDropped, ConnectionError):
            return
        finally:
            if not self.writer.is_closing():
                self.writer.close()

    async def _handle(self, raw: bytes) -> None:
        try:
            command = parse_command(raw, self.limits)
        except ParseError as exc:
            await self._send(f"{exc.tag or '*'} BAD {exc.reason}")
            return
        handler = _HANDLERS.get(command.name)
        if handler is None:
            await self._send(f"{command.tag} BAD unknown or unsupported command {command.name}")
            return
        try:
            await handler(self, command)
        except _Bad as exc:
            await self._send(f"{command.tag} BAD {exc}")
        except _No as exc:
            await self._send(f"{command.tag} NO {exc}")
        except (ParseError, SequenceSetError) as exc:
            await self._send(f"{command.tag} BAD {exc}")
        except (_Logout, ConnectionDropped, ConnectionError):
            raise
        except Exception as exc:
            log_failure(log, f"imap: {command.name} failed for account {self.account_id}", exc)
            await self._send(f"{command.tag} NO [SERVERBUG] internal error, try again later")

    async def _send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

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
                "CHILDREN",
                "ESEARCH",
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
        return _mailbox_name(text.rstrip("/") if strip_separator else text)

    def _pattern_in(self, token: Token) -> str:
        if isinstance(token, String):
            try:
                text = token.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Bad("mailbox name is not UTF-8") from exc
        else:
            text = _astring(token)
        if self.rev2 or not text.isascii():
            return text  # IMAP4rev2, or a rev1 client sending UTF-8 anyway
        try:
            return mutf7.decode(text)
        except mutf7.MUtf7Error as exc:
            raise _Bad(f"invalid modified UTF-7 mailbox name: {exc}") from exc

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

    # -- any state ------------------------------------------------------------------------------

    async def cmd_capability(self, c: Command) -> None:
        _no_args(c)
        await self._send(f"* CAPABILITY {self._capabilities()}")
        await self._send(f"{c.tag} OK CAPABILITY completed")

    async def cmd_noop(self, c: Command) -> None:
        _no_args(c)
        await self._done(c)

    async def cmd_logout(self, c: Command) -> None:
        _no_args(c)
        await self._send("* BYE logging out")
        await self._send(f"{c.tag} OK LOGOUT completed")
        raise _Logout

    # -- not authenticated ----------------------------------------------------------------------

    async def cmd_starttls(self, c: Command) -> None:
        _no_args(c)
        if self.secure:
            raise _Bad("TLS is already active")
        await self._send(f"{c.tag} OK Begin TLS negotiation now")
        await self.writer.start_tls(self.tls)
        self.secure = True

    async def cmd_login(self, c: Command) -> None:
        self._require_unauthenticated()
        if len(c.args) != 2:
            raise _Bad("LOGIN takes a user name and a password")
        user, password = (_astring(a) for a in c.args)
        await self._authenticate(c, user, password)

    async def cmd_authenticate(self, c: Command) -> None:
        self._require_unauthenticated()
        if not c.args or not isinstance(c.args[0], Atom) or len(c.args) > 2:
            raise _Bad("AUTHENTICATE takes a mechanism and an optional initial response")
        mechanism = c.args[0].upper
        if mechanism not in _MECHANISMS:
            raise _No("[CANNOT] unsupported authentication mechanism")
        if len(c.args) == 2:
            response = _astring(c.args[1])
        else:
            await self._send("+ VXNlcm5hbWU6" if mechanism == "LOGIN" else "+ ")  # "Username:"
            response = await self._sasl_line()
        decoded = _sasl_decode(response)
        if mechanism == "LOGIN":  # RFC draft-murchison-sasl-login: user, then password
            user = decoded.decode("utf-8", "replace")
            await self._send("+ UGFzc3dvcmQ6")  # "Password:"
            password = _sasl_decode(await self._sasl_line()).decode("utf-8", "replace")
            await self._authenticate(c, user, password)
            return
        if mechanism == "PLAIN":
            parts = decoded.split(b"\x00")
            if len(parts) != 3:
                raise _Bad("malformed PLAIN response")
            authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
            acting_for = authzid if authzid and authzid.lower() != user.lower() else None
            await self._authenticate(c, user, password, acting_for)
            return
        user, token = _bearer(mechanism, decoded)
        await self._authenticate_token(c, mechanism, user, token)

    async def _sasl_line(self) -> str:
        line = await asyncio.wait_for(self.reader.readline(), timeout=self.idle_timeout)
        if not line:
            raise ConnectionDropped
        if len(line) > 8192:
            raise _Bad("authentication response too long")
        text = line.strip().decode("ascii", "replace")
        if text == "*":
            raise _Bad("authentication cancelled")
        return text

    async def _authenticate_token(self, c: Command, mechanism: str, user: str, token: str) -> None:
        """XOAUTH2 / OAUTHBEARER with a token from ``accounts.tokens``."""
        try:
            account = await mail_auth.token_login(
                self.storage.sessions, self.signer, user, token, service="imap"
            )
        except TokenError as exc:
            log.info("imap: %s refused from %s: %s", mechanism, self.remote, exc)
            # RFC 7628 §3.2.2 / XOAUTH2: an error challenge, the client's dummy answer, then NO
            error = json.dumps({"status": "invalid_token", "schemes": "bearer"}).encode()
            await self._send("+ " + base64.b64encode(error).decode("ascii"))
            await self._sasl_line()
            raise _No("[AUTHENTICATIONFAILED] invalid token") from exc
        self.account_id = account.account_id
        self.address = account.address
        self.store = AccountMailStore(self.storage, account.account_id)
        log.info("imap: account %s logged in with a token from %s", account.account_id, self.remote)
        await self._send(f"{c.tag} OK [CAPABILITY {self._capabilities()}] logged in")

    def _require_unauthenticated(self) -> None:
        if self.account_id is not None:
            raise _Bad("already authenticated")
        if not self.secure:
            raise _No("[PRIVACYREQUIRED] use STARTTLS first")

    async def _authenticate(
        self, c: Command, user: str, password: str, acting_for: str | None = None
    ) -> None:
        """Check an app password; with ``acting_for`` (the SASL authorization identity), a
        guardian opens that dependant's mailbox, if the guardianship allows it."""
        outcome = await mail_auth.password_login(
            self.storage.sessions,
            user,
            password,
            service="imap",
            remote=self.remote,
            acting_for=acting_for,
        )
        if outcome.locked:
            raise _No("[AUTHENTICATIONFAILED] too many failed attempts, try again later")
        if outcome.forbidden:
            log.info("imap: a login from %s may not act for another account", self.remote)
            raise _No("[AUTHORIZATIONFAILED] not allowed to act for this account")
        account = outcome.login
        if account is None:
            await self.sleep(outcome.failure_delay)
            log.info("imap: failed login from %s", self.remote)
            raise _No("[AUTHENTICATIONFAILED] invalid credentials")
        self.account_id = account.account_id
        self.address = account.address
        self.store = AccountMailStore(self.storage, account.account_id)
        log.info("imap: account %s logged in from %s", account.account_id, self.remote)
        await self._send(f"{c.tag} OK [CAPABILITY {self._capabilities()}] logged in")

    # -- authenticated --------------------------------------------------------------------------

    def _require_auth(self) -> AccountMailStore:
        if self.store is None:
            raise _Bad("log in first")
        return self.store

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
                raise _Bad("unknown LIST selection option")
        returns: set[str] = set()
        status_items: list[str] = []
        if len(args) == 4 and isinstance(args[2], Atom) and args[2].upper == "RETURN":
            if not isinstance(args[3], ParenList):
                raise _Bad("RETURN takes a list of options")
            returns, status_items = _list_returns(args[3])
            args = args[:2]
        if len(args) != 2:
            raise _Bad(f"{c.name} takes a reference and a pattern")
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
            raise _Bad("CREATE takes a mailbox name")
        name = self._name_in(c.args[0], strip_separator=True)
        if name == "INBOX" or "%" in name or "*" in name or "//" in name or name.startswith("/"):
            raise _No("[CANNOT] invalid mailbox name")
        await self._folder_op(c, store.create_folder(name))

    async def cmd_delete(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 1:
            raise _Bad("DELETE takes a mailbox name")
        name = self._name_in(c.args[0])
        if self.selected is not None and self.selected.folder.name == name:
            self.selected = None
        await self._folder_op(c, store.delete_folder(name))

    async def cmd_rename(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 2:
            raise _Bad("RENAME takes two mailbox names")
        old, new = (self._name_in(a) for a in c.args)
        if new == "INBOX" or "%" in new or "*" in new:
            raise _No("[CANNOT] invalid new name")
        await self._folder_op(c, store.rename_folder(old, new))

    async def cmd_subscribe(self, c: Command, subscribed: bool = True) -> None:
        store = self._require_auth()
        if len(c.args) != 1:
            raise _Bad(f"{c.name} takes a mailbox name")
        name = self._name_in(c.args[0])
        await self._folder_op(c, store.set_subscribed(name, subscribed))

    async def cmd_unsubscribe(self, c: Command) -> None:
        await self.cmd_subscribe(c, subscribed=False)

    async def _folder_op(self, c: Command, operation: Awaitable[None]) -> None:
        try:
            await operation
        except FolderError as exc:
            raise _No(str(exc)) from exc
        await self._send(f"{c.tag} OK {c.name} completed")

    async def cmd_select(self, c: Command, readonly: bool = False) -> None:
        store = self._require_auth()
        if len(c.args) == 2 and c.args[1] == ParenList((Atom("CONDSTORE"),)):
            self.condstore = True
        elif len(c.args) != 1:
            raise _Bad(f"{c.name} takes a mailbox name and optionally (CONDSTORE)")
        if self.selected is not None and self.rev2:
            await self._send("* OK [CLOSED] previous mailbox closed")
        self.selected = None
        self.saved_uids = []
        folder = await store.folder(self._name_in(c.args[0]))
        if folder is None:
            raise _No("[NONEXISTENT] no such mailbox")
        state = await store.state(folder.id)
        messages = await store.messages(folder.id)
        self.selected = Selected(folder, readonly, messages, state)
        unseen = next((i for i, m in enumerate(messages, 1) if "\\Seen" not in m.flags), None)
        await self._send(f"* {len(messages)} EXISTS")
        if self.rev2:
            await self._send(await self._list_line(store, folder))
        else:
            await self._send("* 0 RECENT")
        await self._send(f"* FLAGS ({SYSTEM_FLAGS})")
        permanent = "" if readonly else f"{SYSTEM_FLAGS} \\*"
        await self._send(f"* OK [PERMANENTFLAGS ({permanent})] flags")
        if unseen is not None and not self.rev2:  # RFC 9051 dropped UNSEEN
            await self._send(f"* OK [UNSEEN {unseen}] first unseen")
        await self._send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        await self._send(f"* OK [UIDNEXT {folder.uidnext}] predicted next UID")
        await self._send(f"* OK [HIGHESTMODSEQ {state[1]}] changes so far")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        await self._send(f"{c.tag} OK [{mode}] {c.name} completed")

    async def cmd_examine(self, c: Command) -> None:
        await self.cmd_select(c, readonly=True)

    # -- selected -------------------------------------------------------------------------------

    def _require_selected(self) -> Selected:
        self._require_auth()
        if self.selected is None:
            raise _Bad("select a mailbox first")
        return self.selected

    async def cmd_close(self, c: Command) -> None:
        _no_args(c)
        self._require_selected()
        self.selected = None  # expunging \Deleted messages comes with EXPUNGE
        await self._send(f"{c.tag} OK CLOSE completed")

    async def cmd_unselect(self, c: Command) -> None:
        _no_args(c)
        self._require_selected()
        self.selected = None
        await self._send(f"{c.tag} OK UNSELECT completed")

    async def cmd_fetch(self, c: Command, by_uid: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        if len(c.args) not in (2, 3) or not isinstance(c.args[0], Atom):
            raise _Bad("FETCH takes a sequence set, items and optional modifiers")
        numbers = SequenceSet.parse(c.args[0].value)
        items = fetch.parse_items(c.args[1])
        if not by_uid:
            items = [i for i in items if i != "UID"] if not _asked_uid(c.args[1]) else items
        targets = self._targets(sel, numbers, by_uid)
        if len(c.args) == 3:
            changed_since = _changed_since(c.args[2])
            self.condstore = True
            targets = [(seq, row) for seq, row in targets if row.modseq > changed_since]
            if "MODSEQ" not in items:
                items.append("MODSEQ")
        if "MODSEQ" in items:
            self.condstore = True
        to_mark: list[MessageRow] = []
        for seq, row in targets:
            parts: list[bytes] = []
            raw: bytes | None = None
            for item in items:
                if isinstance(item, str):
                    parts.append(f"{item} {fetch.simple_value(item, row)}".encode())
                    continue
                if raw is None:
                    raw = await store.raw(row)
                if item.binary:
                    try:
                        data = fetch.decode_part(raw, row, item)
                    except fetch.UnknownTransferEncoding as exc:
                        raise _No("[UNKNOWN-CTE] cannot decode this part") from exc
                    if data is None:
                        raise _No("[NONEXISTENT] no such part")
                    if item.binary == "SIZE":
                        parts.append(f"{item.label} {len(data)}".encode())
                        continue
                    value = fetch.literal8(fetch.apply_partial(data, item))
                else:
                    data = fetch.section_bytes(raw, row, item)
                    value = (
                        b"NIL" if data is None else fetch.literal(fetch.apply_partial(data, item))
                    )
                parts.append(item.label.encode() + b" " + value)
                if item.sets_seen and not sel.readonly and "\\Seen" not in row.flags:
                    to_mark.append(row)
            await self._send(b"* %d FETCH (" % seq + b" ".join(parts) + b")")
        if to_mark:
            unique = list({r.id: r for r in to_mark}.values())
            await store.add_flags(sel.folder.id, unique, ["\\Seen"])
            index = {r.id: i for i, r in enumerate(sel.messages, 1)}
            for r in unique:
                await self._send(f"* {index[r.id]} FETCH (FLAGS ({' '.join(r.flags)}))")
        await self._done(c)

    async def cmd_uid_fetch(self, c: Command) -> None:
        await self.cmd_fetch(c, by_uid=True)

    def _targets(
        self, sel: Selected, numbers: SequenceSet, by_uid: bool
    ) -> list[tuple[int, MessageRow]]:
        if numbers.saved:  # "$": the last SEARCH ... RETURN (SAVE) result (RFC 5182)
            saved = set(self.saved_uids)
            return [(i, m) for i, m in enumerate(sel.messages, 1) if m.uid in saved]
        if not sel.messages:
            if by_uid:
                return []
            raise _Bad("no messages in the mailbox")
        if by_uid:
            spans = numbers.resolve(sel.messages[-1].uid)
            return [
                (i, m)
                for i, m in enumerate(sel.messages, 1)
                if any(lo <= m.uid <= hi for lo, hi in spans)
            ]
        count = len(sel.messages)
        if any(n != -1 and n > count for r in numbers.ranges for n in r):
            raise _Bad("message number beyond the mailbox")
        return [(n, sel.messages[n - 1]) for n in numbers.numbers(count)]

    async def _done(self, c: Command, text: str = "") -> None:
        """Report what changed in the selected folder, then the tagged OK."""
        await self._sync(expunges=c.name not in _NO_EXPUNGE_DURING)
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

    # -- writing --------------------------------------------------------------------------------

    def _require_writable(self) -> tuple[Selected, AccountMailStore]:
        sel = self._require_selected()
        if sel.readonly:
            raise _No("[READ-ONLY] the mailbox is open read-only")
        assert self.store is not None
        return sel, self.store

    async def cmd_store(self, c: Command, by_uid: bool = False) -> None:
        sel, store = self._require_writable()
        args = list(c.args)
        if len(args) < 3 or not isinstance(args[0], Atom):
            raise _Bad("STORE takes a sequence set, an action and flags")
        targets = self._targets(sel, SequenceSet.parse(args[0].value), by_uid)
        unchanged_since = None
        if isinstance(args[1], ParenList):
            modifier = args.pop(1)
            assert isinstance(modifier, ParenList)
            unchanged_since = _unchanged_since(modifier)
        if not isinstance(args[1], Atom):
            raise _Bad("expected FLAGS, +FLAGS or -FLAGS")
        action = args[1].upper
        m = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)
        if m is None:
            raise _Bad("expected FLAGS, +FLAGS or -FLAGS")
        flags = _flag_list(args[2:])
        changed, failed = await store.store_flags(
            sel.folder.id, [row.uid for _, row in targets], m.group(1), flags, unchanged_since
        )
        for seq, row in targets:
            if row.uid not in changed:
                continue
            new_flags, modseq = changed[row.uid]
            was = row.flags
            row.flags, row.modseq = new_flags, modseq
            silent = m.group(2) is not None and row.uid not in failed
            if not silent or was != new_flags and unchanged_since is not None:
                extra = f" UID {row.uid}" if by_uid else ""
                mod = f" MODSEQ ({modseq})" if unchanged_since is not None else ""
                await self._send(f"* {seq} FETCH (FLAGS ({' '.join(new_flags)}){extra}{mod})")
        sel.state = (sel.state[0], max(sel.state[1], *(v[1] for v in changed.values()), 0))
        if failed:
            await self._done(c, f"[MODIFIED {','.join(map(str, failed))}] conditional STORE failed")
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
            raise _Bad("UID EXPUNGE takes a UID set")
        targets = self._targets(sel, SequenceSet.parse(c.args[0].value), by_uid=True)
        await self.cmd_expunge(c, [row.uid for _, row in targets])

    async def cmd_copy(self, c: Command, by_uid: bool = False, move: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        if move:
            self._require_writable()
        if len(c.args) != 2 or not isinstance(c.args[0], Atom):
            raise _Bad(f"{c.name} takes a sequence set and a mailbox")
        targets = self._targets(sel, SequenceSet.parse(c.args[0].value), by_uid)
        destination = self._name_in(c.args[1])
        try:
            validity, source, created = await store.copy(
                sel.folder.id, [row.uid for _, row in targets], destination, move
            )
        except LookupError as exc:
            raise _No("[TRYCREATE] no such mailbox") from exc
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
            raise _Bad("APPEND takes a mailbox, optional flags and date, and a message literal")
        name = self._name_in(args.pop(0))
        messages: list[tuple[bytes, list[str], datetime | None]] = []
        flags: list[str] = []
        when: datetime | None = None
        for arg in args:
            if isinstance(arg, String) and arg.literal:
                if not arg.value:
                    raise _No("empty message")
                messages.append((arg.value, flags, when))
                flags, when = [], None
            elif isinstance(arg, ParenList):
                flags = _flag_list(list(arg.items))
            elif isinstance(arg, String):
                when = _parse_date_time(arg.value.decode("ascii", "replace"))
            else:
                raise _Bad("unexpected APPEND argument")
        if not messages or flags or when is not None:
            raise _Bad("each message must be a literal, after its optional flags and date")
        if await store.folder(name) is None:
            raise _No("[TRYCREATE] no such mailbox")
        validity, uids = await store.append(name, messages)
        await self._done(c, f"[APPENDUID {validity} {compress(uids)}] APPEND completed")

    async def cmd_status(self, c: Command) -> None:
        store = self._require_auth()
        if len(c.args) != 2 or not isinstance(c.args[1], ParenList):
            raise _Bad("STATUS takes a mailbox and a list of items")
        folder = await store.folder(self._name_in(c.args[0]))
        if folder is None:
            raise _No("[NONEXISTENT] no such mailbox")
        values = await store.status(folder)
        wanted = []
        for item in c.args[1].items:
            if not isinstance(item, Atom) or item.upper not in values:
                raise _Bad("unknown STATUS item")
            wanted.append(f"{item.upper} {values[item.upper]}")
        await self._send(f"* STATUS {self._name_out(folder.name)} ({' '.join(wanted)})")
        await self._done(c)

    async def cmd_search(self, c: Command, by_uid: bool = False) -> None:
        sel = self._require_selected()
        store = self._require_auth()
        args = list(c.args)
        returns: list[str] | None = None
        if args and isinstance(args[0], Atom) and args[0].upper == "RETURN":
            if len(args) < 2 or not isinstance(args[1], ParenList):
                raise _Bad("RETURN takes a list of options")
            returns = _return_options(args[1])
            args = args[2:]
        try:
            predicate = search.parse_search(args, saved=self.saved_uids)
        except search.BadCharset as exc:
            raise _No(f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset") from exc
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

    async def cmd_sort(self, c: Command, by_uid: bool = False) -> None:
        """SORT (criteria) charset search-keys (RFC 5256); ties keep mailbox order."""
        sel = self._require_selected()
        store = self._require_auth()
        if len(c.args) < 3:
            raise _Bad("SORT takes criteria, a charset and search keys")
        criteria = search.parse_sort(c.args[0])
        charset = _astring(c.args[1]).upper()
        if charset not in search.CHARSETS:
            raise _No(f"[BADCHARSET ({' '.join(search.CHARSETS)})] unsupported charset")
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

    async def cmd_uid_search(self, c: Command) -> None:
        await self.cmd_search(c, by_uid=True)

    async def cmd_idle(self, c: Command) -> None:
        """Report changes as they happen until the client sends DONE (RFC 2177)."""
        self._require_auth()
        _no_args(c)
        await self._send("+ idling")
        done = asyncio.ensure_future(self.reader.readline())
        deadline = asyncio.get_running_loop().time() + self.idle_timeout
        try:
            while True:
                if asyncio.get_running_loop().time() > deadline:
                    await self._send("* BYE Autologout; idle for too long")
                    raise _Logout
                finished, _ = await asyncio.wait({done}, timeout=IDLE_POLL_SECONDS)
                if finished:
                    line = done.result()
                    if not line:
                        raise ConnectionDropped
                    if line.strip().upper() != b"DONE":
                        raise _Bad("expected DONE")
                    break
                await self._sync(expunges=True)
        finally:
            if not done.done():
                done.cancel()
        await self._done(c, "IDLE terminated")

    async def cmd_enable(self, c: Command) -> None:
        self._require_auth()
        if not c.args or not all(isinstance(a, Atom) for a in c.args):
            raise _Bad("ENABLE takes capability names")
        enabled = []
        for a in c.args:
            assert isinstance(a, Atom)
            if a.upper == "CONDSTORE" and not self.condstore:
                self.condstore = True
                enabled.append("CONDSTORE")
            elif a.upper == "IMAP4REV2" and not self.rev2:
                self.rev2 = True
                enabled.append("IMAP4rev2")
        await self._send("* ENABLED" + "".join(f" {name}" for name in enabled))
        await self._send(f"{c.tag} OK ENABLE completed")

    async def cmd_check(self, c: Command) -> None:
        _no_args(c)
        self._require_selected()
        await self._done(c)

    async def cmd_id(self, c: Command) -> None:
        await self._send('* ID ("name" "espace-sante" "vendor" "espace-sante")')
        await self._send(f"{c.tag} OK ID completed")

    async def cmd_namespace(self, c: Command) -> None:
        _no_args(c)
        self._require_auth()
        await self._send('* NAMESPACE (("" "/")) NIL NIL')
        await self._send(f"{c.tag} OK NAMESPACE completed")


_NO_EXPUNGE_DURING = {"FETCH", "STORE", "SEARCH", "SORT"}


_RETURN_OPTIONS = ("MIN", "MAX", "COUNT", "ALL", "SAVE")
_STATUS_ITEMS = (
    "MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ", "SIZE", "RECENT", "DELETED"
)  # fmt: skip


def _option(token: Token) -> str:
    if not isinstance(token, Atom):
        raise _Bad("expected an option name")
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
                raise _Bad("STATUS takes a list of items")
            status = [_option(t) for t in wanted.items]
            if not status or not set(status) <= set(_STATUS_ITEMS):
                raise _Bad("unknown STATUS item")
        elif name in ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE"):
            options.add(name)
        else:
            raise _Bad("unknown LIST RETURN option")
    return options, status


def _return_options(token: ParenList) -> list[str]:
    options = []
    for item in token.items:
        if not isinstance(item, Atom) or item.upper not in _RETURN_OPTIONS:
            raise _Bad("unknown RETURN option")
        options.append(item.upper)
    return options or ["ALL"]


def _changed_since(token: Token) -> int:
    items = token.items if isinstance(token, ParenList) else ()
    if (
        len(items) != 2
        or not isinstance(items[0], Atom)
        or items[0].upper != "CHANGEDSINCE"
        or not isinstance(items[1], Atom)
        or not items[1].value.isdigit()
    ):
        raise _Bad("expected (CHANGEDSINCE modseq)")
    return int(items[1].value)


def _unchanged_since(modifier: ParenList) -> int:
    items = modifier.items
    if (
        len(items) != 2
        or not isinstance(items[0], Atom)
        or items[0].upper != "UNCHANGEDSINCE"
        or not isinstance(items[1], Atom)
        or not items[1].value.isdigit()
    ):
        raise _Bad("expected (UNCHANGEDSINCE modseq)")
    return int(items[1].value)


def _flag_list(tokens: list[Token]) -> list[str]:
    if len(tokens) == 1 and isinstance(tokens[0], ParenList):
        tokens = list(tokens[0].items)
    flags = []
    for t in tokens:
        if not isinstance(t, Atom) or not _FLAG.fullmatch(t.value):
            raise _Bad("invalid flag")
        value = t.value
        if value.startswith("\\"):
            canonical = _SYSTEM.get(value.upper())
            if canonical is None:
                raise _Bad(f"unknown system flag {value}")
            value = canonical
        flags.append(value)
    return list(dict.fromkeys(flags))


_SYSTEM = {f.upper(): f for f in SYSTEM_FLAGS.split()}
_FLAG = re.compile(r"\\?[!#-'*+\-.0-9:;<=>?@A-Z^-z|~]{1,100}")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


_DATE_TIME = re.compile(
    r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
)


def _parse_date_time(text: str) -> datetime:
    m = re.fullmatch(
        r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", text
    )
    if m is None or m.group(2).upper() not in _MONTHS:
        raise _Bad("invalid date-time")
    sign = 1 if m.group(7) == "+" else -1
    tz = timezone(sign * timedelta(hours=int(m.group(8)), minutes=int(m.group(9))))
    try:
        return datetime(
            int(m.group(3)), _MONTHS[m.group(2).upper()], int(m.group(1)),
            int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=tz,
        )  # fmt: skip
    except ValueError as exc:
        raise _Bad("invalid date-time") from exc


def _mailbox_name(name: str) -> str:
    if not name or len(name) > 255 or any(ord(ch) < 0x20 for ch in name):
        raise _Bad("invalid mailbox name")
    return "INBOX" if name.upper() == "INBOX" else name


_MECHANISMS = ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER")


def _sasl_decode(response: str) -> bytes:
    try:
        return base64.b64decode(response if response != "=" else "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Bad("invalid base64 in authentication response") from exc


def _bearer(mechanism: str, decoded: bytes) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER initial response."""
    try:
        return mail_auth.parse_bearer_response(mechanism, decoded)
    except ValueError as exc:
        raise _Bad(str(exc)) from exc


def _no_args(c: Command) -> None:
    if c.args:
        raise _Bad(f"{c.name} takes no arguments")


def _asked_uid(token: Token) -> bool:
    from espace_sante.mailbox.imap.parser import ParenList

    tokens = token.items if isinstance(token, ParenList) else (token,)
    return any(isinstance(t, Atom) and t.upper == "UID" for t in tokens)


def _astring(token: Token) -> str:
    if isinstance(token, Atom):
        return token.value
    if isinstance(token, String):
        return token.value.decode("utf-8", "replace")
    raise _Bad("expected a string")


def _matches(pattern: str, name: str) -> bool:
    """LIST wildcards: ``*`` matches anything, ``%`` anything but the hierarchy separator."""
    import re

    regex = "".join(
        ".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern
    )
    flags = re.I if name.upper() == "INBOX" else 0
    return re.fullmatch(regex, name, flags) is not None


_HANDLERS: dict[str, Callable[[ImapSession, Command], Awaitable[None]]] = {
    "CAPABILITY": ImapSession.cmd_capability,
    "NOOP": ImapSession.cmd_noop,
    "LOGOUT": ImapSession.cmd_logout,
    "STARTTLS": ImapSession.cmd_starttls,
    "LOGIN": ImapSession.cmd_login,
    "AUTHENTICATE": ImapSession.cmd_authenticate,
    "LIST": ImapSession.cmd_list,
    "LSUB": ImapSession.cmd_lsub,
    "CREATE": ImapSession.cmd_create,
    "DELETE": ImapSession.cmd_delete,
    "RENAME": ImapSession.cmd_rename,
    "SUBSCRIBE": ImapSession.cmd_subscribe,
    "UNSUBSCRIBE": ImapSession.cmd_unsubscribe,
    "SELECT": ImapSession.cmd_select,
    "EXAMINE": ImapSession.cmd_examine,
    "CLOSE": ImapSession.cmd_close,
    "UNSELECT": ImapSession.cmd_unselect,
    "FETCH": ImapSession.cmd_fetch,
    "UID FETCH": ImapSession.cmd_uid_fetch,
    "STORE": ImapSession.cmd_store,
    "UID STORE": ImapSession.cmd_uid_store,
    "EXPUNGE": ImapSession.cmd_expunge,
    "UID EXPUNGE": ImapSession.cmd_uid_expunge,
    "COPY": ImapSession.cmd_copy,
    "UID COPY": ImapSession.cmd_uid_copy,
    "MOVE": ImapSession.cmd_move,
    "UID MOVE": ImapSession.cmd_uid_move,
    "APPEND": ImapSession.cmd_append,
    "STATUS": ImapSession.cmd_status,
    "CHECK": ImapSession.cmd_check,
    "ENABLE": ImapSession.cmd_enable,
    "SEARCH": ImapSession.cmd_search,
    "UID SEARCH": ImapSession.cmd_uid_search,
    "SORT": ImapSession.cmd_sort,
    "UID SORT": ImapSession.cmd_uid_sort,
    "IDLE": ImapSession.cmd_idle,
    "ID": ImapSession.cmd_id,
    "NAMESPACE": ImapSession.cmd_namespace,
}
