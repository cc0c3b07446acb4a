"""AUTHENTICATE XOAUTH2 and OAUTHBEARER with tokens from ``accounts.tokens``."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl

import pytest

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from fixtures.seed import Seeded

from .conftest import Mailbox


async def _authenticate(
    imap: ImapListener, tls: ssl.SSLContext, mechanism: str, initial: bytes
) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=tls)
    await reader.readline()
    writer.write(f"a1 AUTHENTICATE {mechanism} ".encode() + base64.b64encode(initial) + b"\r\n")
    replies = [await asyncio.wait_for(reader.readline(), 10)]
    if replies[0].startswith(b"+ "):
        writer.write(b"\r\n" if mechanism == "XOAUTH2" else b"AQ==\r\n")
        replies.append(await asyncio.wait_for(reader.readline(), 10))
    writer.write(b"a2 SELECT INBOX\r\n")
    while not replies[-1].startswith(b"a2 "):
        replies.append(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    return replies


def _xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _oauthbearer(user: str, token: str) -> bytes:
    return f"n,a={user},\x01host=localhost\x01port=993\x01auth=Bearer {token}\x01\x01".encode()


@pytest.mark.parametrize(
    ("mechanism", "build"), [("XOAUTH2", _xoauth2), ("OAUTHBEARER", _oauthbearer)]
)
async def test_a_valid_token_logs_in(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, seeded: Seeded,
    settings: Settings, mechanism: str, build,  # noqa: ANN001
) -> None:  # fmt: skip
    token = TokenSigner.from_settings(settings).issue(seeded.active.account_id, mailbox.address)
    replies = await _authenticate(imap, client_tls, mechanism, build(mailbox.address, token))
    assert replies[0].startswith(b"a1 OK")
    assert replies[-1].startswith(b"a2 OK [READ-WRITE]")


@pytest.mark.parametrize(
    ("mechanism", "build"), [("XOAUTH2", _xoauth2), ("OAUTHBEARER", _oauthbearer)]
)
async def test_bad_tokens_get_an_error_challenge_then_no(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, seeded: Seeded,
    settings: Settings, mechanism: str, build,  # noqa: ANN001
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
        replies = await _authenticate(imap, client_tls, mechanism, initial)
        challenge = json.loads(base64.b64decode(replies[0][2:].strip()))
        assert challenge["status"] == "invalid_token"
        assert replies[1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
        assert replies[-1].startswith(b"a2 BAD")  # still not logged in


async def test_malformed_bearer_responses_are_bad(
    imap: ImapListener, client_tls: ssl.SSLContext
) -> None:
    for mechanism, initial in (
        ("XOAUTH2", b"nothing useful"),
        ("OAUTHBEARER", b"x,y\x01auth=Bearer t\x01\x01"),
        ("OAUTHBEARER", b"n,a=a@b,\x01auth=Basic t\x01\x01"),
    ):
        replies = await _authenticate(imap, client_tls, mechanism, initial)
        assert replies[0].startswith(b"a1 BAD"), (mechanism, initial)
