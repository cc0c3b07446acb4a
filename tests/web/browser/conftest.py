"""The browser tests' fixtures: the real web front served by uvicorn on a loopback port (in a
thread with its own event loop, a movable clock, SQLite), and Debian's Chromium driven by
Playwright. Accessibility is checked with axe-core, whose ``axe.min.js`` comes from the PyPI
package ``axe-playwright-python`` (a test dependency), so nothing is downloaded at run time.

Select them with ``-m browser``; deselect with ``-m "not browser"``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from espace_sante.cli.webapp import create_app
from espace_sante.config import Settings, load_settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.submission import SubmissionListener
from espace_sante.mta.tls import default_hostnames, ensure_dev_pki, mail_client_context
from espace_sante.storage.crypto import create_master_key
from espace_sante.storage.engine import create_engine
from espace_sante.storage.migrate import upgrade
from espace_sante.storage.runtime import Storage
from espace_sante.web.serve import WebListener
from fixtures.seed import Seeded, seed_trust_space
from web.conftest import Clock, web_settings_of

CHROMIUM = Path("/usr/bin/chromium")
T = TypeVar("T")


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """Settings of a fresh SQLite data directory (migrated by the server's own loop: the main
    thread runs Playwright's loop, where ``asyncio.run`` is not allowed). Browser tests run on
    SQLite only; the storage paths are covered on both databases elsewhere."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    base = load_settings(path=None, environ={})
    settings = web_settings_of(replace(base, data_dir=data_dir, database_url=""), port=0)
    create_master_key(settings.master_key_file)
    return settings


class LiveServer:
    """The web front on 127.0.0.1:<free port>, in a thread of its own."""

    def __init__(self, settings: Settings, *, with_imap: bool = False) -> None:
        self.settings = settings
        self.with_imap = with_imap
        self.imap: ImapListener | None = None
        self.submission: SubmissionListener | None = None
        self.clock = Clock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.storage: Storage | None = None
        self.listener: WebListener | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> None:
        self.thread.start()

        async def start() -> None:
            engine = create_engine(self.settings)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
            self.storage = Storage.open(self.settings)
            if self.with_imap:  # for pages that read mail through our own IMAP server
                self.imap = ImapListener(
                    self.settings, self.storage, mail_client_context(self.settings)
                )
                await self.imap.start()
                self.submission = SubmissionListener(
                    self.settings, self.storage, mail_client_context(self.settings),
                    self.imap.signer,
                )  # fmt: skip
                await self.submission.start()
                # the web front must reach the ports the kernel chose
                imap = replace(self.settings.imap, port=self.imap.port, tls_port=self.imap.tls_port)
                submission = replace(
                    self.settings.submission,
                    port=self.submission.port,
                    tls_port=self.submission.tls_port,
                )
                self.settings = replace(self.settings, imap=imap, submission=submission)
                self.storage.settings = self.settings
            app = create_app(self.settings, self.storage, clock=self.clock)
            self.listener = WebListener(self.settings, self.storage, app, clock=self.clock)
            await self.listener.start()

        self.call(start())

    def stop(self) -> None:
        async def stop() -> None:
            if self.submission is not None:
                await self.submission.stop(grace=5)
            if self.imap is not None:
                await self.imap.stop()
            if self.listener is not None:
                await self.listener.stop()
            if self.storage is not None:
                await self.storage.close()

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()

    @property
    def url(self) -> str:
        assert self.listener is not None
        return f"http://127.0.0.1:{self.listener.port}"


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(live_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server_with_imap(live_settings: Settings) -> Iterator[LiveServer]:
    """The web front, the IMAP server and the submission server (ports chosen by the kernel) on
    the same storage."""
    # The data directory's own development CA, as `espace-sante init` makes it: the webmail's
    # IMAP and submission clients trust that CA.
    ensure_dev_pki(live_settings.pki_dir, default_hostnames(live_settings))
    settings = replace(
        live_settings,
        imap=replace(live_settings.imap, port=0, tls_port=0),
        submission=replace(live_settings.submission, port=0, tls_port=0),
    )
    server = LiveServer(settings, with_imap=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seeded_live(live_server: LiveServer) -> Seeded:
    assert live_server.storage is not None
    return live_server.call(seed_trust_space(live_server.storage))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        message = "Debian's chromium is not installed (make system-deps installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    pg.csp_violations = []  # type: ignore[attr-defined]

    def on_console(msg: Any) -> None:
        # "Connecting to …" is a fetch: our pages have no script, so it is axe-core fetching the
        # stylesheets to read their rules, which the CSP (connect-src 'none') rightly blocks.
        if "Content Security Policy" in msg.text and "Connecting to" not in msg.text:
            pg.csp_violations.append(msg.text)  # type: ignore[attr-defined]

    pg.on("console", on_console)
    try:
        yield pg
    finally:
        context.close()


_AXE: Any = None


def assert_accessible(page: Any) -> None:
    """axe-core (WCAG 2.1 A/AA rules and best practices) finds no violation on the page."""
    global _AXE
    if _AXE is None:
        from axe_playwright_python.sync_playwright import Axe

        _AXE = Axe()
    results = _AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
