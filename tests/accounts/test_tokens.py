"""Access tokens: issued, checked, and refused when forged, expired, altered or misused."""

from __future__ import annotations

import pytest

from espace_sante.accounts.tokens import MAX_TOKEN_LENGTH, TokenError, TokenSigner

NOW = 1_800_000_000.0


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(b"k" * 32)


def test_a_token_carries_its_claims(signer: TokenSigner) -> None:
    token = signer.issue(7, "A@Patient.mssante.fr", ttl=60, now=NOW)
    claims = signer.verify(token, "imap", now=NOW + 59)
    assert (claims.account_id, claims.address) == (7, "a@patient.mssante.fr")
    assert claims.services == {"imap", "submission"}
    assert signer.issue(7, "a@x.fr", now=NOW) != signer.issue(7, "a@x.fr", now=NOW)  # unique


def test_expired_tokens_are_refused(signer: TokenSigner) -> None:
    token = signer.issue(7, "a@x.fr", ttl=60, now=NOW)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, "imap", now=NOW + 60)


def test_a_token_for_one_service_is_refused_by_another(signer: TokenSigner) -> None:
    token = signer.issue(7, "a@x.fr", services=frozenset({"submission"}), now=NOW)
    with pytest.raises(TokenError, match="not valid for imap"):
        signer.verify(token, "imap", now=NOW)


def test_forged_and_altered_tokens_are_refused(signer: TokenSigner) -> None:
    token = signer.issue(7, "a@x.fr", now=NOW)
    body, signature = token.split(".")
    other = TokenSigner(b"x" * 32).issue(7, "a@x.fr", now=NOW)
    forged_body = TokenSigner(b"x" * 32).issue(8, "b@x.fr", now=NOW).split(".")[0]
    for bad in (
        other,  # signed with another key
        f"{forged_body}.{signature}",  # claims swapped under a valid signature
        f"{body}.{signature[:-2]}AA",
        f"{body}.",
        token + ".x",
        "",
        "a" * (MAX_TOKEN_LENGTH + 1),
        "!!!.???",
    ):
        with pytest.raises(TokenError):
            signer.verify(bad, "imap", now=NOW)


@pytest.mark.parametrize("ttl", [0, -1, 3601])
def test_lifetimes_are_bounded(signer: TokenSigner, ttl: int) -> None:
    with pytest.raises(ValueError):
        signer.issue(7, "a@x.fr", ttl=ttl)
