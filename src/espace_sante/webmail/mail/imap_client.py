"""The webmail's IMAP client: one TLS connection to our own IMAP server per request.

It logs in with ``AUTHENTICATE XOAUTH2`` and a token issued for the logged-in patient, so the
IMAP server applies the same rules to the webmail as to any mail client; nothing here reads the
mail store directly. Every failure is raised as :class:`MailboxUnavailable` with a French message
for the page.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import email
import email.policy
import logging
import quopri
import re
import ssl
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import aioimaplib

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.webmail.mail.imapwire import (
    ImapParseError,
    PartInfo,
    Value,
    body_parts,
    pairs,
    parse_responses,
    text,
)

log = logging.getLogger(__name__)

#: The folders the webmail shows, in order, with their French names.
FOLDERS: dict[str, str] = {
    "INBOX": "Boîte de réception",
    "Sent": "Envoyés",
    "Drafts": "Brouillons",
    "Trash": "Corbeille",
    "Archive": "Archives",
}
#: Where a message may be moved from the message view.
MOVE_TARGETS = ("Trash", "Archive", "INBOX")
#: Seconds allowed for connecting and for each command.
TIMEOUT_SECONDS = 15.0
MAX_QUERY_LENGTH = 200
SEARCH_FIELDS = {"tout": "TEXT", "de": "FROM", "objet": "SUBJECT"}
UNREADABLE_PART = "Cette pièce jointe est dans un codage illisible."
#: An IMAP part number as the pages accept it (RFC 9051 §6.4.5), at most 10 levels deep.
_SECTION = re.compile(r"[1-9][0-9]{0,4}(?:\.[1-9][0-9]{0,4}){0,9}")
_HEADER_FIELDS = "FROM TO CC SUBJECT DATE REPLY-TO MESSAGE-ID"


class MailboxUnavailable(Exception):
    """The mailbox cannot be read now; ``str(exc)`` is a French sentence for the patient."""


class MailboxRefused(MailboxUnavailable):
    """The server answered NO or BAD; ``status`` is its status line (for response codes)."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class BadQuery(ValueError):
    """A search the patient typed cannot be sent (too long, control characters)."""


@dataclass(frozen=True)
class FolderStatus:
    name: str
    label: str
    messages: int
    unseen: int


@dataclass(frozen=True)
class MessageSummary:
    """One line of a message list (from FLAGS, BODYSTRUCTURE and a few header fields)."""

    uid: int
    sender_name: str
    sender_address: str
    to: str
    subject: str
    date: datetime | None
    seen: bool
    answered: bool
    size: int
    has_attachments: bool


@dataclass(frozen=True)
class MessagePage:
    folder: str
    messages: list[MessageSummary]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    folder: str
    raw: bytes
    parsed: EmailMessage
    flags: frozenset[str]
    parts: list[PartInfo]


def imap_quote(value: str) -> str:
    """A quoted string for a command argument; refuses what cannot be quoted."""
    if any(ch in value for ch in "\r\n\0"):
        raise BadQuery("caractères de contrôle")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_criteria(query: str, field: str = "tout") -> list[str]:
    """The IMAP search keys for what the patient typed (one key per word, all must match)."""
    query = query.strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise BadQuery(f"La recherche est limitée à {MAX_QUERY_LENGTH} caractères.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in query):
        raise BadQuery("La recherche contient des caractères non autorisés.")
    key = SEARCH_FIELDS.get(field)
    if key is None:
        raise BadQuery("Champ de recherche inconnu.")
    words = query.split()[:10]
    criteria: list[str] = []
    for word in words:
        criteria += [key, imap_quote(word)]
    return criteria or ["ALL"]


def connect_host(listen_host: str) -> str:
    """Where to reach a listener of ours: its address, or loopback when it listens on all."""
    return "127.0.0.1" if listen_host in ("", "0.0.0.0", "::", "*") else listen_host


def client_tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify our servers' certificates: the system trust store plus the development CA made
    by ``espace-sante init`` when it exists."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    dev_ca = Path(settings.pki_dir) / "ca.crt"
    if dev_ca.is_file():
        ctx.load_verify_locations(cafile=str(dev_ca))
    return ctx


class ImapMailbox:
    """An authenticated IMAP session for one account; use :func:`open_mailbox`."""

    def __init__(
        self,
        client: aioimaplib.IMAP4_SSL,
        timeout: float,
        capabilities: frozenset[str] = frozenset(),
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._selected: str | None = None
        #: what the server announced once logged in (upper case)
        self.capabilities = capabilities

    # -- plumbing -------------------------------------------------------------------------------

    async def _run(self, name: str, *args: str, uid: bool = False) -> list[list[Value]]:
        protocol = self._client.protocol
        command_class = aioimaplib.FetchCommand if name == "FETCH" else aioimaplib.Command
        kwargs: dict[str, Any] = {"prefix": "UID" if uid else None, "loop": protocol.loop}
        if name == "STORE":
            kwargs["untagged_resp_name"] = "FETCH"
        try:
            if command_class is aioimaplib.FetchCommand:
                command = aioimaplib.FetchCommand(protocol.new_tag(), *args, **kwargs)
            else:
                command = aioimaplib.Command(name, protocol.new_tag(), *args, **kwargs)
        except ValueError as exc:  # CR/LF/NUL refused by aioimaplib
            raise BadQuery(str(exc)) from exc
        return await self._execute(name, protocol.execute(command))

    async def _execute(self, name: str, pending: Awaitable[Any]) -> list[list[Value]]:
        try:
            response = await asyncio.wait_for(pending, self._timeout)
        except (TimeoutError, aioimaplib.AioImapException, OSError) as exc:
            log.warning("webmail imap: %s failed: %r", name, exc)
            raise MailboxUnavailable(
                "La messagerie ne répond pas. Veuillez réessayer dans quelques instants."
            ) from exc
        if response.result != "OK":
            status = response.lines[-1] if response.lines else b""
            log.info("webmail imap: %s answered %s %r", name, response.result, status)
            if b"[BADCHARSET" in status:
                raise BadQuery("Cette recherche n'est pas possible.")
            raise MailboxRefused(
                "La messagerie a refusé l'opération demandée.",
                bytes(status).decode("utf-8", "replace"),
            )
        try:
            return parse_responses(response.lines[:-1])
        except ImapParseError as exc:
            log.warning("webmail imap: unreadable answer to %s: %s", name, exc)
            raise MailboxUnavailable("La réponse de la messagerie est illisible.") from exc

    async def select(self, folder: str) -> int:
        """Select ``folder`` (one of :data:`FOLDERS`); returns its number of messages."""
        if folder not in FOLDERS:
            raise MailboxUnavailable("Ce dossier n'existe pas.")
        if self._selected == folder:
            return -1
        # through the protocol's own select(), which tracks the session state
        responses = await self._execute("SELECT", self._client.protocol.select(imap_quote(folder)))
        self._selected = folder
        for r in responses:
            if len(r) >= 2 and r[1] == "EXISTS" and isinstance(r[0], str) and r[0].isdigit():
                return int(r[0])
        return 0

    # -- operations -----------------------------------------------------------------------------

    async def folders(self) -> list[FolderStatus]:
        """The webmail's folders with their message and unread counts: one ``LIST … RETURN
        (STATUS …)`` (RFC 5819) when the server offers LIST-STATUS, else STATUS per folder."""
        if "LIST-STATUS" in self.capabilities:
            counts = await self._list_status()
            return [
                FolderStatus(name, label, *counts.get(name, (0, 0)))
                for name, label in FOLDERS.items()
            ]
        out = []
        for name, label in FOLDERS.items():
            responses = await self._run("STATUS", imap_quote(name), "(MESSAGES UNSEEN)")
            values: dict[str, Value] = {}
            for r in responses:  # aioimaplib drops the leading "STATUS" of async commands
                if r and isinstance(r[-1], list):
                    values = pairs(r[-1])
            out.append(FolderStatus(name, label, *_counts(values)))
        return out

    async def _list_status(self) -> dict[str, tuple[int, int]]:
        """(messages, unseen) of every folder, from one LIST-STATUS command.

        aioimaplib hands an async command only the untagged responses named like it, so the
        ``* STATUS`` lines that answer a LIST would be dropped: a collector stands under the name
        STATUS for the time of the command (our commands on a session never overlap)."""
        protocol = self._client.protocol
        if "STATUS" in protocol.pending_async_commands:
            raise MailboxUnavailable("La messagerie est occupée. Veuillez réessayer.")
        collector = aioimaplib.Command("STATUS", "collector", loop=protocol.loop)
        protocol.pending_async_commands["STATUS"] = collector
        try:
            await self._run("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES UNSEEN))")
        finally:
            protocol.pending_async_commands.pop("STATUS", None)
        try:
            responses = parse_responses(collector.response.lines)
        except ImapParseError as exc:
            log.warning("webmail imap: unreadable LIST-STATUS answer: %s", exc)
            raise MailboxUnavailable("La réponse de la messagerie est illisible.") from exc
        counts: dict[str, tuple[int, int]] = {}
        for r in responses:  # "INBOX" (MESSAGES 6 UNSEEN 2), without the leading STATUS
            values = r[1:] if r and r[0] == "STATUS" else r
            if len(values) == 2 and isinstance(values[1], list):
                try:
                    counts[text(values[0])] = _counts(pairs(values[1]))
                except (ImapParseError, ValueError):
                    continue
        return counts

    async def sorted_uids(self, folder: str, criteria: list[str] | None = None) -> list[int]:
        """UIDs of ``folder`` matching ``criteria``, newest first (SORT (REVERSE DATE))."""
        await self.select(folder)
        responses = await self._run(
            "SORT", "(REVERSE DATE)", "UTF-8", *(criteria or ["ALL"]), uid=True
        )
        return _numbers(responses, "SORT")

    async def count(self, folder: str, criteria: list[str]) -> int:
        await self.select(folder)
        responses = await self._run("SEARCH", "CHARSET", "UTF-8", *criteria, uid=True)
        return len(_numbers(responses, "SEARCH"))

    async def uid_of_message_id(self, folder: str, message_id: str) -> int | None:
        """The UID of the message of ``folder`` whose Message-ID header is ``message_id`` (the
        newest if several), or None (``UID SEARCH HEADER Message-ID``)."""
        await self.select(folder)
        responses = await self._run(
            "SEARCH", "CHARSET", "UTF-8", "HEADER", "Message-ID", imap_quote(message_id), uid=True
        )
        uids = _numbers(responses, "SEARCH")
        return max(uids) if uids else None

    async def page(
        self, folder: str, page: int = 1, per_page: int = 20, criteria: list[str] | None = None
    ) -> MessagePage:
        """One page of ``folder``, newest first, optionally filtered by search ``criteria``."""
        uids = await self.sorted_uids(folder, criteria)
        pages = max(1, -(-len(uids) // per_page))
        page = min(max(1, page), pages)
        chosen = uids[(page - 1) * per_page : page * per_page]
        summaries = await self.summaries(folder, chosen)
        return MessagePage(folder, summaries, len(uids), page, pages)

    async def summaries(self, folder: str, uids: list[int]) -> list[MessageSummary]:
        """Flags, size, structure and display headers of ``uids``, in the order given.

        The display headers come as BODY.PEEK[HEADER.FIELDS …] rather than ENVELOPE: they arrive
        as a literal, which aioimaplib leaves intact (it deletes every ``* `` from response
        lines, quoted strings included), and stdlib ``email`` decodes their encoded words."""
        if not uids:
            return []
        await self.select(folder)
        responses = await self._run(
            "FETCH",
            ",".join(str(u) for u in uids),
            f"(UID FLAGS RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ({_HEADER_FIELDS})])",
            uid=True,
        )
        found: dict[int, MessageSummary] = {}
        for r in responses:
            if len(r) != 3 or r[1] != "FETCH":
                continue
            attrs = pairs(r[2])
            uid = int(text(attrs.get("UID")) or 0)
            header_bytes = next((v for k, v in attrs.items() if k.startswith("BODY[HEADER")), b"")
            if not isinstance(header_bytes, bytes):
                header_bytes = b""
            headers = email.message_from_bytes(header_bytes, policy=email.policy.default)
            name, address = _sender(headers)
            flags = _flags(attrs.get("FLAGS"))
            parts = body_parts(attrs.get("BODYSTRUCTURE"))
            found[uid] = MessageSummary(
                uid=uid,
                sender_name=name,
                sender_address=address,
                to=_header(headers, "To"),
                subject=_header(headers, "Subject"),
                date=_date(headers),
                seen="\\seen" in flags,
                answered="\\answered" in flags,
                size=int(text(attrs.get("RFC822.SIZE")) or 0),
                has_attachments=any(p.disposition == "attachment" or p.filename for p in parts),
            )
        return [found[u] for u in uids if u in found]

    async def fetch_message(self, folder: str, uid: int, mark_seen: bool = True) -> FetchedMessage:
        """The whole message (BODY.PEEK[]), then \\Seen set explicitly when asked."""
        await self.select(folder)
        responses = await self._run(
            "FETCH", str(uid), "(UID FLAGS BODYSTRUCTURE BODY.PEEK[])", uid=True
        )
        for r in responses:
            if len(r) != 3 or r[1] != "FETCH":
                continue
            attrs = pairs(r[2])
            if int(text(attrs.get("UID")) or 0) != uid:
                continue
            raw = attrs.get("BODY[]")
            if not isinstance(raw, bytes):
                break
            flags = _flags(attrs.get("FLAGS"))
            if mark_seen and "\\seen" not in flags:
                await self._run("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)", uid=True)
                flags = flags | {"\\seen"}
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            return FetchedMessage(
                uid, folder, raw, parsed, frozenset(flags), body_parts(attrs.get("BODYSTRUCTURE"))
            )
        raise MessageNotFound("Ce message n'existe pas ou a été déplacé.")

    async def fetch_part(self, folder: str, uid: int, section: str) -> DownloadedPart:
        """One leaf part of a message, decoded: BINARY.PEEK[section] (RFC 3516) when the server
        has BINARY, else BODY.PEEK[section] decoded here; its name from its MIME header.

        Raises :class:`MessageNotFound` when there is no such message and
        :class:`PartNotFound` when ``section`` is not one of its leaf parts."""
        if not _SECTION.fullmatch(section):
            raise PartNotFound("Cette pièce jointe n'existe pas.")
        await self.select(folder)
        structure = await self._fetch_attrs(uid, "BODYSTRUCTURE")
        tree = structure.get("BODYSTRUCTURE")
        part = next((p for p in body_parts(tree, into_messages=True) if p.section == section), None)
        if part is None:
            raise PartNotFound("Cette pièce jointe n'existe pas.")
        single = not (isinstance(tree, list) and tree and isinstance(tree[0], list))
        # a single-part message's part 1 is its body: its MIME header is the message's header
        header_item = (
            "BODY.PEEK[HEADER]" if single and section == "1" else f"BODY.PEEK[{section}.MIME]"
        )
        binary = "BINARY" in self.capabilities
        content_item = f"BINARY.PEEK[{section}]" if binary else f"BODY.PEEK[{section}]"
        try:
            attrs = await self._fetch_attrs(uid, f"{header_item} {content_item}")
        except MailboxRefused as exc:
            if "[NONEXISTENT]" in exc.status:
                raise PartNotFound("Cette pièce jointe n'existe pas.") from exc
            if "[UNKNOWN-CTE]" in exc.status:
                raise MailboxUnavailable(UNREADABLE_PART) from exc
            raise
        header = next((v for k, v in attrs.items() if k.startswith("BODY[")
                       and k.endswith(("HEADER]", "MIME]"))), b"")  # fmt: skip
        content = next((v for k, v in attrs.items() if k in (f"BINARY[{section}]",
                        f"BODY[{section}]")), None)  # fmt: skip
        if not isinstance(content, bytes):
            raise PartNotFound("Cette pièce jointe n'existe pas.")
        mime = email.message_from_bytes(
            (header if isinstance(header, bytes) else b"") + b"\r\n", policy=email.policy.default
        )
        if not binary:
            content = _undo_transfer_encoding(content, _header(mime, "Content-Transfer-Encoding"))
        try:
            filename = mime.get_filename() or part.filename
        except (ValueError, TypeError, IndexError, AttributeError):
            filename = part.filename
        declared = _header(mime, "Content-Type")
        if not declared.lower().startswith(part.content_type):
            declared = part.content_type  # the server's reading wins (e.g. a malformed header)
        return DownloadedPart(content, declared, _one_line(filename or ""))

    async def _fetch_attrs(self, uid: int, items: str) -> dict[str, Value]:
        """The attributes of one message (UID FETCH); :class:`MessageNotFound` without it."""
        responses = await self._run("FETCH", str(uid), f"(UID {items})", uid=True)
        for r in responses:
            if len(r) == 3 and r[1] == "FETCH":
                attrs = pairs(r[2])
                if int(text(attrs.get("UID")) or 0) == uid:
                    return attrs
        raise MessageNotFound("Ce message n'existe pas ou a été déplacé.")

    async def headers_of(self, folder: str, uid: int) -> EmailMessage:
        """The header of one message (for a reply: From, Reply-To, Subject, Message-ID…)."""
        await self.select(folder)
        responses = await self._run("FETCH", str(uid), "(UID BODY.PEEK[HEADER])", uid=True)
        for r in responses:
            if len(r) == 3 and r[1] == "FETCH":
                attrs = pairs(r[2])
                if int(text(attrs.get("UID")) or 0) == uid and isinstance(
                    attrs.get("BODY[HEADER]"), bytes
                ):
                    header = attrs["BODY[HEADER]"]
                    assert isinstance(header, bytes)
                    parsed = email.message_from_bytes(header, policy=email.policy.default)
                    assert isinstance(parsed, EmailMessage)
                    return parsed
        raise MessageNotFound("Ce message n'existe pas ou a été déplacé.")

    async def add_flag(self, folder: str, uid: int, flag: str) -> None:
        await self.select(folder)
        await self._run("STORE", str(uid), "+FLAGS.SILENT", f"({flag})", uid=True)

    async def move(self, folder: str, uid: int, target: str) -> None:
        """Move one message (UID MOVE, RFC 6851) to another of the webmail's folders."""
        if target not in FOLDERS or target == folder:
            raise MailboxUnavailable("Ce déplacement n'est pas possible.")
        await self.select(folder)
        exists = await self.count(folder, ["UID", str(uid)])
        if not exists:
            raise MessageNotFound("Ce message n'existe pas ou a été déplacé.")
        await self._run("MOVE", str(uid), imap_quote(target), uid=True)

    async def logout(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.protocol.logout(), self._timeout)


class MessageNotFound(MailboxUnavailable):
    """No message with that UID in that folder."""


class PartNotFound(MessageNotFound):
    """The message has no downloadable part with that number."""


@dataclass(frozen=True)
class DownloadedPart:
    """One part of a message, its transfer encoding undone."""

    data: bytes
    content_type: str  # as the part declares it (the page decides what to serve it as)
    filename: str  # as the part names it (decoded), '' when it has none


@contextlib.asynccontextmanager
async def open_mailbox(
    settings: Settings,
    account_id: int,
    address: str,
    timeout: float = TIMEOUT_SECONDS,
) -> AsyncIterator[ImapMailbox]:
    """Connect over implicit TLS to ``settings.imap``, authenticate with a fresh XOAUTH2 token
    for this account, yield the session, log out."""
    token = TokenSigner.from_settings(settings).issue(
        account_id, address, services=frozenset({"imap"}), ttl=120
    )
    client = aioimaplib.IMAP4_SSL(
        host=connect_host(settings.imap.listen_host),
        port=settings.imap.tls_port,
        timeout=timeout,
        ssl_context=client_tls_context(settings),
    )
    try:
        await client.wait_hello_from_server()
        _answer_sasl_error_challenges(client.protocol)
        response = await client.xoauth2(address, token)
    except (TimeoutError, OSError, aioimaplib.AioImapException, ssl.SSLError) as exc:
        log.warning("webmail imap: cannot connect to %s:%s: %r",
                    settings.imap.listen_host, settings.imap.tls_port, exc)  # fmt: skip
        with contextlib.suppress(Exception):
            client.protocol.transport.close()
        raise MailboxUnavailable(
            "La messagerie est momentanément indisponible. Veuillez réessayer plus tard."
        ) from exc
    if response.result != "OK":
        with contextlib.suppress(Exception):
            client.protocol.transport.close()
        raise MailboxUnavailable(
            "La connexion à votre messagerie a été refusée. Veuillez vous reconnecter."
        )
    mailbox = ImapMailbox(client, timeout, _capabilities_of(response.lines))
    try:
        yield mailbox
    finally:
        await mailbox.logout()
        with contextlib.suppress(Exception):
            client.protocol.transport.close()


# -- small helpers ------------------------------------------------------------------------------


def _answer_sasl_error_challenges(protocol: aioimaplib.IMAP4ClientProtocol) -> None:
    """A refused XOAUTH2 token gets an error challenge (``+ <base64 JSON>``) that the client
    must answer with an empty line before the server says NO (RFC 7628 §3.2.3); aioimaplib
    does not answer it, so the command would wait for its timeout."""
    original = protocol._continuation

    def continuation(line: bytes) -> None:
        pending = protocol.pending_sync_command
        if pending is not None and pending.name == "AUTHENTICATE":
            protocol.transport.write(b"\r\n")
            return
        original(line)

    protocol._continuation = continuation


def _counts(values: dict[str, Value]) -> tuple[int, int]:
    """(MESSAGES, UNSEEN) of a STATUS answer; 0 for what is missing or not a number."""
    out = []
    for key in ("MESSAGES", "UNSEEN"):
        number = text(values.get(key))
        out.append(int(number) if number.isdigit() else 0)
    return out[0], out[1]


def _capabilities_of(lines: list[Any]) -> frozenset[str]:
    """The capabilities in the ``[CAPABILITY …]`` code of the authentication's answer (RFC 9051
    §7.1), else those aioimaplib read before logging in."""
    for line in reversed(lines):
        if isinstance(line, bytes | bytearray):
            m = re.search(rb"\[CAPABILITY ([^\]]*)\]", bytes(line), re.I)
            if m:
                return frozenset(m.group(1).decode("ascii", "replace").upper().split())
    return frozenset()


def _undo_transfer_encoding(data: bytes, encoding: str) -> bytes:
    """A part's content without its Content-Transfer-Encoding (when BINARY is not offered)."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        try:
            return binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", data))
        except binascii.Error as exc:
            raise MailboxUnavailable(UNREADABLE_PART) from exc
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _numbers(responses: list[list[Value]], name: str) -> list[int]:
    """The numbers of SORT or SEARCH responses (with or without their leading name: aioimaplib
    drops it for commands it runs asynchronously)."""
    out: list[int] = []
    for r in responses:
        values = r[1:] if r and r[0] == name else r
        out += [int(v) for v in values if isinstance(v, str) and v.isdigit()]
    return out


def _flags(value: Value) -> set[str]:
    if not isinstance(value, list):
        return set()
    return {text(f).lower() for f in value if isinstance(f, str | bytes)}


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError):
        return ""
    return _one_line(str(value)) if value is not None else ""


def _one_line(value: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


def _sender(msg: EmailMessage) -> tuple[str, str]:
    name, address = parseaddr(_header(msg, "From"))
    return _one_line(name), address.lower()


def _date(msg: EmailMessage) -> datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
