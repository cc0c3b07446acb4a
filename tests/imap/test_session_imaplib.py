"""Real IMAP sessions with Python's imaplib, over implicit TLS and STARTTLS, on a mailbox that
the gateway's delivery code filled."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from collections.abc import Callable
from typing import TypeVar

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mailbox.imapmeta import from_json
from espace_sante.storage.runtime import Storage
from fixtures.store_queries import inbox

from .conftest import Mailbox, imaplib_client

T = TypeVar("T")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


async def test_login_list_select_and_fetch_over_implicit_tls(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, storage: Storage, seeded
) -> None:
    stored = await inbox(storage, seeded.active.account_id)

    def session() -> dict[str, object]:
        c = imaplib_client(imap, client_tls)
        out: dict[str, object] = {"caps": c.capabilities}
        out["login"] = c.login(mailbox.address, mailbox.password)
        out["list"] = c.list()
        out["select"] = c.select("INBOX")
        out["uidvalidity"] = c.response("UIDVALIDITY")
        out["meta"] = c.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
        out["peek"] = c.fetch("2", "(BODY.PEEK[])")
        out["flags_after_peek"] = c.fetch("2", "(FLAGS)")
        out["header"] = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
        out["read"] = c.fetch("1", "(BODY[TEXT]<0.10>)")
        out["flags_after_read"] = c.fetch("1", "(FLAGS)")
        out["uid_fetch"] = c.uid("FETCH", f"{stored[1].uid}", "(RFC822.SIZE)")
        out["logout"] = c.logout()
        return out

    out = await in_thread(session)
    assert "AUTH=PLAIN" in out["caps"] and "STARTTLS" not in out["caps"]  # type: ignore[operator]
    assert out["login"][0] == "OK"  # type: ignore[index]
    names = [line.decode() for line in out["list"][1]]  # type: ignore[index]
    assert any(n.endswith('"INBOX"') for n in names)
    assert any("\\Sent" in n and n.endswith('"Sent"') for n in names)
    assert out["select"] == ("OK", [b"2"])
    meta_lines = [d for d in out["meta"][1] if isinstance(d, bytes)]  # type: ignore[index]
    assert len(meta_lines) == 2
    for line, row in zip(meta_lines, stored, strict=True):
        meta = from_json(row.meta)
        text = line.decode()
        assert f"UID {row.uid}" in text and f"RFC822.SIZE {row.size}" in text
        assert meta.envelope in text and meta.bodystructure in text
    _, peek = out["peek"]  # type: ignore[misc]
    assert peek[0][1] == mailbox.messages[1]  # byte for byte what the clinician sent
    assert b"\\Seen" not in out["flags_after_peek"][1][0]  # type: ignore[index]
    header = out["header"][1][0][1]  # type: ignore[index]
    assert header.startswith(b"From: ") and b"Subject: Compte rendu" in header
    assert header.endswith(b"\r\n\r\n") and b"Message-ID" not in header
    assert len(out["read"][1][0][1]) == 10  # type: ignore[index]
    assert b"\\Seen" in out["flags_after_read"][1][0]  # type: ignore[index]
    assert f"RFC822.SIZE {stored[1].size}".encode() in out["uid_fetch"][1][0]  # type: ignore[index]
    rows = await inbox(storage, seeded.active.account_id)
    assert "\\Seen" in rows[0].flags.split() and rows[0].modseq > stored[0].modseq


async def test_starttls_is_required_before_login(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> tuple[object, ...]:
        c = imaplib.IMAP4("127.0.0.1", imap.port, timeout=10)
        caps = c.capabilities
        try:
            c.login(mailbox.address, mailbox.password)
            refused = False
        except imaplib.IMAP4.error as exc:
            refused = "PRIVACYREQUIRED" in str(exc)
        c.starttls(ssl_context=client_tls)
        caps_after = c.capabilities
        ok = c.login(mailbox.address, mailbox.password)
        c.logout()
        return caps, refused, caps_after, ok

    caps, refused, caps_after, ok = await in_thread(session)
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps  # type: ignore[operator]
    assert refused
    assert "LOGINDISABLED" not in caps_after and "AUTH=PLAIN" in caps_after  # type: ignore[operator]
    assert ok[0] == "OK"  # type: ignore[index]


async def test_authenticate_plain_with_initial_response(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> tuple[str, list[bytes]]:
        c = imaplib_client(imap, client_tls)
        answer = c.authenticate(
            "PLAIN", lambda _: f"\0{mailbox.address}\0{mailbox.password}".encode()
        )
        c.logout()
        return answer

    assert (await in_thread(session))[0] == "OK"


async def test_wrong_passwords_are_refused_slowly_and_lock_the_account(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, monkeypatch
) -> None:
    from espace_sante.policy import login

    monkeypatch.setattr(login, "BASE_DELAY_SECONDS", 0.01)

    def attempt(password: str, user: str = mailbox.address) -> str:
        c = imaplib_client(imap, client_tls)
        try:
            c.login(user, password)
            return "OK"
        except imaplib.IMAP4.error as exc:
            return str(exc)
        finally:
            c.shutdown()

    for _ in range(login.FAILURES_BEFORE_LOCK):
        assert "AUTHENTICATIONFAILED" in await in_thread(lambda: attempt("wrong-password"))
    # locked now: even the right password is refused, with a message saying why
    locked = await in_thread(lambda: attempt(mailbox.password))
    assert "too many failed attempts" in locked
    # unknown users get the same answer as a wrong password
    unknown = await in_thread(lambda: attempt("wrong-password", "nobody@patient.mssante.fr"))
    assert "invalid credentials" in unknown


async def test_one_account_never_sees_another(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> list[bytes]:
        c = imaplib_client(imap, client_tls)
        c.login(mailbox.other_address, mailbox.other_password)
        c.select("INBOX")
        _, data = c.fetch("1:*", "(ENVELOPE)")
        c.logout()
        return [d for d in data if isinstance(d, bytes)]

    lines = await in_thread(session)
    assert len(lines) == 1 and b"Secret" in lines[0]

    # the other patient's password does not open this mailbox either
    def cross() -> str:
        c = imaplib_client(imap, client_tls)
        try:
            c.login(mailbox.address, mailbox.other_password)
            return "OK"
        except imaplib.IMAP4.error as exc:
            return str(exc)

    assert "AUTHENTICATIONFAILED" in await in_thread(cross)


async def test_noop_announces_new_mail(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, storage: Storage, seeded
) -> None:
    from fixtures.mssante import clinician_message
    from fixtures.seed import DOCTOR

    from .conftest import deliver

    c = await in_thread(lambda: imaplib_client(imap, client_tls))
    await in_thread(lambda: c.login(mailbox.address, mailbox.password))
    await in_thread(lambda: c.select("INBOX"))
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))
    await in_thread(c.noop)
    assert c.untagged_responses.get("EXISTS") in ([b"3"], [b"2", b"3"])
    await in_thread(c.logout)
