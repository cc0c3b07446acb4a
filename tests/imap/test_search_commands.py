"""SEARCH and SORT over the wire: address keys and BODY against TEXT (RFC 3501 §6.4.4), SORT's
charset (RFC 5256 §3), CONDSTORE's MODSEQ key and answers (RFC 7162 §3.1.5, RFC 4731 §3.2),
SORT=DISPLAY (RFC 5957), and the limits on a search program (RFC 5530 LIMIT)."""

from __future__ import annotations

import re

from .conftest import Mailbox
from .raw import Literal, RawImap, RawOpener
from .search_corpus import ADDRESSED, wire

BADCHARSET = b"NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n"


async def _session(raw_imap: RawOpener, mailbox: Mailbox) -> RawImap:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    return c


async def _append(c: RawImap, folder: str, messages: list[bytes]) -> None:
    """Each message appended as it is (8-bit octets included), with LITERAL+."""
    await c.command(f"c CREATE {folder}")
    for raw in messages:
        appended = await c.command(f"p APPEND {folder} ", Literal(raw))
        assert appended.tagged.startswith(b"p OK"), appended


async def _answer(c: RawImap, line: bytes | str) -> tuple[list[bytes], bytes]:
    """The untagged lines (without CRLF) and the tagged line of one command."""
    untagged, tagged = await c.command(line)
    return [r.rstrip(b"\r\n") for r in untagged], tagged


async def _tagged(c: RawImap, line: str) -> bytes:
    return (await c.command(line)).tagged


async def test_address_keys_and_body_against_text(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """FROM, TO, CC and BCC match any address of the field, display names, comments, groups
    and decoded encoded words; BODY reads the decoded text parts only, TEXT the headers too
    (the answers are Dovecot's: see test_search_oracle)."""
    s = await _session(raw_imap, mailbox)
    await _append(s, "Search", ADDRESSED)
    await s.command("s SELECT Search")
    cases = [
        ('FROM "jean dupont"', "2"),  # user@domain (Real Name)
        ("FROM dupont", "1 2"),
        ("TO third@y.fr", "1"),  # the third address of the field
        ("TO user-to@domain.org", "2"),  # comments inside the address
        ('FROM "jérôme"', "3"),  # an encoded word
        ('TO "renée durand <renee@"', "3"),
        ("CC equipe", "1"),  # a group's name
        ("CC m2@x.fr", "1"),  # ... and its members
        ('TO "undisclosed-recipients:;"', "4"),  # an empty group
        ('BCC "mme secret"', "1"),
        ("BODY bilan", "2"),  # in the subjects of both, in the body of 2
        ("TEXT bilan", "1 2"),
        ('BODY "renouvelée"', "5"),  # base64 UTF-8 and quoted-printable Latin-1
        ('BODY "crème"', "6"),  # 8-bit Latin-1
        ("BODY pdfonlyword", ""),  # not a text part
        ("TEXT ordonnance.pdf", "5"),  # a part's header
        ("BODY ordonnance.pdf", ""),
    ]
    for program, expected in cases:
        untagged, tagged = await _answer(s, b"q SEARCH " + wire(program))
        assert tagged.startswith(b"q OK"), (program, tagged)
        assert untagged == [("* SEARCH " + expected).strip().encode()], program


async def test_an_unknown_charset_is_badcharset_in_sort_as_in_search(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 5256 §3 and RFC 3501 §6.4.4: NO [BADCHARSET (the charsets we support)]. A CHARSET
    among SORT's search keys is no search key: BAD, as Dovecot answers (it was NO [SERVERBUG])."""
    s = await _session(raw_imap, mailbox)
    await s.command("s SELECT INBOX")
    assert await _tagged(s, "a SORT (DATE) X-UNKNOWN ALL") == b"a " + BADCHARSET
    assert await _tagged(s, "b UID SORT (FROM) x-unknown ALL") == b"b " + BADCHARSET
    assert await _tagged(s, "c SEARCH CHARSET X-UNKNOWN ALL") == b"c " + BADCHARSET
    assert await _tagged(s, 'd SEARCH CHARSET "x-unknown" ALL') == b"d " + BADCHARSET
    assert (await _tagged(s, "e SORT (DATE) UTF-8 CHARSET X-UNKNOWN ALL")).startswith(b"e BAD")
    assert (await _tagged(s, "f SORT (DATE) us-ascii ALL")).startswith(b"f OK")


async def test_search_modseq_enables_condstore_and_answers_the_highest_modseq(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1.5: MODSEQ with an entry name and type parses; the answer ends with
    (MODSEQ n), the highest mod-sequence of the matches (none when nothing matched); the key
    is CONDSTORE-enabling, so the first one sends HIGHESTMODSEQ. ESEARCH (RFC 4731 §3.2):
    MIN or MAX alone carry the mod-sequence of the messages they return."""
    s = await _session(raw_imap, mailbox)
    await s.command("s SELECT INBOX")
    await s.command("t STORE 1 +FLAGS (\\Seen)")
    untagged, tagged = await _answer(s, 'a SEARCH MODSEQ "/flags/\\\\seen" all 1')
    assert tagged.startswith(b"a OK")
    assert re.fullmatch(rb"\* OK \[HIGHESTMODSEQ \d+\] .*", untagged[0]), untagged
    fetched = (await s.command("f FETCH 1:* (MODSEQ)")).joined
    one, two = (int(m) for m in re.findall(rb"MODSEQ \((\d+)\)", fetched))
    assert one > two  # the STORE changed message 1 last
    assert untagged[1:] == [b"* SEARCH 1 2 (MODSEQ %d)" % one]
    # enabled now: no second HIGHESTMODSEQ
    assert (await _answer(s, f"b SEARCH MODSEQ {one}"))[0] == [b"* SEARCH 1 (MODSEQ %d)" % one]
    assert (await _answer(s, f"c SEARCH MODSEQ {one + 1}"))[0] == [b"* SEARCH"]
    assert (await _answer(s, "d SORT (REVERSE ARRIVAL) UTF-8 MODSEQ 1"))[0] == [
        b"* SORT 2 1 (MODSEQ %d)" % one
    ]
    esearch = {
        "MIN": b"MIN 1 MODSEQ %d" % one,
        "MAX": b"MAX 2 MODSEQ %d" % two,
        "MIN MAX": b"MIN 1 MAX 2 MODSEQ %d" % one,
        "COUNT": b"COUNT 2 MODSEQ %d" % one,
        "ALL": b"ALL 1:2 MODSEQ %d" % one,
    }
    for options, expected in esearch.items():
        untagged, _ = await _answer(s, f"e SEARCH RETURN ({options}) MODSEQ 1")
        assert untagged == [b'* ESEARCH (TAG "e") ' + expected], options
    for bad in ('MODSEQ "/flags/\\\\seen" foo 1', 'MODSEQ "/flags/\\\\seen" all', "MODSEQ -1"):
        assert (await _tagged(s, f"g SEARCH {bad}")).startswith(b"g BAD"), bad


async def test_search_programs_are_capped(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """The program that froze every listener (`SEARCH` and ` 1:*` 16,300 times, 65 KB) is
    refused at once with NO [LIMIT] (RFC 5530); nesting beyond the limit is BAD; the session
    goes on."""
    s = await _session(raw_imap, mailbox)
    await s.command("s SELECT INBOX")
    refused = await s.command("a SEARCH" + " 1:*" * 16_300)
    assert refused == ([], b"a NO [LIMIT] more than 1000 search keys\r\n")
    assert (await s.command("b SEARCH" + " 1:*" * 1000)).untagged[0] == b"* SEARCH 1 2\r\n"
    assert (await _tagged(s, "c SEARCH " + "NOT " * 40 + "ALL")).startswith(b"c BAD")
    sets = " ".join(["UID " + ",".join(["1"] * 6000)] * 2)  # 12,000 ranges in all
    assert (await _tagged(s, f"d SEARCH {sets}")).startswith(b"d NO [LIMIT]")
    assert (await _tagged(s, "e NOOP")).startswith(b"e OK")


async def test_sort_display(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 5957: SORT=DISPLAY is advertised and DISPLAYFROM, DISPLAYTO sort (their order
    against Dovecot's: test_search_oracle)."""
    s = await _session(raw_imap, mailbox)
    capability = (await s.command("a CAPABILITY")).untagged[0]
    assert b" SORT SORT=DISPLAY " in capability
    await _append(s, "Display", ADDRESSED)
    await s.command("s SELECT Display")
    # From: alice@labo.fr (no name: the address), Cardiologie, "Dupont, Jean", Jean Dupont (a
    # comment), Jérôme Martin, Pharmacie; To: anne@x.fr, Patient, patient@x.fr, Renée Durand,
    # undisclosed-recipients (a group), user-to@domain.org
    assert (await _answer(s, "b SORT (DISPLAYFROM) UTF-8 ALL"))[0] == [b"* SORT 4 6 1 2 3 5"]
    assert (await _answer(s, "c SORT (REVERSE DISPLAYTO) UTF-8 ALL"))[0] == [b"* SORT 2 4 3 5 6 1"]


async def test_esort_and_saved_min_max(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 5267 §3.2: SORT RETURN answers ESEARCH, MIN and MAX the first and last in the sort
    order, ALL in that order; RFC 5182 §2.1: SAVE with MIN or MAX alone keeps only those."""
    s = await _session(raw_imap, mailbox)
    assert b" ESORT " in (await s.command("a CAPABILITY")).untagged[0]
    await _append(s, "Esort", ADDRESSED)
    await s.command("s SELECT Esort")
    # From's first mailboxes: alice (4), cardio (6), contact (5), jdupont (2), jean.dupont (1),
    # jerome (3)
    assert (await _answer(s, "b SORT RETURN (ALL) (FROM) UTF-8 ALL"))[0] == [
        b'* ESEARCH (TAG "b") ALL 4,6,5,2,1,3'
    ]
    assert (await _answer(s, "c UID SORT RETURN (MIN MAX COUNT) (REVERSE FROM) UTF-8 ALL"))[0] == [
        b'* ESEARCH (TAG "c") UID MIN 3 MAX 4 COUNT 6'
    ]
    assert (await _answer(s, "d SORT RETURN () (DATE) UTF-8 2:5"))[0] == [
        b'* ESEARCH (TAG "d") ALL 2:5'
    ]
    assert (await _answer(s, "e SORT RETURN (SAVE MAX) (FROM) UTF-8 ALL"))[0] == [
        b'* ESEARCH (TAG "e") MAX 3'
    ]
    assert (await _answer(s, "f SEARCH $"))[0] == [b"* SEARCH 3"]
    assert (await _answer(s, "g SEARCH RETURN (SAVE MIN MAX) 2:5"))[0] == [
        b'* ESEARCH (TAG "g") MIN 2 MAX 5'
    ]
    assert (await _answer(s, "h SEARCH $"))[0] == [b"* SEARCH 2 5"]
    assert (await _tagged(s, "i SEARCH RETURN (SAVE MIN COUNT) 2:5")).startswith(b"i OK")
    assert (await _answer(s, "j SEARCH $"))[0] == [b"* SEARCH 2 3 4 5"]
    assert (await _tagged(s, "k SORT RETURN (BOGUS) (FROM) UTF-8 ALL")).startswith(b"k BAD")
