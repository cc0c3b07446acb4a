"""The search program as pure functions: RFC 5256 §2.1 base subjects, the address text the
address keys match (RFC 3501 §6.4.4), what BODY and TEXT read, the limits on a program, the
MODSEQ key of RFC 7162 §3.1.5, and three-valued evaluation (content read only when needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from espace_sante.mailbox.imap import search
from espace_sante.mailbox.imap.mailstore import MessageRow
from espace_sante.mailbox.imap.parser import Atom, ParseError, Token, parse_command
from espace_sante.mailbox.imap.seqset import SequenceSetError
from espace_sante.mailbox.imapmeta import compute_meta, to_json

from .search_corpus import ADDRESSED, BASE_SUBJECTS


@pytest.mark.parametrize(("subject", "base"), BASE_SUBJECTS)
def test_base_subject(subject: str, base: str) -> None:
    """RFC 5256 §2.1: encoded words decoded, whitespace runs made one space, subj-trailer,
    subj-leader and subj-blob removed repeatedly, [Fwd: ...] unwrapped; case is kept (the
    comparison case-maps it, RFC 5051)."""
    assert search.base_subject(subject) == base


def test_sort_strings_compare_case_mapped() -> None:
    """i;unicode-casemap (RFC 5051): case folded to the upper-case side, so "[" and "_" sort
    after letters whatever their case, as Dovecot sorts them; accents decomposed."""
    keys = ["b", "_", "A", "[xyz]", "C", "é"]
    assert sorted(keys, key=search.casemap) == ["A", "b", "C", "é", "[xyz]", "_"]
    assert search.casemap("é") == search.casemap("E\u0301")


def _candidate(raw: bytes, seq: int = 1, flags: tuple[str, ...] = ()) -> search.Candidate:
    meta = compute_meta(raw)
    row = MessageRow(
        id=seq, uid=seq, flags=list(flags), modseq=seq, internal_date=datetime.now(UTC),
        size=len(raw), blob_id="b", meta_json=to_json(meta),
    )  # fmt: skip
    return search.Candidate(seq, row)


def test_address_text_is_written_as_dovecot_writes_it() -> None:
    """Every address of the field (not only the first), display names quoted unless atoms,
    comments as names, encoded words decoded, groups with their members."""
    env = _candidate(ADDRESSED[0]).envelope()
    assert env.search[0] == search.casemap('"Dupont, Jean" <jean.dupont@chu-exemple.fr>')
    assert env.search[1] == search.casemap('<anne@x.fr>, "Bob Bernard" <bob@x.fr>, <third@y.fr>')
    assert env.search[2] == search.casemap("Equipe: <m1@x.fr>, <m2@x.fr>;, <zed@z.fr>")
    assert env.search[3] == search.casemap('"Mme Secret" <secret@z.fr>')
    assert _candidate(ADDRESSED[2]).envelope().search[0] == search.casemap(
        "Jérôme Martin <jerome@labo.fr>"
    )
    empty_group = _candidate(ADDRESSED[3]).envelope()
    assert empty_group.search[1] == search.casemap("undisclosed-recipients:;")
    assert empty_group.search[2] is None  # no Cc field at all


def test_sort_addresses_use_the_first_mailbox_and_display_name() -> None:
    """RFC 5256 §3: the addr-mailbox of the first address, a group's name for a group;
    RFC 5957: the display name, else the address."""
    first = _candidate(ADDRESSED[0]).envelope()
    assert first.first == ("jean.dupont", "anne", "Equipe")
    assert first.display == ("Dupont, Jean", "anne@x.fr")
    assert _candidate(ADDRESSED[3]).envelope().first[1] == "undisclosed-recipients"
    assert _candidate(ADDRESSED[2]).envelope().display == ("Jérôme Martin", "Renée Durand")
    no_domain = _candidate(b"From: d\r\nTo: x:;\r\n\r\n").envelope()
    # as in Dovecot's ENVELOPE, an address without a domain has MISSING_DOMAIN for one
    assert no_domain.first[0] == "d" and no_domain.display == ("d@MISSING_DOMAIN", "x")


def test_body_reads_decoded_text_parts_and_text_the_headers_too() -> None:
    """BODY: the text parts, transfer encoding and charset decoded, not the non-text parts nor
    any header; TEXT: those and every header of the message and of its parts."""
    multipart = search.read_content(ADDRESSED[4])
    assert search.casemap("renouvelée pour trois mois") in multipart.body_text
    assert search.casemap("<p>Ordonnance renouvelée</p>") in multipart.body_text  # Latin-1 QP
    assert "PDFONLYWORD" not in multipart.body_text + multipart.headers_text
    assert (
        "ORDONNANCE.PDF" in multipart.headers_text and "ORDONNANCE.PDF" not in multipart.body_text
    )
    assert "SUBJECT: ORDONNANCE" in multipart.headers_text
    qp = search.read_content(ADDRESSED[2])
    assert search.casemap("l'hémoglobine est normale") in qp.body_text  # soft line break
    latin1 = search.read_content(ADDRESSED[5])
    assert search.casemap("Café crème") in latin1.body_text
    assert "INNERBODY" in latin1.body_text and "INNERSUBJECT" in latin1.headers_text
    assert ("x-header", "ASDFGHJKL") in search.read_content(ADDRESSED[3]).header


def _tokens(program: str) -> list[Token]:
    return list(parse_command(b"t SEARCH " + program.strip().encode()).args)


def _program(program: str, count: int = 5) -> search.Program:
    return search.parse_search(_tokens(program), count=count, largest_uid=count)


@pytest.mark.parametrize(
    ("program", "error"),
    [
        ("1:* " * (search.MAX_KEYS + 1), search.SearchLimit),  # the freeze of issue 9
        (
            " ".join(["(" + " ".join(["SEEN"] * 600) + ")"] * 2),
            search.SearchLimit,
        ),  # nested keys count
        ("NOT " * (search.MAX_DEPTH + 1) + "ALL", ParseError),
        ("OR ALL " * (search.MAX_DEPTH + 1) + "ALL", ParseError),
        (("UID " + ",".join(["1"] * 6000) + " ") * 2, search.SearchLimit),
        ("UID " + ",".join(["1"] * 10_001), SequenceSetError),
        ("CHARSET X-UNKNOWN ALL", search.BadCharset),
    ],
)
def test_program_limits(program: str, error: type[Exception]) -> None:
    """A program is capped before it runs: keys, nesting, sequence-set ranges (answered
    NO [LIMIT] or BAD by the session); an unknown charset is NO [BADCHARSET]."""
    with pytest.raises(error):
        _program(program)


def test_the_limits_leave_room_for_real_programs() -> None:
    assert _program("1:* " * search.MAX_KEYS).test(_candidate(ADDRESSED[0])) is True
    assert _program("NOT " * (search.MAX_DEPTH - 1) + "SEEN").test(_candidate(ADDRESSED[0]))


@pytest.mark.parametrize(
    "program",
    ['MODSEQ "/flags/\\\\seen" all 3', 'MODSEQ "/flags/$Label" priv 3', "MODSEQ 3"],
)
def test_modseq_with_and_without_an_entry(program: str) -> None:
    """RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer; one
    mod-sequence is kept per message, so the entry is checked, then ignored."""
    compiled = _program(program)
    assert compiled.modseq
    assert compiled.test(_candidate(ADDRESSED[0], seq=3)) is True
    assert compiled.test(_candidate(ADDRESSED[0], seq=2)) is False


@pytest.mark.parametrize(
    "program",
    [
        'MODSEQ "/flags/\\\\seen" foo 1',
        'MODSEQ "/other/x" all 1',
        'MODSEQ "/flags/" all 1',
        'MODSEQ "/flags/\\\\seen" all',
        "MODSEQ 9223372036854775808",
        "MODSEQ x",
    ],
)
def test_malformed_modseq_is_refused(program: str) -> None:
    with pytest.raises(ParseError):
        _program(program)


def test_content_is_needed_only_when_other_keys_leave_the_message_undecided() -> None:
    """Three-valued evaluation: a content key answers None until the content is loaded, and
    the cheap keys around it decide without it when they can."""
    message = _candidate(ADDRESSED[0], flags=("\\Seen",))
    assert _program("BODY normales").test(message) is None
    assert _program("UNSEEN BODY normales").test(message) is False
    assert _program("OR SEEN BODY x").test(message) is True
    assert _program("NOT BODY x").test(message) is None
    assert _program('BODY ""').needs_content is False  # every message contains ""
    message.content = search.read_content(ADDRESSED[0])
    assert _program("BODY normales").test(message) is True
    assert _program("BODY bilan").test(message) is False  # only in the subject
    assert _program("TEXT bilan").test(message) is True


def test_sort_charset_is_not_a_search_key() -> None:
    """SORT gives its charset before the keys (RFC 5256 §3): a CHARSET among them is an
    unknown key, BAD, as Dovecot answers."""
    tokens = [Atom("CHARSET"), Atom("X-UNKNOWN"), Atom("ALL")]
    with pytest.raises(ParseError):
        search.parse_search(tokens, count=1, largest_uid=1, charset=False)
