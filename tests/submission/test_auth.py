"""Submission AUTH (RFC 4954): only under TLS, required before MAIL, app passwords with
throttling and audit, tokens with XOAUTH2 and OAUTHBEARER (RFC 7628)."""

from __future__ import annotations

import base64
import json
import ssl
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.mta.submission import SubmissionListener
from espace_sante.policy.login import FAILURES_BEFORE_LOCK
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry, LoginThrottle, OutboundMessage
from submission.conftest import World, connect


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


async def test_no_auth_before_starttls(submission: SubmissionListener, world: World) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=submission.port, start_tls=False)
    await client.connect()
    ehlo = await client.ehlo()
    assert "STARTTLS" in ehlo.message and "AUTH" not in ehlo.message
    plain = b64(f"\0{world.patient.address}\0{world.patient.password}")
    response = await client.execute_command(b"AUTH", b"PLAIN", plain.encode())
    assert response.code == 530 and "STARTTLS" in response.message
    mail = await client.execute_command(b"MAIL", f"FROM:<{world.patient.address}>".encode())
    assert mail.code == 530
    client.close()


async def test_mail_before_auth_is_refused_in_french_and_english(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await connect(submission, client_tls)
    assert "AUTH" in client.last_ehlo_response.message
    for mechanism in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"):
        assert mechanism in client.last_ehlo_response.message
    response = await client.execute_command(b"MAIL", f"FROM:<{world.patient.address}>".encode())
    assert response.code == 530
    assert "5.7.0 Authentification requise" in response.message and "required" in response.message
    null = await client.execute_command(b"MAIL", b"FROM:<>")
    assert null.code == 530
    await client.quit()


@pytest.mark.parametrize("implicit", [False, True])
async def test_plain_with_app_password(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, implicit: bool
) -> None:
    client = await connect(submission, client_tls, implicit=implicit)
    response = await client.auth_plain(world.patient.address, world.patient.password)
    assert response.code == 235
    mail = await client.execute_command(b"MAIL", f"FROM:<{world.patient.address}>".encode())
    assert mail.code == 250
    await client.quit()


async def test_login_mechanism(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await connect(submission, client_tls)
    response = await client.auth_login(world.patient.address, world.patient.password)
    assert response.code == 235
    again = await client.execute_command(b"AUTH", b"PLAIN", b64("\0a\0b").encode())
    assert again.code == 503
    await client.quit()


async def test_failures_are_counted_audited_then_lock(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, storage: Storage
) -> None:
    client = await connect(submission, client_tls)
    for _ in range(FAILURES_BEFORE_LOCK):
        bad = b64(f"\0{world.patient.address}\0aaaa-bbbb-cccc-dddd")
        response = await client.execute_command(b"AUTH", b"PLAIN", bad.encode())
        assert response.code == 535 and "5.7.8" in response.message
    # locked: even the right password is refused now, with a temporary code
    good = b64(f"\0{world.patient.address}\0{world.patient.password}")
    response = await client.execute_command(b"AUTH", b"PLAIN", good.encode())
    assert response.code == 454 and "4.7.0" in response.message
    await client.quit()
    async with storage.sessions() as s:
        row = await s.get(LoginThrottle, world.patient.account_id)
        actions = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.detail).where(
                    AuditEntry.account_id == world.patient.account_id
                )
            )
        ).all()
    assert row is not None and row.failures == FAILURES_BEFORE_LOCK
    failed = [json.loads(d) for a, d in actions if a == "login.failed"]
    assert len(failed) == FAILURES_BEFORE_LOCK
    assert all(d["service"] == "submission" for d in failed)
    assert [a for a, _ in actions].count("login.locked") == 1


async def test_unknown_user_and_malformed_responses(
    submission: SubmissionListener, client_tls: ssl.SSLContext
) -> None:
    client = await connect(submission, client_tls)
    unknown = b64("\0nobody@patient.mssante.fr\0aaaa-bbbb-cccc-dddd")
    assert (await client.execute_command(b"AUTH", b"PLAIN", unknown.encode())).code == 535
    assert (await client.execute_command(b"AUTH", b"PLAIN", b"!!notbase64")).code == 501
    assert (await client.execute_command(b"AUTH", b"PLAIN", b64("no-nul").encode())).code == 501
    assert (await client.execute_command(b"AUTH", b"CRAM-MD5")).code == 504
    assert (await client.execute_command(b"AUTH", b"PLAIN", b"a", b"b")).code == 501
    # acting for another account (authzid) is refused
    other = b64("other@patient.mssante.fr\0nobody@patient.mssante.fr\0x")
    assert (await client.execute_command(b"AUTH", b"PLAIN", other.encode())).code == 535
    await client.quit()


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
async def test_token_mechanisms(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    signer: TokenSigner,
    mechanism: str,
) -> None:
    token = signer.issue(world.patient.account_id, world.patient.address)
    if mechanism == "XOAUTH2":
        response = f"user={world.patient.address}\x01auth=Bearer {token}\x01\x01"
    else:
        response = f"n,a={world.patient.address},\x01auth=Bearer {token}\x01\x01"
    client = await connect(submission, client_tls)
    result = await client.execute_command(b"AUTH", mechanism.encode(), b64(response).encode())
    assert result.code == 235
    mail = await client.execute_command(b"MAIL", f"FROM:<{world.patient.address}>".encode())
    assert mail.code == 250
    await client.quit()


@pytest.mark.parametrize("case", ["imap_only", "other_user", "forged", "expired"])
async def test_bad_tokens_get_an_error_challenge_then_535(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    signer: TokenSigner,
    case: str,
) -> None:
    user = world.patient.address
    if case == "imap_only":
        token = signer.issue(world.patient.account_id, user, services=frozenset({"imap"}))
    elif case == "other_user":
        token = signer.issue(world.other.account_id, world.other.address)
    elif case == "forged":
        token = signer.issue(world.patient.account_id, user)[:-4] + "AAAA"
    else:
        token = signer.issue(world.patient.account_id, user, ttl=1, now=1_000_000.0)
    client = await connect(submission, client_tls)
    response = f"user={user}\x01auth=Bearer {token}\x01\x01"
    challenge = await client.execute_command(b"AUTH", b"XOAUTH2", b64(response).encode())
    assert challenge.code == 334
    error = json.loads(base64.b64decode(challenge.message))
    assert error["status"] == "invalid_token"
    final = await client.execute_command(b"")
    assert final.code == 535
    assert (await client.execute_command(b"MAIL", f"FROM:<{user}>".encode())).code == 530
    await client.quit()


async def test_webmail_path_aiosmtplib_xoauth2(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    signer: TokenSigner,
) -> None:
    """What the webmail does: aiosmtplib's own XOAUTH2 with a token for the logged-in patient."""
    client = await connect(submission, client_tls)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await client.auth_xoauth2(world.patient.address, "not-a-token")
    assert refused.value.code == 535
    token = signer.issue(world.patient.account_id, world.patient.address)
    assert (await client.auth_xoauth2(world.patient.address, token)).code == 235
    await client.quit()


async def test_stdlib_smtplib_over_implicit_tls(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    """A mail app: Python's smtplib on the implicit-TLS port, login() picking its mechanism."""
    import asyncio
    import smtplib

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP_SSL(
            "127.0.0.1", submission.tls_port, context=client_tls, timeout=30
        ) as client:
            client.login(world.patient.address, world.patient.password)
            return client.mail(world.patient.address)

    code, _ = await asyncio.to_thread(run)
    assert code == 250


async def test_swaks_sends_a_reply(
    submission: SubmissionListener,
    world: World,
    pki: Any,
    storage: Storage,
) -> None:
    """swaks (Debian) as the mail client: STARTTLS, AUTH PLAIN, a reply to the open
    conversation."""
    import asyncio
    import shutil

    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed (make install-test installs it)")
    proc = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        f"127.0.0.1:{submission.port}",
        "--tls",
        "--tls-ca-path",
        str(pki.ca_cert),
        "--tls-verify",
        "--auth",
        "PLAIN",
        "--auth-user",
        world.patient.address,
        "--auth-password",
        world.patient.password,
        "--from",
        world.patient.address,
        "--to",
        "dr.dupont@medecin.mssante.fr",
        "--header",
        "Subject: Re: Compte rendu",
        "--body",
        "Merci docteur",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "235 2.7.0" in text and "250 2.0.0 Message accepté" in text
    async with storage.sessions() as s:
        rows = (await s.execute(select(OutboundMessage))).scalars().all()
    assert [(r.kind, r.rcpt_to) for r in rows] == [("reply", "dr.dupont@medecin.mssante.fr")]


async def test_hostile_auth_exchanges(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await connect(submission, client_tls)
    huge = await client.execute_command(b"AUTH", b"PLAIN", b"A" * 20000)
    assert huge.code == 500 and "5.5.2" in huge.message
    # LOGIN: the client gives up with "*" (RFC 4954 §4)
    assert (await client.execute_command(b"AUTH", b"LOGIN")).code == 334
    aborted = await client.execute_command(b"*")
    assert aborted.code == 501 and "abandonnée" in aborted.message
    # LOGIN: not base64 at the password prompt
    user = b64(world.patient.address).encode()
    assert (await client.execute_command(b"AUTH", b"LOGIN", user)).code == 334
    assert (await client.execute_command(b"%%%")).code == 501
    # XOAUTH2 with a malformed response: error challenge, then 535
    assert (await client.execute_command(b"AUTH", b"XOAUTH2", b64("garbage").encode())).code == 334
    assert (await client.execute_command(b"")).code == 535
    # the session is still usable
    assert (await client.auth_plain(world.patient.address, world.patient.password)).code == 235
    await client.quit()


async def test_a_guardian_sends_for_a_minor_with_their_own_password(
    submission: SubmissionListener, client_tls: ssl.SSLContext, world: World, storage: Storage
) -> None:
    """PLAIN with the minor's address as authorization identity: the guardian's own app password
    opens the minor's account (never a shared password); anyone else is refused."""
    from datetime import date

    from espace_sante.accounts.guardians import add_guardian
    from espace_sante.accounts.patients import NewPatient, create_patient
    from espace_sante.policy.ins import DEMO_NIR_OID
    from espace_sante.storage.engine import transaction
    from fixtures.mssante import valid_nir

    async with transaction(storage.sessions) as s:
        minor = await create_patient(
            s, storage.keyring,
            NewPatient(ins=valid_nir("1150675123999"), oid=DEMO_NIR_OID, family_name="ENFANT",
                       given_names="Léo", birth_date=date(2015, 6, 1), sex="M",
                       birthplace="75112", status="active"),
            patient_domain=storage.settings.mssante.patient_domain, accept_test_ins=True,
        )  # fmt: skip
    acting = b64(f"{minor.address}\0{world.patient.address}\0{world.patient.password}")
    client = await connect(submission, client_tls)
    assert (await client.execute_command(b"AUTH", b"PLAIN", acting.encode())).code == 535
    await client.quit()

    async with transaction(storage.sessions) as s:
        await add_guardian(s, minor.address, world.patient.address)
    client = await connect(submission, client_tls)
    assert (await client.execute_command(b"AUTH", b"PLAIN", acting.encode())).code == 235
    # the session is the minor's: the guardian's own address may not be the sender
    refused = await client.execute_command(b"MAIL", f"FROM:<{world.patient.address}>".encode())
    assert refused.code == 553 and "5.7.1" in refused.message
    accepted = await client.execute_command(b"RSET")
    assert accepted.code == 250
    assert (await client.execute_command(b"MAIL", f"FROM:<{minor.address}>".encode())).code == 250
    await client.quit()
    other = b64(f"{minor.address}\0{world.other.address}\0{world.other.password}")
    client = await connect(submission, client_tls)
    assert (await client.execute_command(b"AUTH", b"PLAIN", other.encode())).code == 535
    await client.quit()
    async with storage.sessions() as s:
        actions = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.actor).where(
                    AuditEntry.account_id == minor.account_id
                )
            )
        ).all()
    assert ("mailbox.guardian_login", f"account:{world.patient.account_id}") in actions
