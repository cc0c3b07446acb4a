"""Properties of the address and matricule parsers, on arbitrary input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from espace_sante.policy import verdicts as v
from espace_sante.policy.addresses import classify_recipient, parse_mailbox
from espace_sante.policy.ins import check_matricule

digits = st.text("0123456789", min_size=13, max_size=13)


def key(prefix13: str) -> str:
    return f"{97 - int(prefix13) % 97:02d}"


@given(st.text(max_size=300))
def test_parsers_never_raise(text: str) -> None:
    parse_mailbox(text)
    classify_recipient(text, "patient.mssante.fr")
    assert check_matricule(text) in (v.ACCEPT, v.MALFORMED_ADDRESS, v.BAD_INS_KEY)


@given(digits)
def test_generated_matricules_are_accepted(prefix: str) -> None:
    matricule = prefix + key(prefix)
    assert check_matricule(matricule) is v.ACCEPT
    assert classify_recipient(f"{matricule}@patient.mssante.fr", "patient.mssante.fr") == (
        v.ACCEPT,
        matricule,
    )


@given(digits, st.integers(min_value=1, max_value=96))
def test_any_other_key_is_refused(prefix: str, shift: int) -> None:
    good = int(key(prefix))
    wrong = (good + shift) % 97
    if wrong == 0:
        wrong = 97  # "97" is a possible key value, never equal to a different good key
    if wrong == good:
        return
    assert check_matricule(f"{prefix}{wrong:02d}") is v.BAD_INS_KEY


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_parsed_mailboxes_round_trip(local: str, domain: str) -> None:
    mailbox = parse_mailbox(f"{local}@{domain}")
    if mailbox is not None:
        assert parse_mailbox(mailbox.address) == mailbox
        assert mailbox.domain == mailbox.domain.lower()
