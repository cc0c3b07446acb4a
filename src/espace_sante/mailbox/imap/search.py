"""SEARCH (RFC 9051 §6.4.4): search keys parsed into a predicate, evaluated per message.

Strings match as case-insensitive substrings of the decoded text (encoded words decoded, Unicode
case folding), which is what users expect of "search". Keys about flags, sizes, dates and
addresses use the metadata stored at delivery; BODY, TEXT, HEADER and BCC read the message.
Dates compare by day, in the time zone of the date they test (RFC 9051: "disregarding time").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default as default_policy
from typing import Any

from espace_sante.mailbox.imap.mailstore import MessageRow
from espace_sante.mailbox.imap.parser import Atom, ParenList, ParseError, String, Token
from espace_sante.mailbox.imap.seqset import SequenceSet

CHARSETS = ("UTF-8", "US-ASCII")
MAX_DEPTH = 32
_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}


class BadCharset(ValueError):
    """A CHARSET we do not search in (answered NO [BADCHARSET ...])."""


@dataclass
class Candidate:
    """A message under test; ``raw`` loads its bytes at most once, and only if a key needs them."""

    seq: int
    row: MessageRow
    load: Callable[[MessageRow], Awaitable[bytes]]
    _raw: bytes | None = None
    _text: str | None = None

    async def raw(self) -> bytes:
        if self._raw is None:
            self._raw = await self.load(self.row)
        return self._raw

    async def header(self, name: str) -> list[str]:
        msg = message_from_bytes(await self.raw(), policy=default_policy)
        return [str(v) for v in msg.get_all(name, [])]

    async def full_text(self) -> str:
        if self._text is None:
            raw = await self.raw()
            self._text = raw.decode("utf-8", "replace")
            msg = message_from_bytes(raw, policy=default_policy)
            parts = [self._text]
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    try:
                        parts.append(str(part.get_content()))
                    except (LookupError, ValueError):
                        continue
            self._text = "\n".join(parts)
        return self._text


Predicate = Callable[[Candidate, int, int], Awaitable[bool]]  # candidate, max seq, max uid


def parse_search(tokens: list[Token], saved: list[int] | None = None) -> Predicate:
    """The conjunction of the search keys in ``tokens`` (after an optional CHARSET); ``saved``
    holds the UIDs that ``$`` stands for (SEARCHRES)."""
    if len(tokens) >= 2 and isinstance(tokens[0], Atom) and tokens[0].upper == "CHARSET":
        charset = _text(tokens[1]).upper()
        if charset not in CHARSETS:
            raise BadCharset(charset)
        tokens = tokens[2:]
    if not tokens:
        raise ParseError("SEARCH needs at least one key")
    reader = _Keys(tokens, frozenset(saved or ()))
    keys = []
    while not reader.done():
        keys.append(reader.key(0))
    return _all(keys)


class _Keys:
    def __init__(self, tokens: list[Token] | tuple[Token, ...], saved: frozenset[int]) -> None:
        self.tokens = list(tokens)
        self.pos = 0
        self.saved = saved

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def next(self) -> Token:
        if self.done():
            raise ParseError("missing search key argument")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def key(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise ParseError("search keys nested too deeply")
        token = self.next()
        if isinstance(token, ParenList):
            inner = _Keys(token.items, self.saved)
            keys = []
            while not inner.done():
                keys.append(inner.key(depth + 1))
            if not keys:
                raise ParseError("empty search key list")
            return _all(keys)
        if not isinstance(token, Atom):
            raise ParseError("expected a search key")
        name = token.upper
        if name == "ALL":
            return _const(True)
        if name in ("RECENT", "NEW", "OLD"):  # \Recent of this session's rows (RFC 3501 §6.4.4)
            return _recent(name)
        if name in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[name]
            return _flag(flag, present)
        if name in ("KEYWORD", "UNKEYWORD"):
            return _flag(_text(self.next()), name == "KEYWORD")
        if name == "NOT":
            inner_key = self.key(depth + 1)

            async def negation(c: Candidate, n: int, u: int) -> bool:
                return not await inner_key(c, n, u)

            return negation
        if name == "OR":
            left, right = self.key(depth + 1), self.key(depth + 1)

            async def either(c: Candidate, n: int, u: int) -> bool:
                return await left(c, n, u) or await right(c, n, u)

            return either
        if name in ("LARGER", "SMALLER"):
            size = _number(self.next())
            larger = name == "LARGER"

            async def by_size(c: Candidate, n: int, u: int) -> bool:
                return c.row.size > size if larger else c.row.size < size

            return by_size
        if name in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            return _date_key(name, _parse_date(_text(self.next())))
        if name in ("FROM", "TO", "CC", "SUBJECT"):
            return _meta_text(name, _text(self.next()))
        if name in ("BCC",):
            return _header_text("Bcc", _text(self.next()))
        if name == "HEADER":
            field = _text(self.next())
            return _header_text(field, _text(self.next()))
        if name in ("BODY", "TEXT"):
            return _body_text(_text(self.next()))
        if name == "UID":
            uids = SequenceSet.parse(_text(self.next()))
            if uids.saved:
                return self._saved()

            async def by_uid(c: Candidate, n: int, u: int) -> bool:
                return any(lo <= c.row.uid <= hi for lo, hi in uids.resolve(u))

            return by_uid
        if name == "$":
            return self._saved()
        if name == "MODSEQ":
            modseq = _number(self.next())

            async def by_modseq(c: Candidate, n: int, u: int) -> bool:
                return c.row.modseq >= modseq

            return by_modseq
        try:
            numbers = SequenceSet.parse(token.value)
        except ValueError as exc:
            raise ParseError(f"unknown search key {token.value[:30]}") from exc

        async def by_seq(c: Candidate, n: int, u: int) -> bool:
            return any(lo <= c.seq <= hi for lo, hi in numbers.resolve(n))

        return by_seq

    def _saved(self) -> Predicate:
        saved = self.saved

        async def in_saved(c: Candidate, n: int, u: int) -> bool:
            return c.row.uid in saved

        return in_saved


def _all(keys: list[Predicate]) -> Predicate:
    async def conjunction(c: Candidate, n: int, u: int) -> bool:
        for key in keys:
            if not await key(c, n, u):
                return False
        return True

    return conjunction


def _const(value: bool) -> Predicate:
    async def constant(c: Candidate, n: int, u: int) -> bool:
        return value

    return constant


def _recent(name: str) -> Predicate:
    """RECENT, NEW (recent and not seen) or OLD (not recent)."""

    async def recent(c: Candidate, n: int, u: int) -> bool:
        if name == "OLD":
            return not c.row.recent
        return c.row.recent and (name == "RECENT" or "\\Seen" not in c.row.flags)

    return recent


def _flag(flag: str, present: bool) -> Predicate:
    wanted = flag.lower()

    async def by_flag(c: Candidate, n: int, u: int) -> bool:
        return (wanted in (f.lower() for f in c.row.flags)) is present

    return by_flag


def _fold(text: str) -> str:
    return text.casefold()


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError):
        return value


def _meta_text(key: str, needle: str) -> Predicate:
    folded = _fold(needle)

    async def by_meta(c: Candidate, n: int, u: int) -> bool:
        meta = c.row.meta
        value = {
            "FROM": meta.from_addr,
            "TO": meta.to_addr,
            "CC": meta.cc_addr,
            "SUBJECT": meta.subject,
        }[key]
        return folded in _fold(_decoded(value or ""))

    return by_meta


def _header_text(field: str, needle: str) -> Predicate:
    folded = _fold(needle)

    async def by_header(c: Candidate, n: int, u: int) -> bool:
        values = await c.header(field)
        if not values:
            return False
        return folded == "" or any(folded in _fold(v) for v in values)

    return by_header


def _body_text(needle: str) -> Predicate:
    folded = _fold(needle)

    async def by_body(c: Candidate, n: int, u: int) -> bool:
        return folded in _fold(await c.full_text())

    return by_body


def _date_key(name: str, day: date) -> Predicate:
    sent = name.startswith("SENT")
    op = name.removeprefix("SENT")

    async def by_date(c: Candidate, n: int, u: int) -> bool:
        at: datetime | None = c.row.meta.date if sent else c.row.internal_date
        if at is None:
            return False
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        d = at.date()
        return d < day if op == "BEFORE" else d == day if op == "ON" else d >= day

    return by_date


def _parse_date(text: str) -> date:
    m = _DATE.fullmatch(text)
    if m is None or m.group(2).upper() not in _MONTHS:
        raise ParseError(f"invalid date {text[:20]!r} (expected d-Mon-yyyy)")
    try:
        return date(int(m.group(3)), _MONTHS.index(m.group(2).upper()) + 1, int(m.group(1)))
    except ValueError as exc:
        raise ParseError(f"invalid date {text[:20]!r}") from exc


def _text(token: Token) -> str:
    if isinstance(token, Atom):
        return token.value
    if isinstance(token, String):
        return token.value.decode("utf-8", "replace")
    raise ParseError("expected a string")


def _number(token: Token) -> int:
    text = _text(token)
    if not text.isdigit() or len(text) > 20:
        raise ParseError("expected a number")
    return int(text)


# -- SORT (RFC 5256) ----------------------------------------------------------------------------

SORT_KEYS = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO")
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|tr)\s*(?:\[\d+\])?\s*:|\[[^\]]*\])\s*", re.I)
_SUBJECT_TRAILER = re.compile(r"\s*\((?:fwd)\)\s*$", re.I)


def parse_sort(token: Token) -> list[tuple[str, bool]]:
    """The sort criteria: (key, reverse) pairs, in order of precedence."""
    if not isinstance(token, ParenList) or not token.items:
        raise ParseError("SORT criteria must be a non-empty list")
    criteria: list[tuple[str, bool]] = []
    reverse = False
    for item in token.items:
        if not isinstance(item, Atom):
            raise ParseError("invalid sort criterion")
        name = item.upper
        if name == "REVERSE":
            if reverse:
                raise ParseError("REVERSE REVERSE")
            reverse = True
            continue
        if name not in SORT_KEYS:
            raise ParseError(f"unknown sort criterion {item.value[:20]}")
        criteria.append((name, reverse))
        reverse = False
    if reverse or not criteria:
        raise ParseError("REVERSE must precede a sort criterion")
    return criteria


def base_subject(subject: str) -> str:
    """RFC 5256 §2.1 base subject, simplified: leading Re:/Fwd:/[tags] and trailing (fwd)
    removed repeatedly, whitespace collapsed, case folded."""
    text = " ".join(_decoded(subject).split())
    while True:
        stripped = _SUBJECT_TRAILER.sub("", _SUBJECT_PREFIX.sub("", text, count=1))
        if stripped == text:
            return text.casefold()
        text = stripped


def sort_value(key: str, seq: int, row: MessageRow) -> Any:
    meta = row.meta
    if key == "ARRIVAL":
        return _aware(row.internal_date).timestamp()
    if key == "DATE":
        return _aware(meta.date or row.internal_date).timestamp()
    if key == "SIZE":
        return row.size
    if key == "SUBJECT":
        return base_subject(meta.subject or "")
    address = {"FROM": meta.from_addr, "TO": meta.to_addr, "CC": meta.cc_addr}[key] or ""
    return _mailbox(address)


def _mailbox(text: str) -> str:
    """The addr-mailbox (local part) of the first address, folded; "" when there is none."""
    match = re.search(r"<([^>@]*)@", text) or re.search(r"([^\s<>,@]+)@", text)
    return match.group(1).casefold() if match else ""


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
