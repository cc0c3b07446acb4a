"""LIST and its extensions: LIST-EXTENDED (RFC 5258) worked through the examples of its §5,
RECURSIVEMATCH and CHILDINFO, hierarchy levels that are no folder, LIST-STATUS (RFC 5819),
mailbox-name atoms (RFC 9051 §9), and the LIST pattern matcher (RFC 3501 §6.3.8)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espace_sante.mailbox.imap.commands.folders import Pattern

from .conftest import Mailbox
from .raw import RawImap, RawOpener

#: Every account has these; the RFC's examples do not, so their lines are left out below.
DEFAULTS = ("Sent", "Drafts", "Trash", "Archive")
CHILDINFO = ' (CHILDINFO ("SUBSCRIBED"))'


def line(attrs: str, name: str, childinfo: bool = False) -> str:
    return f'* LIST ({attrs}) "/" "{name}"' + (CHILDINFO if childinfo else "")


async def _session(raw_imap: RawOpener, mailbox: Mailbox) -> RawImap:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password)
    return s


async def _run(s: RawImap, command: str) -> tuple[str, list[str]]:
    """The tagged status and the untagged lines (without CRLF) of ``command``."""
    answer = await s.command(command)
    return answer.tagged.split()[1].decode(), [x.decode().rstrip("\r\n") for x in answer.untagged]


def _shown(lines: list[str], hide: tuple[str, ...]) -> list[str]:
    return [x for x in lines if not any(f'"/" "{n}"' in x for n in hide)]


# -- RFC 5258 §5, example by example ----------------------------------------------------------
#
# Each hierarchy is built with CREATE (which also creates the parents), SUBSCRIBE and DELETE;
# then each command's untagged answer is compared line for line with what we send. Where we
# differ from the RFC's text it is within what the RFC allows: the default folders of every
# account are left out of the comparison (Sent, Drafts, Trash, Archive); INBOX is "INBOX" without
# \Marked or \NoInferiors; \HasChildren / \HasNoChildren come with every LIST (§4: "a server MAY
# provide it even if the option is not specified"); names are always quoted, and CHILDINFO's tag
# is an atom (an astring either way); there are no remote mailboxes, so REMOTE adds nothing.
# A step whose answer is None (a set-up step, without a tag) must just succeed.

Steps = list[tuple[str, list[str] | None]]

_FRUIT_SETUP: Steps = [
    ("CREATE Fruit/Apple", None),
    ("CREATE Fruit/Banana", None),
    ("CREATE Fruit/Peach", None),
    ("CREATE Tofu", None),
    ("CREATE Vegetable/Broccoli", None),
    ("CREATE Vegetable/Corn", None),
    ("SUBSCRIBE Fruit/Banana", None),
    ("SUBSCRIBE Fruit/Peach", None),
    ("SUBSCRIBE Vegetable", None),
    ("SUBSCRIBE Vegetable/Broccoli", None),
    ("DELETE Fruit/Peach", None),  # "perhaps it was deleted while still subscribed"
]
_FRUIT_ALL = [
    line("\\HasChildren", "Fruit"),
    line("\\HasNoChildren", "Fruit/Apple"),
    line("\\HasNoChildren", "Fruit/Banana"),
    line("\\HasNoChildren", "INBOX"),
    line("\\HasNoChildren", "Tofu"),
    line("\\HasChildren", "Vegetable"),
    line("\\HasNoChildren", "Vegetable/Broccoli"),
    line("\\HasNoChildren", "Vegetable/Corn"),
]
_FRUIT_SUBSCRIBED = [
    line("\\HasNoChildren \\Subscribed", "Fruit/Banana"),
    line("\\NonExistent \\HasNoChildren \\Subscribed", "Fruit/Peach"),
    line("\\HasNoChildren \\Subscribed", "INBOX"),
    line("\\HasChildren \\Subscribed", "Vegetable"),
    line("\\HasNoChildren \\Subscribed", "Vegetable/Broccoli"),
]
_FRUIT_TOP = [
    line("\\HasChildren", "Fruit"),
    line("\\HasNoChildren", "INBOX"),
    line("\\HasNoChildren", "Tofu"),
    line("\\HasChildren", "Vegetable"),
]
EXAMPLES_1_TO_6: Steps = [
    *_FRUIT_SETUP,
    ('A01 LIST "" "*"', _FRUIT_ALL),  # example 1: the hierarchy
    ('A02 LIST (SUBSCRIBED) "" "*"', _FRUIT_SUBSCRIBED),  # 2: Fruit/Peach \NonExistent
    ('A03 LIST () "" "%" RETURN (CHILDREN)', _FRUIT_TOP),  # 3
    ('A04 LIST (REMOTE) "" "%" RETURN (CHILDREN)', _FRUIT_TOP),  # 4 (no remote mailboxes)
    ('A05 LIST (REMOTE SUBSCRIBED) "" "*"', _FRUIT_SUBSCRIBED),  # 5
    (  # 6: subscription information, and no line for the non-existent Fruit/Peach
        'A06 LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)',
        [
            line("\\HasChildren", "Fruit"),
            line("\\HasNoChildren", "Fruit/Apple"),
            line("\\HasNoChildren \\Subscribed", "Fruit/Banana"),
            line("\\HasNoChildren \\Subscribed", "INBOX"),
            line("\\HasNoChildren", "Tofu"),
            line("\\HasChildren \\Subscribed", "Vegetable"),
            line("\\HasNoChildren \\Subscribed", "Vegetable/Broccoli"),
            line("\\HasNoChildren", "Vegetable/Corn"),
        ],
    ),
]

EXAMPLE_7: Steps = [  # several patterns
    ("CREATE Sent/March2004", None),
    ("CREATE Sent/December2003", None),
    ("CREATE Sent/August2004", None),
    (
        'BBB LIST "" ("INBOX" "Drafts" "Sent/%")',
        [
            line("\\HasNoChildren \\Drafts", "Drafts"),
            line("\\HasNoChildren", "INBOX"),
            line("\\HasNoChildren", "Sent/August2004"),
            line("\\HasNoChildren", "Sent/December2003"),
            line("\\HasNoChildren", "Sent/March2004"),
        ],
    ),
]

_C04 = 'C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'
EXAMPLE_8: Steps = [  # \HasChildren against CHILDINFO
    ("CREATE Foo/Bar", None),
    ("CREATE Foo/Baz", None),
    ("CREATE Moo", None),
    ("UNSUBSCRIBE INBOX", None),
    (
        'CA3 LIST "" "%" RETURN (CHILDREN)',
        [
            line("\\HasChildren", "Foo"),
            line("\\HasNoChildren", "INBOX"),
            line("\\HasNoChildren", "Moo"),
        ],
    ),  # fmt: skip
    ("SUBSCRIBE Foo/Baz", None),  # A) Foo/Baz is the only subscribed mailbox
    ('C02 LIST (SUBSCRIBED) "" "*"', [line("\\HasNoChildren \\Subscribed", "Foo/Baz")]),
    ('C03 LIST (SUBSCRIBED) "" "%"', []),
    (_C04, [line("\\HasChildren", "Foo", childinfo=True)]),
    ("SUBSCRIBE Foo", None),  # A1) Foo subscribed too
    (_C04, [line("\\HasChildren \\Subscribed", "Foo", childinfo=True)]),
    (_C04 + " RETURN (CHILDREN)", [line("\\HasChildren \\Subscribed", "Foo", childinfo=True)]),
    ("UNSUBSCRIBE Foo", None),  # A2) Foo is no mailbox and not subscribed
    ("DELETE Foo", None),
    (_C04, [line("\\NonExistent \\HasChildren", "Foo", childinfo=True)]),
    ("UNSUBSCRIBE Foo/Baz", None),  # B) nothing subscribed
    (_C04, []),
    ("CREATE Foo", None),  # C) only Foo and Moo subscribed
    ("SUBSCRIBE Foo", None),
    ("SUBSCRIBE Moo", None),
    (
        _C04 + " RETURN (CHILDREN)",
        [line("\\HasChildren \\Subscribed", "Foo"), line("\\HasNoChildren \\Subscribed", "Moo")],
    ),
]

_NINE = ["foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2/mamba"]
EXAMPLE_9: Steps = [  # CHILDINFO whether or not the children match the pattern
    *[(f"CREATE {n}", None) for n in [*_NINE, "qux2/bar2"]],
    ("DELETE qux2", None),  # "qux2/bar2" without a "qux2"
    ("UNSUBSCRIBE INBOX", None),
    *[(f"SUBSCRIBE {n}", None) for n in [*_NINE, "eps2", "qux2/bar2"]],
    (
        'D02 LIST (SUBSCRIBED) "" "*"',
        [
            line("\\HasNoChildren \\Subscribed", "baz2/bar2"),
            line("\\HasNoChildren \\Subscribed", "baz2/bar22"),
            line("\\HasNoChildren \\Subscribed", "baz2/bar222"),
            line("\\HasChildren \\Subscribed", "eps2"),
            line("\\HasNoChildren \\Subscribed", "eps2/mamba"),
            line("\\HasNoChildren \\Subscribed", "foo2/bar1"),
            line("\\HasNoChildren \\Subscribed", "foo2/bar2"),
            line("\\HasNoChildren \\Subscribed", "qux2/bar2"),
        ],
    ),
    (  # baz2's and qux2's subscribed children are listed themselves: no line for the parents
        'D03 LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"',
        [
            line("\\HasNoChildren \\Subscribed", "baz2/bar2"),
            line("\\HasNoChildren \\Subscribed", "baz2/bar22"),
            line("\\HasNoChildren \\Subscribed", "baz2/bar222"),
            line("\\HasChildren \\Subscribed", "eps2", childinfo=True),
            line("\\HasChildren", "foo2", childinfo=True),
            line("\\HasNoChildren \\Subscribed", "foo2/bar2"),
            line("\\HasNoChildren \\Subscribed", "qux2/bar2"),
        ],
    ),
    (  # with "%" none of the children is listed, so every parent is, with CHILDINFO
        'D04 LIST (RECURSIVEMATCH SUBSCRIBED) "" "%"',
        [
            line("\\HasChildren", "baz2", childinfo=True),
            line("\\HasChildren \\Subscribed", "eps2", childinfo=True),
            line("\\HasChildren", "foo2", childinfo=True),
            line("\\NonExistent \\HasChildren", "qux2", childinfo=True),
        ],
    ),
]

EXAMPLE_10: Steps = [  # CHILDINFO does not imply \HasChildren
    ("CREATE foo/bar", None),
    ("SUBSCRIBE foo/bar", None),
    ("DELETE foo/bar", None),
    ('a1 LIST "" ("foo")', [line("\\HasNoChildren", "foo")]),
    (
        'a2 LIST (SUBSCRIBED) "" "foo/*"',
        [line("\\NonExistent \\HasNoChildren \\Subscribed", "foo/bar")],
    ),
    (
        'a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)',
        [line("\\HasNoChildren", "foo", childinfo=True)],
    ),
]

EXAMPLE_11: Steps = [  # a missing level of the hierarchy ("music" of "music/rock")
    ("CREATE music/rock", None),
    ("DELETE music", None),
    ('a2 LIST () "" %',
        [line("\\HasNoChildren", "INBOX"), line("\\NonExistent \\HasChildren", "music")]),
    ('a2b LIST "" %',  # the base syntax: \Noselect (RFC 3501 §6.3.8)
        [line("\\HasNoChildren", "INBOX"), line("\\Noselect \\HasChildren", "music")]),
    (  # the RFC allows leaving "music" out here; we list it, as Dovecot does
        'a3.1 LIST "" (% music/rock)',
        [line("\\HasNoChildren", "INBOX"), line("\\NonExistent \\HasChildren", "music"),
         line("\\HasNoChildren", "music/rock")],
    ),
    ('a4 LIST "" "music*"',  # Dovecot lists the level for "*" too (RFC 3501 requires it for "%")
        [line("\\Noselect \\HasChildren", "music"), line("\\HasNoChildren", "music/rock")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "hide"),
    [
        pytest.param(EXAMPLES_1_TO_6, DEFAULTS, id="examples-1-6"),
        pytest.param(EXAMPLE_7, ("Trash", "Archive"), id="example-7"),
        pytest.param(EXAMPLE_8, DEFAULTS, id="example-8"),
        pytest.param(EXAMPLE_9, DEFAULTS, id="example-9"),
        pytest.param(EXAMPLE_10, DEFAULTS, id="example-10"),
        pytest.param(EXAMPLE_11, DEFAULTS, id="example-11"),
    ],
)
async def test_rfc5258_examples(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    steps: Steps,
    hide: tuple[str, ...],
) -> None:
    """RFC 5258 §5: the examples' hierarchies and subscriptions, and each command's answer."""
    s = await _session(raw_imap, mailbox)
    for name in DEFAULTS:  # the RFC's examples subscribe only the inbox
        await _run(s, f"u UNSUBSCRIBE {name}")
    for index, (command, expected) in enumerate(steps):
        # the checked commands carry the RFC's tags; the set-up steps get one
        status, untagged = await _run(s, command if expected is not None else f"s{index} {command}")
        assert status == "OK", (command, untagged)
        if expected is not None:
            assert _shown(untagged, hide) == expected, command


# -- errors and the remaining rules --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        'LIST (RECURSIVEMATCH) "" ""',  # RFC 5258 §3.1: never the only selection option...
        'LIST (RECURSIVEMATCH REMOTE) "" "*"',  # ... nor only with REMOTE
        'LIST (BOGUS) "" "*"',
        'LIST "" "*" RETURN (BOGUS)',
        'LIST "" "*" RETURN (STATUS (COLOR))',
        'LIST "" "*" RETURN STATUS',
        'LIST "" ()',  # patterns = "(" list-mailbox *(SP list-mailbox) ")"
        'LIST ("SUBSCRIBED") "" "*"',
        'LIST ""',
        'LSUB (SUBSCRIBED) "" "*"',  # LSUB has no selection options ...
        'LSUB "" ("a" "b")',  # ... nor several patterns
        'LSUB "" "*" RETURN (CHILDREN)',
    ],
)
async def test_malformed_list_commands_are_bad(
    raw_imap: RawOpener, mailbox: Mailbox, command: str
) -> None:
    s = await _session(raw_imap, mailbox)
    assert (await _run(s, "b " + command))[0] == "BAD"
    for fine in ('LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"', 'LIST (REMOTE) "" "%" RETURN ()'):
        assert (await _run(s, "c " + fine))[0] == "OK"


async def test_list_status_skips_names_without_a_folder(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 5819 §2: no STATUS for a \\NonExistent or \\Noselect name; one for each folder."""
    s = await _session(raw_imap, mailbox)
    for command in ("CREATE gone", "SUBSCRIBE gone", "DELETE gone", "CREATE top/sub", "DELETE top"):
        assert (await _run(s, f"b {command}"))[0] == "OK"
    _, untagged = await _run(s, 'c LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
    assert '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "gone"' in untagged
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"' in untagged
    assert '* STATUS "INBOX" (MESSAGES 2)' in untagged
    assert not any(x.startswith('* STATUS "gone"') for x in untagged)
    _, untagged = await _run(s, 'd LIST "" "top*" RETURN (STATUS (MESSAGES UNSEEN))')
    assert untagged == [
        '* LIST (\\NonExistent \\HasChildren) "/" "top"',
        '* LIST (\\HasNoChildren) "/" "top/sub"',
        '* STATUS "top/sub" (MESSAGES 0 UNSEEN 0)',
    ]


async def test_empty_pattern_asks_for_the_delimiter(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 3501 §6.3.8: LIST "" "" gives the delimiter; in the extended syntax, and for LSUB,
    "" is a pattern like another and matches no name (as Dovecot answers)."""
    s = await _session(raw_imap, mailbox)
    assert await _run(s, 'b LIST "" ""') == ("OK", ['* LIST (\\Noselect) "/" ""'])
    assert await _run(s, 'c LIST () "" ""') == ("OK", [])
    assert await _run(s, 'd LSUB "" ""') == ("OK", [])


# -- mailbox names as atoms (RFC 9051 §9) -----------------------------------------------------


async def test_atom_names_are_names(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """Every ATOM-CHAR, "[" included, makes a mailbox name: a missing mailbox is NO, not BAD
    (imaptest's "atoms" group); "%" "*" "]" in a LIST pattern too. The imaptest name is not
    modified UTF-7 ("&'"): NO as well, as Dovecot answers."""
    s = await _session(raw_imap, mailbox)
    atom = "!#$&'+,-.0123456789:;<=>?@^_`|[}"
    status, _ = await _run(s, f"b SELECT {atom}")
    assert status == "NO"
    assert await _run(s, f'c LIST "" {atom}%*') == ("OK", [])
    assert (await _run(s, "d SELECT foo[bar"))[0] == "NO"
    assert (await _run(s, "e CREATE foo[bar]"))[0] == "OK"
    assert (await _run(s, "f SELECT foo[bar]"))[0] == "OK"
    assert await _run(s, 'g LIST "" foo[*') == ("OK", ['* LIST (\\HasNoChildren) "/" "foo[bar]"'])
    assert (await _run(s, "h SELECT a]b"))[0] == "NO"
    status, untagged = await _run(s, "i SELECT a{3}")  # no literal: answered at once
    assert status == "BAD" and untagged == []
    assert (await _run(s, "j CREATE &AOk"))[0] == "NO"


# -- patterns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "hit"),
    [
        ("*", "a/b/c", True),
        ("%", "a", True),
        ("%", "a/b", False),
        ("a/%", "a/b", True),
        ("a/%", "a/b/c", False),
        ("%/%", "a/b", True),
        ("a%", "abc", True),
        ("a%c", "a/b/c", False),
        ("a*c", "a/b/c", True),
        ("*b", "a/b", True),
        ("%b", "a/b", False),
        ("a/*", "a", False),
        ("a/", "a", False),
        ("", "a", False),
        ("%%*%", "x/y", True),
        ("*%", "x/y", True),
        ("inbox", "INBOX", True),  # RFC 3501 §5.1: INBOX in any case
        ("In%", "INBOX", True),
        ("inbox/x", "INBOX/x", False),  # only INBOX itself
        ("R%sultats", "Résultats", True),
        ("*[*", "foo[bar]", True),
    ],
)
def test_pattern_table(pattern: str, name: str, hit: bool) -> None:
    assert Pattern(pattern).match(name) is hit


def _regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)


@settings(max_examples=400, deadline=None)  # a shared, noisy machine
@given(st.text(alphabet="ab/%*", max_size=8), st.text(alphabet="ab/", max_size=8))
def test_pattern_agrees_with_a_regular_expression(pattern: str, name: str) -> None:
    assert Pattern(pattern).match(name) is (re.fullmatch(_regex(pattern), name, re.S) is not None)


async def test_many_wildcards_do_not_backtrack(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """A pattern of many "%" against a long name that it does not match: a backtracking regular
    expression takes exponential time (the server would freeze every listener); the matcher
    is linear, so the answer comes at once (the client's read timeout bounds this test)."""
    s = await _session(raw_imap, mailbox)
    long = "a" * 200
    assert (await _run(s, f"b CREATE {long}"))[0] == "OK"
    hostile = "%a" * 60 + "b"
    assert await _run(s, f'c LIST "" {hostile}') == ("OK", [])
    assert await _run(s, f'd LIST "" ({" ".join([hostile] * 50)})') == ("OK", [])
    assert (await _run(s, f'e LIST "" {"%a" * 60}'))[1] == [
        f'* LIST (\\HasNoChildren) "/" "{long}"'
    ]
