"""SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) and SORT (RFC 5256, RFC 5957 DISPLAY) programs.

A program is parsed once per command and bound to the mailbox as the session sees it: every
sequence set is resolved there, once, to spans tested by bisection, and the program is capped
(keys, nesting, ranges), so its cost per message is small and known before it runs. Tests are
plain functions of one message snapshot (:class:`Candidate`); nothing awaits inside them, and
:func:`evaluate` runs them in time slices between which the event loop serves other clients
(``imap.slices``).

Strings match as substrings under i;unicode-casemap (RFC 5051: case mapped, decomposed), with
encoded words decoded, which is what users expect of "search" and what Dovecot does. The address
keys (FROM, TO, CC, BCC) match every address of the header, display names (and the comment a
``user@domain (Real Name)`` address gives as one), routes and group syntax, read from the ENVELOPE
computed at delivery. SUBJECT uses the decoded subject stored at delivery. HEADER, BODY and TEXT
read the message: BODY its text parts only (transfer encoding and charset decoded), TEXT those
and the headers of the message and of its parts. Evaluation is three-valued: a test that needs
the content answers ``None`` until it is loaded, so content is read only for the messages the
other keys leave undecided. Dates compare by day, in the time zone of the date they test
(RFC 9051: "disregarding time").
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from functools import lru_cache
from typing import Any

from espace_sante.mailbox.imap.mailstore import MessageRow
from espace_sante.mailbox.imap.parser import Atom, ParenList, ParseError, String, Token
from espace_sante.mailbox.imap.seqset import SequenceSet
from espace_sante.mailbox.imap.slices import in_pool, in_slices

CHARSETS = ("UTF-8", "US-ASCII")
MAX_DEPTH = 32  # nesting of NOT, OR and parentheses
MAX_KEYS = 1000  # search keys in one program, nested ones included
MAX_RANGES = 10_000  # sequence-set ranges in one program, all its sets together
MAX_MODSEQ = 2**63 - 1  # mod-sequence-valzer (RFC 7162 §7)
_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FLAG_KEYS = {
    "ANSWERED": ("\\answered", True),
    "DELETED": ("\\deleted", True),
    "DRAFT": ("\\draft", True),
    "FLAGGED": ("\\flagged", True),
    "SEEN": ("\\seen", True),
    "UNANSWERED": ("\\answered", False),
    "UNDELETED": ("\\deleted", False),
    "UNDRAFT": ("\\draft", False),
    "UNFLAGGED": ("\\flagged", False),
    "UNSEEN": ("\\seen", False),
}
_ENTRY_TYPES = ("PRIV", "SHARED", "ALL")


class BadCharset(ValueError):
    """A CHARSET we do not search in (answered NO [BADCHARSET ...])."""


class SearchLimit(ValueError):
    """A program over one of our limits (answered NO [LIMIT] ..., RFC 5530)."""


# -- the message under test ---------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """What HEADER, BODY and TEXT read of a message, decoded and case-mapped."""

    header: tuple[tuple[str, str], ...]  # the message's header fields: (lower name, folded value)
    headers_text: str  # every header line of the message and of its parts
    body_text: str  # every text part's content


class Candidate:
    """One message as the command saw it when it started (flags copied: the session's row may
    change under a later command, never under this one)."""

    __slots__ = ("_memo", "content", "flags", "modseq", "row", "seq", "uid")

    def __init__(self, seq: int, row: MessageRow) -> None:
        self.seq = seq
        self.row = row
        self.uid = row.uid
        self.modseq = row.modseq
        self.flags = frozenset(f.lower() for f in row.flags)
        self.content: Content | None = None
        self._memo: dict[str, Any] = {}

    def envelope(self) -> _Envelope:
        env = self._memo.get("envelope")
        if env is None:
            env = self._memo["envelope"] = _envelope_view(self.row.meta.envelope)
        return env

    def subject(self) -> str | None:
        """The decoded subject, case-mapped; None without a Subject field."""
        if "subject" not in self._memo:
            present = self.envelope().has_subject
            text = casemap(_WSP_RUN.sub(" ", self.row.meta.subject)) if present else None
            self._memo["subject"] = text
        subject: str | None = self._memo["subject"]
        return subject


Test = Callable[[Candidate], bool | None]
"""A search key bound to a command: True or False, or None when it needs the content and that is
not loaded yet."""


@dataclass(frozen=True)
class Program:
    test: Test
    needs_content: bool
    modseq: bool  # a MODSEQ key was used: answers carry the highest mod-sequence (RFC 7162)


def parse_search(
    tokens: Sequence[Token],
    *,
    count: int,
    largest_uid: int,
    saved: Sequence[int] = (),
    charset: bool = True,
) -> Program:
    """The conjunction of the search keys in ``tokens``, after an optional CHARSET when
    ``charset`` (SORT gives its charset before the keys), bound to a mailbox of ``count``
    messages whose highest UID is ``largest_uid``; ``saved`` holds the UIDs ``$`` stands for."""
    tokens = list(tokens)
    first = tokens[0] if tokens else None
    if charset and len(tokens) >= 2 and isinstance(first, Atom) and first.upper == "CHARSET":
        check_charset(_text(tokens[1]))
        tokens = tokens[2:]
    if not tokens:
        raise ParseError("SEARCH needs at least one key")
    reader = _Keys(tokens, _Binding(count, largest_uid, frozenset(saved)))
    keys = []
    while not reader.done():
        keys.append(reader.key(0))
    return Program(_all(keys), reader.needs_content, reader.modseq)


def check_charset(name: str) -> None:
    if name.upper() not in CHARSETS:
        raise BadCharset(name)


@dataclass(frozen=True)
class _Binding:
    count: int
    largest_uid: int
    saved: frozenset[int]


class _Keys:
    def __init__(self, tokens: Sequence[Token], binding: _Binding) -> None:
        self.tokens = tokens
        self.pos = 0
        self.binding = binding
        self.keys = 0
        self.ranges = 0
        self.needs_content = False
        self.modseq = False

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def next(self) -> Token:
        if self.done():
            raise ParseError("missing search key argument")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def key(self, depth: int) -> Test:
        if depth > MAX_DEPTH:
            raise ParseError(f"search keys nested more than {MAX_DEPTH} deep")
        self.keys += 1
        if self.keys > MAX_KEYS:
            raise SearchLimit(f"more than {MAX_KEYS} search keys")
        token = self.next()
        if isinstance(token, ParenList):
            saved_tokens, saved_pos = self.tokens, self.pos
            self.tokens, self.pos = token.items, 0
            keys = []
            while not self.done():
                keys.append(self.key(depth + 1))
            self.tokens, self.pos = saved_tokens, saved_pos
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
            return _flag(_text(self.next()).lower(), name == "KEYWORD")
        if name == "NOT":
            return _not(self.key(depth + 1))
        if name == "OR":
            left = self.key(depth + 1)
            return _or(left, self.key(depth + 1))
        if name in ("LARGER", "SMALLER"):
            return _size(name == "LARGER", _number(self.next()))
        if name in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            return _date_key(name, _parse_date(_text(self.next())))
        if name in ("FROM", "TO", "CC", "BCC"):
            return _address(name, _text(self.next()))
        if name == "SUBJECT":
            return _subject(_text(self.next()))
        if name == "HEADER":
            field = _text(self.next())
            self.needs_content = True
            return _header(field, _text(self.next()))
        if name in ("BODY", "TEXT"):
            test = _content_text(_text(self.next()), headers=name == "TEXT")
            if test is None:
                return _const(True)
            self.needs_content = True
            return test
        if name == "UID":
            return self._set(_text(self.next()), uid=True)
        if name == "MODSEQ":
            return self._modseq()
        try:
            return self._set(token.value, uid=False)
        except ValueError as exc:
            raise ParseError(f"unknown search key {token.value[:30]}") from exc

    def _set(self, text: str, uid: bool) -> Test:
        numbers = SequenceSet.parse(text)
        if numbers.saved:  # "$": the UIDs saved by SEARCH ... RETURN (SAVE) (RFC 5182)
            saved = self.binding.saved
            return lambda c: c.uid in saved
        self.ranges += len(numbers.ranges)
        if self.ranges > MAX_RANGES:
            raise SearchLimit(f"more than {MAX_RANGES} sequence-set ranges")
        spans = numbers.spans(self.binding.largest_uid if uid else self.binding.count)
        if uid:
            return lambda c: c.uid in spans
        return lambda c: c.seq in spans

    def _modseq(self) -> Test:
        """MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 §3.1.5). We keep one
        mod-sequence per message, so the entry is checked and then ignored, as it allows."""
        token = self.next()
        if isinstance(token, String):
            entry = _text(token)
            if not entry.lower().startswith("/flags/") or len(entry) <= len("/flags/"):
                raise ParseError("invalid MODSEQ entry name")
            kind = self.next()
            if not isinstance(kind, Atom) or kind.upper not in _ENTRY_TYPES:
                raise ParseError("invalid MODSEQ entry type")
            token = self.next()
        value = _number(token)
        if value > MAX_MODSEQ:
            raise ParseError("mod-sequence out of range")
        self.modseq = True
        return lambda c: c.modseq >= value


# -- tests --------------------------------------------------------------------------------------


def _all(keys: list[Test]) -> Test:
    if len(keys) == 1:
        return keys[0]
    tests = tuple(keys)

    def conjunction(c: Candidate) -> bool | None:
        result: bool | None = True
        for key in tests:
            value = key(c)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return conjunction


def _or(left: Test, right: Test) -> Test:
    def either(c: Candidate) -> bool | None:
        a = left(c)
        if a:
            return True
        b = right(c)
        if b:
            return True
        return None if a is None or b is None else False

    return either


def _not(inner: Test) -> Test:
    def negation(c: Candidate) -> bool | None:
        value = inner(c)
        return None if value is None else not value

    return negation


def _recent(name: str) -> Test:
    """RECENT, NEW (recent and not seen) or OLD (not recent); \\Recent is the session's."""
    if name == "OLD":
        return lambda c: not c.row.recent
    if name == "NEW":
        return lambda c: c.row.recent and "\\seen" not in c.flags
    return lambda c: c.row.recent


def _const(value: bool) -> Test:
    return lambda c: value


def _flag(flag: str, present: bool) -> Test:
    if present:
        return lambda c: flag in c.flags
    return lambda c: flag not in c.flags


def _size(larger: bool, size: int) -> Test:
    if larger:
        return lambda c: c.row.size > size
    return lambda c: c.row.size < size


def _address(key: str, needle: str) -> Test:
    folded = casemap(needle)
    index = ("FROM", "TO", "CC", "BCC").index(key)

    def by_address(c: Candidate) -> bool:
        text = c.envelope().search[index]
        return text is not None and folded in text

    return by_address


def _subject(needle: str) -> Test:
    folded = casemap(_WSP_RUN.sub(" ", needle))

    def by_subject(c: Candidate) -> bool:
        subject = c.subject()
        return subject is not None and folded in subject

    return by_subject


def _header(field: str, needle: str) -> Test:
    name = field.lower()
    folded = casemap(needle)

    def by_header(c: Candidate) -> bool | None:
        if c.content is None:
            return None
        return any(n == name and folded in v for n, v in c.content.header)

    return by_header


def _content_text(needle: str, headers: bool) -> Test | None:
    """BODY or TEXT; None for an empty string, which every message contains."""
    folded = casemap(needle)
    if not folded:
        return None

    def by_text(c: Candidate) -> bool | None:
        content = c.content
        if content is None:
            return None
        return folded in content.body_text or (headers and folded in content.headers_text)

    return by_text


def _date_key(name: str, day: date) -> Test:
    sent = name.startswith("SENT")
    op = name.removeprefix("SENT")

    def by_date(c: Candidate) -> bool:
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
    text = _text(token) if not isinstance(token, ParenList) else ""
    if not text.isdigit() or len(text) > 20:
        raise ParseError("expected a number")
    return int(text)


# -- strings ------------------------------------------------------------------------------------

_WSP_RUN = re.compile(r"[ \t\r\n]+")


def casemap(text: str) -> str:
    """i;unicode-casemap (RFC 5051), near enough: each character case mapped (to upper case,
    as titlecase does for all but a few digraphs), then decomposed (NFKD)."""
    if text.isascii():
        return text.upper()
    return unicodedata.normalize("NFKD", text.upper())


def decode_words(value: str) -> str:
    """``value`` with its RFC 2047 encoded words decoded (left as they are when unreadable)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


# -- addresses, from the ENVELOPE -----------------------------------------------------------------

_SEXP = re.compile(rb'[ \t]*(?:(\()|(\))|(NIL)|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n)', re.I)


@dataclass(frozen=True)
class _Envelope:
    has_subject: bool
    search: tuple[str | None, ...]  # FROM, TO, CC, BCC: the addresses as one folded text
    first: tuple[str, ...]  # FROM, TO, CC: addr-mailbox of the first address (RFC 5256)
    display: tuple[str, ...]  # FROM, TO: its display name, else its address (RFC 5957)


@lru_cache(maxsize=8192)
def _envelope_view(envelope: str) -> _Envelope:
    fields = _parse_sexp(envelope.encode("utf-8", "surrogateescape"))
    env = fields[0] if fields and isinstance(fields[0], list) else []
    lists = [_address_list(env[i] if len(env) > i else None) for i in (2, 5, 6, 7)]
    return _Envelope(
        has_subject=len(env) > 1 and env[1] is not None,
        search=tuple(casemap(_address_text(a)) if a is not None else None for a in lists),
        first=tuple(_first_mailbox(a) for a in lists[:3]),
        display=tuple(_display(a) for a in lists[:2]),
    )


def _parse_sexp(data: bytes) -> list[Any]:
    """The nested lists of an ENVELOPE: str for strings, None for NIL; stops at what it cannot
    read (the envelope is ours, computed at delivery)."""
    stack: list[list[Any]] = [[]]
    pos = 0
    while pos < len(data):
        m = _SEXP.match(data, pos)
        if m is None:
            break
        pos = m.end()
        if m.group(1):
            stack.append([])
        elif m.group(2):
            if len(stack) == 1:
                break
            done = stack.pop()
            stack[-1].append(done)
        elif m.group(3):
            stack[-1].append(None)
        elif m.group(4) is not None:
            raw = re.sub(rb"\\(.)", rb"\1", m.group(4))
            stack[-1].append(raw.decode("utf-8", "replace"))
        else:
            size = int(m.group(5))
            stack[-1].append(data[pos : pos + size].decode("utf-8", "replace"))
            pos += size
    while len(stack) > 1:
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


_Address = tuple[str | None, str | None, str | None, str | None]


def _address_list(value: Any) -> list[_Address] | None:
    if not isinstance(value, list):
        return None
    out: list[_Address] = []
    for item in value:
        if isinstance(item, list) and len(item) == 4:
            name, adl, mailbox, host = (v if isinstance(v, str) else None for v in item)
            out.append((name, adl, mailbox, host))
    return out


def _address_text(addresses: list[_Address]) -> str:
    """The header's addresses written out as Dovecot 2.3 searches them: ``"Display Name"
    <mailbox@host>`` (the name quoted when it is not all atext, encoded words decoded;
    ``<@route:mailbox@host>`` with a route), ``<mailbox@host>`` without a name, a group as
    ``name: <member>, <member>;`` (``name:;`` when empty), all joined by ``", "``."""
    out: list[str] = []
    group: list[str] | None = None
    group_name = ""
    # a group's start has no host, like an address without a domain (``From: d``); only the
    # former is closed by a later end marker (NIL NIL NIL NIL)
    ends = [i for i, a in enumerate(addresses) if a == (None, None, None, None)]
    last_end = ends[-1] if ends else -1
    for index, (name, adl, mailbox, host) in enumerate(addresses):
        if host is None and mailbox is None:  # the end of a group
            if group is not None:
                out.append(_group_text(group_name, group))
            group = None
            continue
        if host is None and group is None and index < last_end:
            group, group_name = [], mailbox or ""  # the start of a group
            continue
        spec = _atoms(mailbox or "", dot=True) + (f"@{host}" if host is not None else "")
        if adl:
            spec = f"{adl}:{spec}"
        text = f"{_phrase(name)} <{spec}>" if name else f"<{spec}>"
        (group if group is not None else out).append(text)
    if group is not None:
        out.append(_group_text(group_name, group))
    return ", ".join(out)


def _group_text(name: str, members: list[str]) -> str:
    label = _phrase(name) if name else '""'
    return f"{label}: {', '.join(members)};" if members else f"{label}:;"


_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)


def _phrase(text: str) -> str:
    """A display or group name as Dovecot writes it: encoded words decoded, other names quoted
    unless every character is atext (or non-ASCII)."""
    if "=?" in text:
        return decode_words(text)
    return _atoms(text, dot=False)


def _atoms(text: str, dot: bool) -> str:
    if all(ch in _ATEXT or ord(ch) > 0x7F or (dot and ch == ".") for ch in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_mailbox(addresses: list[_Address] | None) -> str:
    """RFC 5256 §3: the addr-mailbox of the first address; a group's name for a group (it is
    the mailbox of the group's start in the ENVELOPE, as in Dovecot)."""
    if not addresses:
        return ""
    return addresses[0][2] or ""


def _display(addresses: list[_Address] | None) -> str:
    """RFC 5957 §3.1: the decoded display name of the first address, else its addr-spec (the
    group's name for a group)."""
    if not addresses:
        return ""
    name, _, mailbox, host = addresses[0]
    if name:
        decoded = decode_words(name)
        if decoded:
            return decoded
    if mailbox is not None and host is not None:
        return f"{mailbox}@{host}"
    return mailbox or ""


# -- content, for HEADER, BODY and TEXT ---------------------------------------------------------


def read_content(raw: bytes) -> Content:
    """The decoded, case-mapped header fields and text of a message (CPU-bound: run it off the
    event loop)."""
    msg = message_from_bytes(raw, policy=compat32)
    header = tuple((k.lower(), casemap(_header_value(v))) for k, v in msg.items())
    lines: list[str] = []
    bodies: list[str] = []
    for part in msg.walk():
        lines.extend(f"{k}: {_header_value(v)}" for k, v in part.items())
        if part.is_multipart():
            continue
        if part.get_content_maintype() not in ("text", "message"):
            continue
        bodies.append(_part_text(part))
    return Content(header, casemap("\n".join(lines)), casemap("\n".join(bodies)))


def _header_value(value: Any) -> str:
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # 8-bit octets, read as UTF-8
        text = text.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return decode_words(_WSP_RUN.sub(" ", text).strip())


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = "utf-8"
    if codec == "ascii":
        codec = "utf-8"  # 8-bit text labelled us-ascii is UTF-8 more often than not
    return payload.decode(codec, "replace")


# -- evaluation ---------------------------------------------------------------------------------


async def evaluate(
    program: Program,
    rows: Sequence[MessageRow],
    load: Callable[[MessageRow], Awaitable[bytes]],
) -> list[Candidate]:
    """The messages of ``rows`` (the selected folder, in sequence order) that match
    ``program``. Tests run in slices between which the event loop serves others; content is
    loaded (``load``) and parsed (in the pool) only for the messages the other keys leave
    undecided, one at a time."""
    candidates = await in_slices(lambda pair: Candidate(*pair), list(enumerate(rows, 1)))
    results = await in_slices(program.test, candidates)
    for index, (candidate, result) in enumerate(zip(candidates, results, strict=True)):
        if result is not None:
            continue
        candidate.content = await in_pool(read_content, await load(candidate.row))
        results[index] = bool(program.test(candidate))
        candidate.content = None
    return [c for c, r in zip(candidates, results, strict=True) if r]


# -- SORT (RFC 5256, RFC 5957) ------------------------------------------------------------------

SORT_KEYS = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO")


def parse_sort(token: Token) -> list[tuple[str, bool]]:
    """The sort criteria: (key, reverse) pairs, in order of precedence."""
    if not isinstance(token, ParenList) or not token.items:
        raise ParseError("SORT criteria must be a non-empty list")
    if len(token.items) > 2 * len(SORT_KEYS):
        raise ParseError("too many sort criteria")
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


def sort_value(key: str, candidate: Candidate) -> Any:
    """The value ``key`` sorts ``candidate`` by; strings are compared case-mapped (RFC 5051)."""
    row = candidate.row
    if key == "ARRIVAL":
        return _aware(row.internal_date).timestamp()
    if key == "DATE":  # RFC 5256 §3: the internal date when there is no usable Date header
        return _aware(row.meta.date or row.internal_date).timestamp()
    if key == "SIZE":
        return row.size
    if key == "SUBJECT":
        return casemap(strip_subject(row.meta.subject))  # decoded at delivery
    env = candidate.envelope()
    if key.startswith("DISPLAY"):
        return casemap(env.display[("DISPLAYFROM", "DISPLAYTO").index(key)])
    return casemap(env.first[("FROM", "TO", "CC").index(key)])


def base_subject(subject: str) -> str:
    """The base subject of a Subject header value (RFC 5256 §2.1), case kept: encoded words
    decoded (step 1), then :func:`strip_subject`."""
    return strip_subject(decode_words(subject))


def strip_subject(text: str) -> str:
    """RFC 5256 §2.1 steps 1 (whitespace) to 7 on a decoded subject: runs of whitespace made one
    space; trailing ``(fwd)`` and spaces removed; leading ``Re:``, ``Fw:``, ``Fwd:`` (with an
    optional ``[blob]`` before the colon, and ``[blob]`` prefixes before them) and spaces
    removed; a leading ``[blob]`` removed when something is left after it; all of this
    repeated, and a ``[Fwd: ...]`` wrapping unwrapped and the whole done again."""
    text = _WSP_RUN.sub(" ", text)
    while True:
        text = _strip_trailers(text)  # (2)
        while True:  # (3) to (5)
            stripped = _strip_leader(text)
            if stripped.startswith("["):  # (4)
                end = _blob_end(stripped, 0)
                if end is not None and end < len(stripped):
                    stripped = stripped[end:]
            if stripped == text:
                break
            text = stripped
        if text[:5].upper() == "[FWD:" and text.endswith("]"):  # (6)
            text = text[5:-1]
            continue
        return text  # (7)


def _strip_trailers(text: str) -> str:
    """subj-trailer = "(fwd)" / WSP, repeatedly, from the end."""
    while True:
        if text.endswith(" "):
            text = text[:-1]
        elif text[-5:].upper() == "(FWD)":
            text = text[:-5]
        else:
            return text


def _strip_leader(text: str) -> str:
    """One subj-leader = (*subj-blob subj-refwd) / WSP from the start, if there is one;
    subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"."""
    if text.startswith(" "):
        return text[1:]
    pos = 0
    while text.startswith("[", pos):
        end = _blob_end(text, pos)
        if end is None:
            return text
        pos = end
    word = text[pos : pos + 3].upper()
    if word == "FWD":
        pos += 3
    elif word[:2] in ("RE", "FW"):
        pos += 2
    else:
        return text
    if text.startswith(" ", pos):
        pos += 1
    if text.startswith("[", pos):
        end = _blob_end(text, pos)
        if end is None:
            return text
        pos = end
    if not text.startswith(":", pos):
        return text
    return text[pos + 1 :]


def _blob_end(text: str, pos: int) -> int | None:
    """After the subj-blob = "[" *BLOBCHAR "]" *WSP at ``pos``, or None if there is none."""
    end = pos + 1
    while end < len(text) and text[end] not in "[]":
        end += 1
    if end >= len(text) or text[end] != "]":
        return None
    end += 1
    return end + 1 if text.startswith(" ", end) else end


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
