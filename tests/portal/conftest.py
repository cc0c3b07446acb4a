"""Fixtures of the documents pages' tests: the web tests' app (``tests/web/conftest.py``) with
patients able to log in, a guardian and their minor dependant (and another family), and a helper
depositing documents of any type straight into a record.

The shell cannot switch a guardian into a dependant's space yet; :func:`guardian_client` builds
the site with the record pages wrapped so that, once the guardian is logged in, their requests
are in the dependant's space (``WebAccount(dependant, guardian=…)``), as the switch will do.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from espace_sante import portal, webmail
from espace_sante.accounts.guardians import add_guardian
from espace_sante.accounts.patients import PatientRecord
from espace_sante.records.deposit import NewDocument, deposit_document
from espace_sante.storage.blob_rows import store_blob
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.web import app as shell
from espace_sante.web.auth import WebAccount
from fixtures.record_world import _patient
from web.conftest import (  # noqa: F401  (fixtures)
    CSRF_RE,
    PASSWORD,
    Clock,
    Web,
    activate,
    clock,
    make_client,
    web,
    web_settings,
)

AUTHOR_ID = "810000000303"


@pytest.fixture
def backend() -> str:
    """Pages run on SQLite: the record's store and its access rules are tested on both databases
    under tests/records."""
    return "sqlite"


@dataclass
class Family:
    guardian: PatientRecord
    child: PatientRecord


@dataclass
class Portal:
    web: Web
    patient: PatientRecord
    other: PatientRecord
    family: Family
    other_family: Family

    @property
    def storage(self) -> Storage:
        return self.web.storage


async def _family(storage: Storage, at: Clock, prefixes: tuple[str, str], name: str) -> Family:
    guardian = await _patient(storage, prefixes[0], f"PARENT{name}", date(1982, 3, 3))
    child = await _patient(storage, prefixes[1], f"ENFANT{name}", date(2015, 6, 6))
    await activate(storage, guardian.account_id, at.now)
    async with transaction(storage.sessions) as session:
        await add_guardian(session, child.address, guardian.address, today=at.now.date())
    return Family(guardian, child)


@pytest.fixture
async def world(web: Web) -> Portal:  # noqa: F811
    seeded = web.seeded
    for record in (seeded.active, seeded.other):
        await activate(web.storage, record.account_id, web.clock.now)
    family = await _family(web.storage, web.clock, ("1820375123999", "2150675123888"), "A")
    other_family = await _family(web.storage, web.clock, ("1830475123777", "2160775123666"), "B")
    return Portal(web, seeded.active, seeded.other, family, other_family)


async def deposit(
    storage: Storage,
    account_id: int,
    *,
    title: str = "Compte rendu",
    content: bytes | None = None,
    mime_type: str = "application/pdf",
    filename: str | None = None,
    visibility: Iterable[str] = (),
    source: str = "xdm",
    class_code: str | None = "10",
    type_code: str | None = "11488-4",
    author_person: str | None = "Alex AUTEUR",
    author_institution: str | None = None,
    creation_time: datetime | None = None,
    at: datetime | None = None,
    uploaded_by: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Deposit one document (blob and row) into ``account_id``'s record; returns its id."""
    data = content if content is not None else f"%PDF-1.4\n% {title}\n".encode()
    async with transaction(storage.sessions) as session:
        blob = await store_blob(session, storage, account_id, data)
        row = await deposit_document(
            session,
            account_id=account_id,
            document=NewDocument(
                blob_id=blob.id,
                source=source,
                title=title,
                mime_type=mime_type,
                size=len(data),
                sha1=hashlib.sha1(data).hexdigest(),
                filename=filename,
                class_code=class_code,
                type_code=type_code,
                author_person=author_person,
                author_institution=author_institution,
                creation_time=creation_time,
                visibility=frozenset(visibility),
                author_professional_id=AUTHOR_ID if source != "upload" else None,
                uploaded_by_account_id=uploaded_by,
                metadata=metadata or {},
            ),
            deposited_by=f"ps:{AUTHOR_ID}" if source != "upload" else "patient",
            at=at,
        )
        return row.id


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code}"
    return match.group(1)


def _in_space(endpoint: Any, family: Family) -> Any:
    async def wrapped(request: Request) -> Response:
        state = request.scope.setdefault("state", {})
        account = state.get("account")
        if isinstance(account, WebAccount) and account.account_id == family.guardian.account_id:
            state["account"] = WebAccount(
                family.child.account_id, family.child.address, "Enfant Test", guardian=account
            )
        response: Response = await endpoint(request)
        return response

    return wrapped


def _space_routes(family: Family) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for route in portal.SECTION.routes:
        assert isinstance(route, Route)
        out.append(Route(route.path, _in_space(route.endpoint, family), methods=route.methods))
    return out


@asynccontextmanager
async def guardian_client(world: Portal, family: Family) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the site whose record pages put ``family``'s guardian in the child's space."""
    section = dataclasses.replace(portal.SECTION, routes=_space_routes(family))
    app = shell.create_app(
        world.web.settings,
        world.storage,
        sections=(webmail.SECTION, section),
        clock=world.web.clock,
    )
    async with make_client(app) as client:
        yield client


async def login(site: Web, client: httpx.AsyncClient, identifier: str) -> None:
    """Log ``identifier`` in fully on ``client`` (password, then the SMS code)."""
    token = await csrf_of(client, "/connexion")
    first = await client.post(
        "/connexion", data={"csrf_token": token, "identifier": identifier, "password": PASSWORD}
    )
    assert first.status_code == 303, first.text
    token = await csrf_of(client, "/connexion/code")
    done = await client.post(
        "/connexion/code", data={"csrf_token": token, "code": site.last_sms_code()}
    )
    assert done.status_code == 303, done.text
