"""Who sees what through the documents pages: a table of actors × visibility codes × pages.

Documents with each visibility code are deposited in the patient's record and in a minor's
record (whose guardian acts in the minor's space). Every actor tries every page on every
document; a refused document answers the same 404 as an unknown one, and nothing of it (its
title) appears in any response. Without a login, every page sends to the login page.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from espace_sante.cli.webapp import create_app
from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
)
from portal.conftest import Portal, csrf_of, deposit, guardian_client, login, make_client

VISIBILITIES = ("", INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, MASQUE_PS)
OPERATIONS = ("list", "page", "contenu", "telecharger", "masquer", "supprimer")
#: What each actor may see: (record, visibility) pairs; anything else is a 404.
SEEN = {
    "patient": {("patient", ""), ("patient", INVISIBLE_REPRESENTANTS_LEGAUX),
                ("patient", MASQUE_PS)},
    "guardian": {("child", ""), ("child", MASQUE_PS)},
    "other_patient": set(),
    "other_guardian": set(),
}  # fmt: skip


@dataclass(frozen=True)
class Doc:
    id: int
    record: str
    visibility: str
    title: str


async def _documents(world: Portal) -> list[Doc]:
    docs = []
    for record, account_id in (
        ("patient", world.patient.account_id),
        ("child", world.family.child.account_id),
    ):
        for code in VISIBILITIES:
            title = f"Titre-secret-{record}-{code or 'AUCUN'}"
            doc_id = await deposit(
                world.storage, account_id, title=title, visibility=[code] if code else []
            )
            docs.append(Doc(doc_id, record, code, title))
    return docs


@asynccontextmanager
async def client_of(world: Portal, actor: str) -> AsyncIterator[httpx.AsyncClient]:
    site = world.web
    if actor == "patient":
        await site.login_fully(world.patient.ins)
        yield site.client
    elif actor == "anonymous":
        yield site.client
    elif actor == "other_patient":
        async with make_client(create_app(site.settings, site.storage, clock=site.clock)) as c:
            await login(site, c, world.other.ins)
            yield c
    else:
        family = world.family if actor == "guardian" else world.other_family
        async with guardian_client(world, family) as c:
            await login(site, c, family.guardian.ins)
            yield c


async def _try(client: httpx.AsyncClient, operation: str, doc: Doc, token: str) -> httpx.Response:
    base = f"/documents/{doc.id}"
    if operation == "list":
        return await client.get("/documents", params={"archives": "1"})
    if operation == "page":
        return await client.get(base)
    if operation in ("contenu", "telecharger"):
        return await client.get(f"{base}/{operation}")
    if operation == "masquer":
        return await client.post(f"{base}/masquer", data={"csrf_token": token, "masque": "1"})
    return await client.get(f"{base}/supprimer")


@pytest.mark.parametrize(
    "actor", ["patient", "guardian", "other_patient", "other_guardian", "anonymous"]
)
async def test_who_sees_what(world: Portal, actor: str) -> None:
    docs = await _documents(world)
    wrong: list[str] = []
    async with client_of(world, actor) as client:
        token = await csrf_of(client, "/connexion" if actor == "anonymous" else "/documents")
        for doc in docs:
            for operation in OPERATIONS:
                response = await _try(client, operation, doc, token)
                text = html.unescape(response.text)
                where = f"{actor} {operation} {doc.record}/{doc.visibility or '-'}"
                if actor == "anonymous":
                    if response.status_code != 303 or response.headers["location"] != "/connexion":
                        wrong.append(f"{where}: {response.status_code}, not sent to log in")
                    continue
                seen = (doc.record, doc.visibility) in SEEN[actor]
                if operation == "list":
                    if (doc.title in text) != seen or response.status_code != 200:
                        wrong.append(f"{where}: listed={doc.title in text}")
                    continue
                if seen:
                    if response.status_code not in (200, 303):
                        wrong.append(f"{where}: {response.status_code}, expected it seen")
                    continue
                if response.status_code != 404:
                    wrong.append(f"{where}: {response.status_code}, expected 404")
                if "Page introuvable" not in text and response.status_code == 404:
                    wrong.append(f"{where}: not the site's 404 page")
                for other in docs:
                    if (other.record, other.visibility) not in SEEN[actor] and other.title in text:
                        wrong.append(f"{where}: shows {other.title}")
    assert not wrong, "\n".join(wrong)


async def test_the_guardian_acts_with_their_own_account(world: Portal) -> None:
    """An upload by the guardian in the minor's space is the minor's document, uploaded by
    the guardian's account."""
    from sqlalchemy import select

    from espace_sante.storage.schema import Document

    family = world.family
    async with guardian_client(world, family) as client:
        await login(world.web, client, family.guardian.ins)
        token = await csrf_of(client, "/documents/ajouter")
        done = await client.post(
            "/documents/ajouter",
            data={"csrf_token": token, "titre": "Carnet de santé"},
            files={"fichier": ("carnet.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        )
        assert done.status_code == 303, done.text
        page = await client.get(done.headers["location"])
        assert "ajouté par moi" in page.text
    async with world.storage.sessions() as s:
        row = (
            await s.execute(select(Document).where(Document.title == "Carnet de santé"))
        ).scalar_one()
    assert row.account_id == family.child.account_id
    assert row.uploaded_by_account_id == family.guardian.account_id
