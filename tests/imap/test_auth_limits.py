"""What a client costs us before it logs in: bounded password checks (each a 64 MiB argon2id
hash), connections not logged in per client address, and the time allowed to log in."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from espace_sante.accounts import app_passwords, password_checks
from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage

from .conftest import Mailbox

TIMEOUT = 10


@asynccontextmanager
async def _listener(
    settings: Settings, storage: Storage, pki: DevPki, **imap: Any
) -> AsyncIterator[ImapListener]:
    login = imap.pop("mail_login", {})
    settings = replace(
        settings,
        imap=replace(settings.imap, port=0, tls_port=0, **imap),
        mail_login=replace(settings.mail_login, **login),
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = ImapListener(settings, storage, tls)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


async def _connect(
    listener: ImapListener, tls: ssl.SSLContext
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.tls_port, ssl=tls)
    return await asyncio.wait_for(reader.readline(), TIMEOUT), reader, writer


async def _tagged(reader: asyncio.StreamReader, tag: bytes, timeout: float = TIMEOUT) -> bytes:
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line or line.startswith(tag + b" "):
            return line


class _Recorder:
    """Stands for the argon2 check (``app_passwords._verify``): counts the checks running at
    once and holds them until ``release``."""

    def __init__(self, real: Callable[[str, str], bool]) -> None:
        self.real = real
        self.running = 0
        self.most = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.gate = threading.Event()

    def __call__(self, digest: str, candidate: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.gate.wait(30)
            return self.real(digest, candidate)
        finally:
            with self.lock:
                self.running -= 1


async def test_password_checks_run_a_few_at_a_time_and_the_rest_are_told_to_retry(
    settings: Settings,
    storage: Storage,
    pki: DevPki,
    mailbox: Mailbox,
    client_tls: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 LOGINs at once with 2 workers and a queue of 3: never more than 2 checks run at once;
    the 5 accepted log in once the checks finish; the other 7 are answered ``NO [UNAVAILABLE]``
    (RFC 5530) while the checks are still held, so without waiting for a hash."""
    recorder = _Recorder(app_passwords._verify)
    monkeypatch.setattr(app_passwords, "_verify", recorder)
    limits = {"password_checks": 2, "password_check_queue": 3}
    async with _listener(
        settings, storage, pki, max_unauthenticated_per_address=50, mail_login=limits
    ) as imap:
        try:
            clients = [await _connect(imap, client_tls) for _ in range(12)]
            for _, _, writer in clients:
                writer.write(f"a LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
            answers = [
                asyncio.ensure_future(_tagged(reader, b"a", timeout=60)) for _, reader, _ in clients
            ]
            refused: list[bytes] = []
            while len(refused) < 7:
                done, _ = await asyncio.wait(
                    [a for a in answers if not a.done()],
                    timeout=TIMEOUT,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                assert done, f"only {len(refused)} answers while the checks are held"
                refused += [a.result() for a in done]
            assert all(line.startswith(b"a NO [UNAVAILABLE]") for line in refused), refused
            assert password_checks.pool().accepted == 5
            for _ in range(100):  # the second worker's thread may take a moment to start
                if recorder.running == 2:
                    break
                await asyncio.sleep(0.1)
            assert recorder.running == 2
        finally:
            recorder.gate.set()
        results = [await a for a in answers]
        assert sum(line.startswith(b"a OK") for line in results) == 5
        assert sum(line.startswith(b"a NO [UNAVAILABLE]") for line in results) == 7
        assert recorder.most == 2 and recorder.calls == 5
        # a refused client may try again: nothing was counted against the account
        _, reader, writer = clients[results.index(refused[0])]
        writer.write(f"b LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
        assert (await _tagged(reader, b"b")).startswith(b"b OK")
        for _, _, writer in clients:
            writer.close()


async def test_connections_not_logged_in_are_capped_per_address(
    settings: Settings,
    storage: Storage,
    pki: DevPki,
    mailbox: Mailbox,
    client_tls: ssl.SSLContext,
) -> None:
    """With ``imap.max_unauthenticated_per_address = 3``, a fourth connection from the same
    address is greeted with ``* BYE`` (RFC 9051 §7.1.5) and closed; logging in frees a place,
    and so does leaving. (Loopback is exempt by default: the test takes that off.)"""
    async with _listener(
        settings, storage, pki, max_unauthenticated_per_address=3, per_address_exempt=""
    ) as imap:
        clients = [await _connect(imap, client_tls) for _ in range(3)]
        assert all(greeting.startswith(b"* OK") for greeting, _, _ in clients)
        greeting, reader, writer = await _connect(imap, client_tls)
        assert greeting == b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        writer.close()
        # a login frees its connection's place
        _, reader, writer = clients[0]
        writer.write(f"a LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
        assert (await _tagged(reader, b"a")).startswith(b"a OK")
        greeting, _, fourth = await _connect(imap, client_tls)
        assert greeting.startswith(b"* OK")
        greeting, _, writer = await _connect(imap, client_tls)
        assert greeting.startswith(b"* BYE")
        writer.close()
        # and so does a connection that leaves (once the server has seen it go)
        clients[1][2].close()
        for _ in range(100):
            greeting, _, writer = await _connect(imap, client_tls)
            if greeting.startswith(b"* OK"):
                break
            writer.close()
            await asyncio.sleep(0.1)
        assert greeting.startswith(b"* OK")
        for w in (writer, fourth, clients[0][2], clients[2][2]):
            w.close()


async def test_exempt_networks_are_not_capped(
    settings: Settings, storage: Storage, pki: DevPki, client_tls: ssl.SSLContext
) -> None:
    """``imap.per_address_exempt`` (loopback by default: the webmail's own connections, each
    logging in with a token) is not subject to the per-address cap."""
    assert settings.imap.per_address_exempt == "127.0.0.0/8, ::1"
    async with _listener(settings, storage, pki, max_unauthenticated_per_address=2) as imap:
        clients = [await _connect(imap, client_tls) for _ in range(5)]
        assert all(greeting.startswith(b"* OK") for greeting, _, _ in clients)
        for _, _, writer in clients:
            writer.close()


async def test_a_connection_that_does_not_log_in_in_time_is_dropped(
    settings: Settings,
    storage: Storage,
    pki: DevPki,
    mailbox: Mailbox,
    client_tls: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``imap.login_timeout`` counts from the greeting, whatever the client does meanwhile:
    silent, chatty (NOOPs reset no clock), or stuck in an AUTHENTICATE exchange, it gets
    ``* BYE`` and is closed (RFC 9051 §7.1.5), long before the autologout. A session that
    logged in is not affected."""
    # the argon2 check takes seconds on a loaded machine: a cheap one keeps the login in time
    secret = app_passwords.normalise_secret(mailbox.password)
    monkeypatch.setattr(app_passwords, "_verify", lambda _digest, candidate: candidate == secret)
    async with _listener(settings, storage, pki, login_timeout=4) as imap:
        _, user, user_w = await _connect(imap, client_tls)
        user_w.write(f"a LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
        assert (await _tagged(user, b"a")).startswith(b"a OK")
        _, silent, silent_w = await _connect(imap, client_tls)
        _, stuck, stuck_w = await _connect(imap, client_tls)
        stuck_w.write(b"s AUTHENTICATE PLAIN\r\n")
        assert await asyncio.wait_for(stuck.readline(), TIMEOUT) == b"+ \r\n"
        _, chatty, chatty_w = await _connect(imap, client_tls)

        async def chat() -> list[bytes]:  # NOOPs from the greeting on, until the server's BYE
            lines = []
            for n in range(400):
                chatty_w.write(b"n%d NOOP\r\n" % n)
                line = await asyncio.wait_for(chatty.readline(), TIMEOUT)
                lines.append(line)
                if not line.startswith(b"n"):
                    break
                await asyncio.sleep(0.05)
            return lines

        chatting = asyncio.ensure_future(chat())
        bye = b"* BYE Autologout; not logged in in time\r\n"
        assert await asyncio.wait_for(silent.readline(), TIMEOUT) == bye
        assert await asyncio.wait_for(silent.read(), TIMEOUT) == b""
        assert await asyncio.wait_for(stuck.readline(), TIMEOUT) == bye
        lines = await chatting
        assert lines[-1] == bye and len(lines) > 1
        assert set(lines[:-1]) <= {b"n%d OK NOOP completed\r\n" % n for n in range(400)}
        # the logged-in session is still served after the login timeout
        user_w.write(b"b NOOP\r\n")
        assert await _tagged(user, b"b") == b"b OK NOOP completed\r\n"
        for w in (silent_w, stuck_w, chatty_w, user_w):
            w.close()
