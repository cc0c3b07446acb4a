"""LOGIN, AUTHENTICATE (LOGIN, XOAUTH2, OAUTHBEARER with tokens from ``accounts.tokens``),
SASL-IR, STARTTLS and the capabilities before and after logging in.

The real-client sessions of ``test_session_imaplib`` cover LOGIN over STARTTLS, AUTHENTICATE PLAIN,
lock-out after wrong passwords and one account never opening another; ``test_guardian`` covers
the PLAIN authorization identity."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from fixtures.seed import Seeded

from .conftest import Mailbox
from .raw import RawOpener


async def test_capabilities_before_and_after_starttls_and_login(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    c = await raw_imap(starttls=True)
    assert b"STARTTLS" in c.greeting and b"LOGINDISABLED" in c.greeting
    before = (await c.command("a CAPABILITY")).untagged[0].split()
    assert b"AUTH=PLAIN" in before and b"STARTTLS" not in before and b"LOGINDISABLED" not in before
    assert b"IDLE" not in before  # the mailbox extensions wait for a login
    logged_in = await c.login(mailbox.address, mailbox.password, tag="b")
    assert b"[CAPABILITY " in logged_in.tagged and b"IDLE" in logged_in.tagged
    after = (await c.command("c CAPABILITY")).untagged[0].split()
    assert {b"IDLE", b"NAMESPACE", b"CONDSTORE", b"IMAP4rev2"} <= set(after)
    assert b"AUTH=PLAIN" not in after
    assert (await c.command("d STARTTLS")).tagged.startswith(b"d BAD")  # TLS is already on


async def test_authenticate_login(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    s = await raw_imap()
    prompt = await s.command("a AUTHENTICATE LOGIN", continuation=True)
    assert base64.b64decode(prompt.tagged[2:].strip()) == b"Username:"
    await s.send(base64.b64encode(mailbox.address.encode()) + b"\r\n")
    assert base64.b64decode((await s.readline())[2:].strip()) == b"Password:"
    await s.send(base64.b64encode(mailbox.password.encode()) + b"\r\n")
    assert (await s.readline()).startswith(b"a OK")
    s.close()
    # with SASL-IR the user name comes with the command
    s = await raw_imap()
    user = base64.b64encode(mailbox.address.encode()).decode()
    prompt = await s.command(f"b AUTHENTICATE LOGIN {user}", continuation=True)
    assert base64.b64decode(prompt.tagged[2:].strip()) == b"Password:"
    await s.send(base64.b64encode(b"wrong-password") + b"\r\n")
    assert (await s.readline(15)).startswith(b"b NO [AUTHENTICATIONFAILED]")


# -- bearer tokens: XOAUTH2 and OAUTHBEARER -------------------------------------------------------


async def _authenticate(raw_imap: RawOpener, mechanism: str, initial: bytes) -> list[bytes]:
    """AUTHENTICATE with an initial response (answering an error challenge with the empty
    response each mechanism expects), then SELECT INBOX; every line in order."""
    c = await raw_imap()
    first = await c.command(
        f"a1 AUTHENTICATE {mechanism} " + base64.b64encode(initial).decode(), continuation=True
    )
    replies = first.lines
    if replies[0].startswith(b"+ "):
        await c.send(b"\r\n" if mechanism == "XOAUTH2" else b"AQ==\r\n")
        replies.append(await c.readline())
    replies += (await c.command("a2 SELECT INBOX")).lines
    c.close()
    return replies


def _xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _oauthbearer(user: str, token: str) -> bytes:
    return f"n,a={user},\x01host=localhost\x01port=993\x01auth=Bearer {token}\x01\x01".encode()


@pytest.mark.parametrize(
    ("mechanism", "build"), [("XOAUTH2", _xoauth2), ("OAUTHBEARER", _oauthbearer)]
)
async def test_a_valid_token_logs_in(
    raw_imap: RawOpener, mailbox: Mailbox, seeded: Seeded, settings: Settings,
    mechanism: str, build: Callable[[str, str], bytes],
) -> None:  # fmt: skip
    token = TokenSigner.from_settings(settings).issue(seeded.active.account_id, mailbox.address)
    replies = await _authenticate(raw_imap, mechanism, build(mailbox.address, token))
    assert replies[0].startswith(b"a1 OK")
    assert replies[-1].startswith(b"a2 OK [READ-WRITE]")


@pytest.mark.parametrize(
    ("mechanism", "build"), [("XOAUTH2", _xoauth2), ("OAUTHBEARER", _oauthbearer)]
)
async def test_bad_tokens_get_an_error_challenge_then_no(
    raw_imap: RawOpener, mailbox: Mailbox, seeded: Seeded, settings: Settings,
    mechanism: str, build: Callable[[str, str], bytes],
) -> None:  # fmt: skip
    signer = TokenSigner.from_settings(settings)
    other = signer.issue(seeded.other.account_id, seeded.other.address)
    cases = [
        build(mailbox.address, "not-a-token"),
        build(mailbox.address, other),  # another patient's token
        build(
            mailbox.address, TokenSigner(b"z" * 32).issue(seeded.active.account_id, mailbox.address)
        ),
        build(
            mailbox.address,
            signer.issue(seeded.active.account_id, mailbox.address, frozenset({"submission"})),
        ),
    ]
    for initial in cases:
        replies = await _authenticate(raw_imap, mechanism, initial)
        challenge = json.loads(base64.b64decode(replies[0][2:].strip()))
        assert challenge["status"] == "invalid_token"
        assert replies[1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
        assert replies[-1].startswith(b"a2 BAD")  # still not logged in


async def test_malformed_bearer_responses_are_bad(raw_imap: RawOpener) -> None:
    for mechanism, initial in (
        ("XOAUTH2", b"nothing useful"),
        ("OAUTHBEARER", b"x,y\x01auth=Bearer t\x01\x01"),
        ("OAUTHBEARER", b"n,a=a@b,\x01auth=Basic t\x01\x01"),
    ):
        replies = await _authenticate(raw_imap, mechanism, initial)
        assert replies[0].startswith(b"a1 BAD"), (mechanism, initial)
