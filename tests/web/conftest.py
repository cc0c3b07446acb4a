"""Fixtures of the web tests: the app over httpx's ASGI transport with a movable clock, patients
ready to activate or already activated, and helpers to fill the forms like a browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from espace_sante.accounts import weblogin
from espace_sante.accounts.sms import read_sms_file
from espace_sante.cli.webapp import create_app
from espace_sante.config import Settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded, seed_trust_space

PASSWORD = "Tisane-Verveine-2026"
PHONE = "+33612345678"
EMAIL = "marie.perso@example.org"
CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class Clock:
    """A clock the tests move forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def web_settings_of(settings: Settings, **web: object) -> Settings:
    base = dict(cookie_secure=False, dev_show_codes_in_log=False, base_url="http://127.0.0.1:8000")
    base.update(web)
    return replace(settings, web=replace(settings.web, **base))  # type: ignore[arg-type]


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return web_settings_of(settings)


@dataclass
class Web:
    """One browser-like client of the app."""

    client: httpx.AsyncClient
    settings: Settings
    storage: Storage
    clock: Clock
    seeded: Seeded

    async def csrf(self, path: str = "/connexion") -> str:
        page = await self.client.get(path)
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1)

    async def post(
        self, path: str, data: dict[str, str], *, form_page: str | None = None
    ) -> httpx.Response:
        token = await self.csrf(form_page or path)
        return await self.client.post(path, data={"csrf_token": token, **data})

    def last_sms_code(self) -> str:
        messages = read_sms_file(self.settings.sms_file)
        assert messages, "no SMS sent"
        match = re.search(r"\b(\d{6})\b", messages[-1]["text"])
        assert match
        return match.group(1)

    async def login(self, identifier: str, password: str = PASSWORD) -> httpx.Response:
        return await self.post("/connexion", {"identifier": identifier, "password": password})

    async def login_fully(self, identifier: str, password: str = PASSWORD) -> httpx.Response:
        first = await self.login(identifier, password)
        assert first.status_code == 303, first.text
        assert first.headers["location"].startswith("/connexion/code")
        done = await self.post("/connexion/code", {"code": self.last_sms_code()})
        assert done.status_code == 303 and done.headers["location"] == "/accueil", done.text
        return done


async def issue_code(storage: Storage, account_id: int, now: datetime, days: int = 30) -> str:
    async with transaction(storage.sessions) as db:
        return await weblogin.issue_activation_code(db, account_id, now=now, valid_days=days)


async def activate(
    storage: Storage,
    account_id: int,
    now: datetime,
    *,
    channel: str = "sms",
    email: str | None = EMAIL,
    phone: str | None = PHONE,
) -> None:
    async with transaction(storage.sessions) as db:
        await weblogin.complete_activation(
            db,
            account_id,
            password=PASSWORD,
            personal_email=email,
            mobile_phone=phone,
            channel=channel,
            now=now,
            remote="test",
        )


def make_client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),  # type: ignore[arg-type]
        base_url="http://127.0.0.1:8000",
        follow_redirects=False,
    )


@pytest.fixture
async def web(web_settings: Settings, storage: Storage, clock: Clock) -> AsyncIterator[Web]:
    seeded = await seed_trust_space(storage)
    app = create_app(web_settings, storage, clock=clock)
    async with make_client(app) as client:
        yield Web(client, web_settings, storage, clock, seeded)


@pytest.fixture
def backend() -> str:
    """The pages' tests run on SQLite; the login's stores (limits, sessions, passwords) run on
    both databases in test_login_limits.py and test_passwords.py, which override this."""
    return "sqlite"


@pytest.fixture(params=["sqlite", "postgresql"])
def both_backends(request: pytest.FixtureRequest) -> str:
    return str(request.param)
