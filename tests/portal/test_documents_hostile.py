"""Hostile input on the documents pages: files that are not what they say, oversized bodies,
hostile file names and titles, hostile CDA documents, forged forms, odd ids and filter text."""

from __future__ import annotations

import html

import httpx
import pytest
from sqlalchemy import select

from espace_sante.storage.schema import Document
from portal.conftest import Portal, csrf_of, deposit
from records.cda_fixtures import XXE, with_text

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def logged_in(world: Portal) -> httpx.AsyncClient:
    await world.web.login_fully(world.patient.ins)
    return world.web.client


async def upload(
    client: httpx.AsyncClient, data: bytes, filename: str, title: str = "Un titre"
) -> httpx.Response:
    token = await csrf_of(client, "/documents/ajouter")
    return await client.post(
        "/documents/ajouter",
        data={"csrf_token": token, "titre": title},
        files={"fichier": (filename, data, "application/pdf")},
    )


async def count(world: Portal) -> int:
    async with world.storage.sessions() as s:
        return len(list((await s.execute(select(Document.id))).scalars()))


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (PDF, "radio.png", "se termine par « .png »"),
        (b"<html><script>alert(1)</script></html>\n%PDF-1.4\n", "page.pdf", "n'est pas accepté"),
        (PDF + b"<script>alert(1)</script>", "mixte.pdf", "code de page web"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image.svg",
            "image SVG",
        ),
        (b"", "vide.pdf", "Le fichier est vide"),
        (b"PK\x03\x04" + b"\x00" * 40, "archive.pdf", "archive ZIP"),
    ],
    ids=["wrong-extension", "html-pdf-polyglot", "pdf-with-script", "svg", "empty", "zip"],
)
async def test_refused_files(world: Portal, data: bytes, filename: str, message: str) -> None:
    client = await logged_in(world)
    refused = await upload(client, data, filename)
    assert refused.status_code == 400
    assert message in html.unescape(refused.text)
    assert "<script>alert" not in refused.text
    assert await count(world) == 0


async def test_a_file_over_the_upload_limit(world: Portal) -> None:
    client = await logged_in(world)
    limit = world.web.settings.records.upload_max_bytes
    assert limit < world.web.settings.web.max_body_bytes
    big = b"%PDF-1.4\n" + b"0" * limit
    refused = await upload(client, big, "gros.pdf")
    assert refused.status_code == 400
    assert "dépasse la taille maximale de 5 Mo" in html.unescape(refused.text)
    assert await count(world) == 0


async def test_a_body_over_max_body_bytes_gets_the_413_page(world: Portal) -> None:
    client = await logged_in(world)
    huge = b"%PDF-1.4\n" + b"0" * world.web.settings.web.max_body_bytes
    refused = await upload(client, huge, "enorme.pdf")
    assert refused.status_code == 413
    assert "Requête trop volumineuse" in html.unescape(refused.text)


@pytest.mark.parametrize(
    "filename",
    [
        "../../../etc/passwd.pdf",
        "..\\..\\windows\\system32\\cr.pdf",
        "compte-rendu\u202efdp.pdf",
        "<script>alert(1)</script>.pdf",
        "CON.pdf",
    ],
    ids=["traversal", "windows-traversal", "rtl-override", "script", "reserved"],
)
async def test_hostile_file_names_are_made_safe(world: Portal, filename: str) -> None:
    client = await logged_in(world)
    done = await upload(client, PDF, filename, title="<script>alert('titre')</script>")
    assert done.status_code == 303, done.text
    async with world.storage.sessions() as s:
        row = (await s.execute(select(Document))).scalar_one()
    assert row.filename is not None
    assert "/" not in row.filename and "\\" not in row.filename and ".." not in row.filename
    assert "\u202e" not in row.filename and "<" not in row.filename
    page = await client.get(done.headers["location"])
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#39;titre&#39;)&lt;/script&gt;" in page.text
    saved = await client.get(f"/documents/{row.id}/telecharger")
    disposition = saved.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "/" not in disposition.split("filename*=")[0] and "\u202e" not in disposition
    assert disposition.isascii()


async def test_a_cda_with_script_is_rendered_without_it(world: Portal) -> None:
    data = with_text(
        "<paragraph>Avant<script>alert(1)</script>après</paragraph>"
        '<linkHtml href="javascript:alert(2)">lien</linkHtml>'
    )
    doc = await deposit(
        world.storage, world.patient.account_id, title="CDA piégé", content=data,
        mime_type="text/xml",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert page.status_code == 200
    assert '<article class="cda-document">' in page.text
    assert "<script" not in page.text.lower() and "javascript:" not in page.text
    assert "Avant" in page.text


async def test_a_cda_with_an_external_entity_is_not_rendered(world: Portal) -> None:
    doc = await deposit(
        world.storage, world.patient.account_id, title="CDA XXE", content=XXE,
        mime_type="application/xml",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Ce document structuré ne peut pas être affiché" in text
    assert "root:" not in text and "/bin/" not in text
    saved = await client.get(f"/documents/{doc}/telecharger")
    assert saved.content == XXE  # kept as it came, never resolved


async def test_forms_without_csrf_are_refused(world: Portal) -> None:
    doc = await deposit(world.storage, world.patient.account_id, title="Bilan")
    client = await logged_in(world)
    for path, data in (
        (f"/documents/{doc}/masquer", {"masque": "1"}),
        (f"/documents/{doc}/archiver", {"archive": "1"}),
        (f"/documents/{doc}/supprimer", {}),
    ):
        refused = await client.post(path, data=data)
        assert refused.status_code == 403, path
        forged = await client.post(path, data={**data, "csrf_token": "0" * 64})
        assert forged.status_code == 403, path
    no_token_upload = await client.post(
        "/documents/ajouter",
        data={"titre": "x"},
        files={"fichier": ("a.pdf", PDF, "application/pdf")},
    )
    assert no_token_upload.status_code == 403
    async with world.storage.sessions() as s:
        row = await s.get(Document, doc)
        assert row is not None and row.visibility == "" and not row.archived
    assert await count(world) == 1


@pytest.mark.parametrize(
    "raw",
    ["abc", "0", "-1", "1e3", "99999999999999999999999999", "%EF%BC%91", "1%20", "0x10"],
)
async def test_odd_ids_are_404(world: Portal, raw: str) -> None:
    client = await logged_in(world)
    for suffix in ("", "/contenu", "/telecharger", "/supprimer", "/remplacer"):
        response = await client.get(f"/documents/{raw}{suffix}")
        assert response.status_code == 404, (raw, suffix)
        assert "Page introuvable" in response.text


async def test_filter_metacharacters_match_literally(world: Portal) -> None:
    for title in ("100% remboursé", "100 remboursé", "a_b", "aXb", "l'ordonnance", "lordonnance"):
        await deposit(world.storage, world.patient.account_id, title=title, author_person=None)
    client = await logged_in(world)

    async def found(**params: str) -> list[str]:
        page = await client.get("/documents", params=params)
        assert page.status_code == 200
        text = html.unescape(page.text)
        return sorted(
            t for t in ("100% remboursé", "100 remboursé", "a_b", "aXb", "l'ordonnance",
                        "lordonnance")
            if f">{t}</a>" in text
        )  # fmt: skip

    assert await found(recherche="%") == ["100% remboursé"]
    assert await found(recherche="_") == ["a_b"]
    assert await found(recherche="'") == ["l'ordonnance"]
    assert await found(recherche="' OR 1=1 --") == []
    assert await found(auteur="%") == []
