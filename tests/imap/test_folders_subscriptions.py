"""Subscriptions (RFC 3501 §6.3.6–6.3.9, RFC 9051 §6.3.7–6.3.8) and the folder operations
that meet them: CREATE subscribes nothing, a subscription is a name that outlives DELETE and
stays put on RENAME, LSUB's \\Noselect parents; Dovecot is the oracle where the RFCs leave it
open."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from mailbox.dovecot_peer import Dovecot, available  # tests/mailbox (pythonpath "tests")

import pytest

from espace_sante.mailbox.imap.mailstore import MAX_NAME

from .conftest import Mailbox
from .raw import RawImap, RawOpener

DEFAULTS = ["Archive", "Drafts", "INBOX", "Sent", "Trash"]


async def _session(raw_imap: RawOpener, mailbox: Mailbox) -> RawImap:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password)
    return s


async def _run(s: RawImap, command: str) -> tuple[str, list[str]]:
    """The tagged status (with its response code) and the untagged lines of ``command``."""
    answer = await s.command(command)
    words = answer.tagged.decode().split()
    status = " ".join(words[1:3]) if len(words) > 2 and words[2].startswith("[") else words[1]
    return status, [x.decode().rstrip("\r\n") for x in answer.untagged]


async def _ok(s: RawImap, *commands: str) -> None:
    for index, command in enumerate(commands):
        status, untagged = await _run(s, f"k{index} {command}")
        assert status.split()[0] == "OK", (command, status, untagged)


async def _lsub(s: RawImap, pattern: str = "*") -> list[str]:
    status, untagged = await _run(s, f'l LSUB "" "{pattern}"')
    assert status == "OK"
    return untagged


async def test_new_accounts_default_folders_are_subscribed(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """The account's default folders come subscribed (mail apps showing only subscribed folders
    show them); LSUB lists a subscribed name as ``()``, as Dovecot does."""
    s = await _session(raw_imap, mailbox)
    assert await _lsub(s) == [f'* LSUB () "/" "{n}"' for n in DEFAULTS]


async def test_create_subscribes_nothing(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """Only SUBSCRIBE subscribes (RFC 3501 §6.3.6): not CREATE, nor the parents it creates."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE Cardiologie/2026/Mars")
    assert await _lsub(s) == [f'* LSUB () "/" "{n}"' for n in DEFAULTS]
    _, listed = await _run(s, 'b LIST "" "Cardio*" RETURN (SUBSCRIBED)')
    assert listed == [
        '* LIST (\\HasChildren) "/" "Cardiologie"',
        '* LIST (\\HasChildren) "/" "Cardiologie/2026"',
        '* LIST (\\HasNoChildren) "/" "Cardiologie/2026/Mars"',
    ]
    await _ok(s, "SUBSCRIBE Cardiologie/2026")
    assert await _lsub(s, "Cardio*") == ['* LSUB () "/" "Cardiologie/2026"']


async def test_subscription_outlives_delete(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """A subscription is a name: DELETE leaves it (RFC 3501 §6.3.6 "MUST NOT unilaterally
    remove an existing mailbox name from the subscription list"); LIST (SUBSCRIBED) shows it
    \\NonExistent (RFC 5258 §3.1); a re-created folder of that name is subscribed; only
    UNSUBSCRIBE takes it out, also while it has no folder."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE Radiologie", "SUBSCRIBE Radiologie", "DELETE Radiologie")
    assert await _lsub(s, "R*") == ['* LSUB () "/" "Radiologie"']
    _, listed = await _run(s, 'b LIST (SUBSCRIBED) "" "R*"')
    assert listed == ['* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Radiologie"']
    assert await _run(s, 'c LIST "" "R*"') == ("OK", [])
    # SUBSCRIBE checks that the mailbox exists (RFC 3501 §6.3.6 allows it; Dovecot does)
    assert (await _run(s, "d SUBSCRIBE Radiologie"))[0] == "NO [NONEXISTENT]"
    await _ok(s, "CREATE Radiologie")
    _, listed = await _run(s, 'e LIST (SUBSCRIBED) "" "R*"')
    assert listed == ['* LIST (\\HasNoChildren \\Subscribed) "/" "Radiologie"']
    await _ok(s, "DELETE Radiologie", "UNSUBSCRIBE Radiologie")
    assert await _lsub(s, "R*") == []
    assert await _run(s, 'f LIST (SUBSCRIBED) "" "R*"') == ("OK", [])
    await _ok(s, "CREATE Radiologie")  # and a new folder of that name is not subscribed
    assert await _lsub(s, "R*") == []


async def test_rename_leaves_subscriptions_where_they_are(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RENAME moves the folder and those below it (RFC 3501 §6.3.5), not the subscriptions:
    they are names, and Dovecot keeps them on the old names too (mail apps such as Thunderbird
    subscribe the new name and unsubscribe the old one themselves)."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE p/q", "SUBSCRIBE p", "SUBSCRIBE p/q", "RENAME p r")
    assert await _lsub(s, "*") == [
        f'* LSUB () "/" "{n}"' for n in ["Archive", "Drafts", "INBOX", "Sent", "Trash", "p", "p/q"]
    ]
    _, listed = await _run(s, 'b LIST "" "*" RETURN (SUBSCRIBED)')
    assert '* LIST (\\HasChildren) "/" "r"' in listed
    assert '* LIST (\\HasNoChildren) "/" "r/q"' in listed
    assert not any('"p' in x for x in listed)
    await _ok(s, "RENAME r p")  # back under the subscribed names: subscribed folders again
    _, listed = await _run(s, 'c LIST (SUBSCRIBED) "" "p*"')
    assert listed == [
        '* LIST (\\HasChildren \\Subscribed) "/" "p"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "p/q"',
    ]


async def test_rename_creates_parents_and_refuses_moving_below_itself(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §6.3.5: the server SHOULD create the superior names the new name needs; a
    mailbox cannot become its own child; a name taken below the new one is refused."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE x/y", "RENAME x/y n/m")
    _, listed = await _run(s, 'b LIST "" "n*"')
    assert listed == ['* LIST (\\HasChildren) "/" "n"', '* LIST (\\HasNoChildren) "/" "n/m"']
    assert (await _run(s, "c RENAME n n/deeper"))[0] == "NO [CANNOT]"
    await _ok(s, "CREATE o/m")
    await _ok(s, "DELETE o")  # "o" is now a level without a folder; "o/m" exists
    assert (await _run(s, "d RENAME n o"))[0] == "NO [ALREADYEXISTS]"  # n/m would be o/m


async def test_lsub_percent_shows_unsubscribed_parents_as_noselect(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §6.3.9: "foo/bar" subscribed but not "foo": LSUB with "%" returns "foo" flagged
    \\Noselect, not "foo/bar"; with "*" only the subscribed names. UNSUBSCRIBE takes them out."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE t/one", "CREATE t/two/three", "SUBSCRIBE t/one", "SUBSCRIBE t/two/three")
    assert await _lsub(s, "t/%") == ['* LSUB () "/" "t/one"', '* LSUB (\\Noselect) "/" "t/two"']
    assert await _lsub(s, "%") == [f'* LSUB () "/" "{n}"' for n in DEFAULTS] + [
        '* LSUB (\\Noselect) "/" "t"'
    ]
    assert await _lsub(s, "t*") == ['* LSUB () "/" "t/one"', '* LSUB () "/" "t/two/three"']
    await _ok(s, "UNSUBSCRIBE t/two/three")
    assert await _lsub(s, "t/%") == ['* LSUB () "/" "t/one"']
    await _ok(s, "UNSUBSCRIBE t/one")
    assert await _lsub(s, "%") == [f'* LSUB () "/" "{n}"' for n in DEFAULTS]
    # UNSUBSCRIBE of a name that is not subscribed, or has no folder: OK (Dovecot's answer)
    await _ok(s, "UNSUBSCRIBE t/one", "UNSUBSCRIBE never/was")


async def test_deleted_parent_is_a_noselect_level(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 3501 §6.3.4: deleting a name with inferiors removes its messages and leaves the name
    \\Noselect (\\NonExistent in the extended syntax, RFC 5258 §3); it cannot be selected or
    deleted again, and CREATE makes it a folder again."""
    s = await _session(raw_imap, mailbox)
    await _ok(s, "CREATE a/b", "DELETE a")
    _, listed = await _run(s, 'b LIST "" "a*"')
    assert listed == [
        '* LIST (\\Noselect \\HasChildren) "/" "a"',
        '* LIST (\\HasNoChildren) "/" "a/b"',
    ]
    _, listed = await _run(s, 'c LIST () "" "%"')
    assert '* LIST (\\NonExistent \\HasChildren) "/" "a"' in listed
    assert (await _run(s, "d SELECT a"))[0] == "NO [NONEXISTENT]"
    assert (await _run(s, "e DELETE a"))[0] == "NO [NONEXISTENT]"
    assert (await _run(s, "f SUBSCRIBE a"))[0] == "NO [NONEXISTENT]"
    await _ok(s, "CREATE a")
    _, listed = await _run(s, 'g LIST "" "a"')
    assert listed == ['* LIST (\\HasChildren) "/" "a"']


# -- Dovecot as the oracle ------------------------------------------------------------------
#
# The same commands on a private Dovecot (maildir, "/" separator) and on our server; the
# answers are compared as sets of (name, attributes, extended data) per command. Left out of
# the comparison: \HasChildren / \HasNoChildren (we always send them, Dovecot only when asked:
# RFC 5258 §4 allows both), special-use and \Marked/\UnMarked attributes, the order of lines,
# and the number of messages. Dovecot's maildir makes parents levels without a folder where our
# CREATE makes folders, so the set-up differs to give both the same hierarchy.

_BOTH_SETUP = [
    "CREATE Cardio",
    "CREATE Cardio/2025",
    "CREATE Cardio/2026",
    "CREATE Labo",
    "SUBSCRIBE INBOX",
    "SUBSCRIBE Cardio/2026",
    "CREATE Gone",
    "SUBSCRIBE Gone",
    "DELETE Gone",
    "CREATE Labo/Sang",
    "SUBSCRIBE Labo/Sang",
    "CREATE Old",
    "CREATE Old/Sub",
    "SUBSCRIBE Old",
    "SUBSCRIBE Old/Sub",
    "RENAME Old New",
]
_DOVECOT_SETUP = ["CREATE Virt/Leaf"]  # "Virt": a level without a folder in maildir
_OUR_SETUP = ["UNSUBSCRIBE Sent", "UNSUBSCRIBE Drafts", "UNSUBSCRIBE Trash", "UNSUBSCRIBE Archive",
              "CREATE Virt/Leaf", "DELETE Virt"]  # fmt: skip
_ORACLE_COMMANDS = [
    'LIST "" "*"',
    'LIST "" "%"',
    'LIST () "" "%"',
    'LIST "" "%" RETURN (CHILDREN)',
    'LIST "" "*" RETURN (SUBSCRIBED)',
    'LIST (SUBSCRIBED) "" "*"',
    'LIST (SUBSCRIBED) "" "%"',
    'LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Cardio/%"',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Labo" "Cardio")',
    'LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) "" "%"',
    'LIST (RECURSIVEMATCH) "" "%"',
    'LIST (RECURSIVEMATCH REMOTE) "" "%"',
    'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (UIDNEXT))',
    'LIST "" "Virt*" RETURN (STATUS (UIDNEXT))',
    'LIST "" ("%" "Cardio/*")',
    'LSUB "" "*"',
    'LSUB "" "%"',
    'LSUB "" "Cardio/%"',
    'LSUB "" "Labo/%"',
    "SUBSCRIBE Nowhere",
    "UNSUBSCRIBE Nowhere",
    "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}",
    'LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*',
    "SELECT foo[bar",
    "SELECT &Jjo",
]
_IGNORED = {"\\HASCHILDREN", "\\HASNOCHILDREN", "\\MARKED", "\\UNMARKED"}
_IGNORED |= {"\\SENT", "\\DRAFTS", "\\TRASH", "\\ARCHIVE", "\\JUNK"}
_LINE = re.compile(r'\* (LIST|LSUB) \((.*?)\) "/" ("?)(.*?)\3( \(.*\))?$')


def _normalise(status: str, untagged: list[str]) -> tuple[str, list[str]]:
    out = []
    for text in untagged:
        if text.startswith("* STATUS"):
            name = re.sub(r" \(.*", "", text[len("* STATUS ") :]).strip('"')
            out.append(f"STATUS {name}")
            continue
        m = _LINE.match(text)
        if m is None:  # SELECT's answer, for instance
            continue
        kind, attrs, _, name, extra = m.groups()
        shown = sorted({a.upper() for a in attrs.split()} - _IGNORED)
        childinfo = (extra or "").upper().replace('"CHILDINFO"', "CHILDINFO")
        out.append(f"{kind} {name} {' '.join(shown)}{childinfo}")
    return status.split()[0], sorted(out)


@pytest.fixture
def dovecot_folders() -> Iterator[Dovecot]:
    """A fresh Dovecot for each run (the test changes its folders)."""
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot(config="namespace inbox {\n  inbox = yes\n  separator = /\n}\n")
    peer.add_messages([b"Subject: x\r\n\r\nbody\r\n"])
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


async def _answers(s: RawImap, setup: list[str]) -> list[tuple[str, list[str]]]:
    await _ok(s, *setup)
    out = []
    for index, command in enumerate(_ORACLE_COMMANDS):
        out.append(_normalise(*await _run(s, f"o{index} {command}")))
    return out


@pytest.mark.peer
async def test_folders_and_subscriptions_answer_as_dovecot(
    raw_imap: RawOpener, mailbox: Mailbox, dovecot_folders: Dovecot
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", dovecot_folders.port)
    theirs = RawImap(reader, writer, await reader.readline())  # plain IMAP on loopback
    await theirs.login(dovecot_folders.user, dovecot_folders.password)
    expected = await _answers(theirs, _BOTH_SETUP + _DOVECOT_SETUP)
    theirs.close()
    ours = await _session(raw_imap, mailbox)
    got = await _answers(ours, _BOTH_SETUP + _OUR_SETUP)
    for command, mine, dovecot in zip(_ORACLE_COMMANDS, got, expected, strict=True):
        assert mine == dovecot, command


async def test_longest_name_keeps_its_subscription(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """A kept subscription is stored with a prefix in the folder-name column (255 characters):
    names are refused beyond what a kept subscription can hold (NO [LIMIT], not a server error
    on PostgreSQL), and the longest one outlives DELETE."""
    s = await _session(raw_imap, mailbox)
    longest = "n" * MAX_NAME
    assert (await _run(s, f"b CREATE {longest}x"))[0] == "NO [LIMIT]"
    await _ok(s, f"CREATE {longest}", f"SUBSCRIBE {longest}", f"DELETE {longest}")
    assert await _lsub(s, "n*") == [f'* LSUB () "/" "{longest}"']
    await _ok(s, "CREATE short")
    assert (await _run(s, f"c RENAME short {longest}x"))[0] == "NO [LIMIT]"
