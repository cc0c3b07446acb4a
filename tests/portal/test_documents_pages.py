"""The patient's documents pages over HTTP (httpx over ASGI, SQLite): the list with its filters
and pages, each kind of content, the content and download responses, and the changes (upload,
replace, mask, delete, archive), and the links between a message and its documents."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote

import httpx
from sqlalchemy import select

from espace_sante.mta.delivery import Delivering
from espace_sante.storage.schema import AuditEntry, Document
from portal.conftest import Portal, csrf_of, deposit
from records.cda_fixtures import CR_BIO

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def logged_in(world: Portal) -> httpx.AsyncClient:
    await world.web.login_fully(world.patient.ins)
    return world.web.client


def t(response: httpx.Response) -> str:
    """The page's text with its character references resolved."""
    return html.unescape(response.text)


def titles(page: str) -> list[str]:
    return re.findall(r'<a href="/documents/\d+">([^<]*)</a>', page)


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str], form: str
) -> httpx.Response:
    token = await csrf_of(client, form)
    return await client.post(path, data={"csrf_token": token, **data})


async def upload(
    client: httpx.AsyncClient,
    data: bytes,
    filename: str,
    *,
    path: str = "/documents/ajouter",
    **fields: str,
) -> httpx.Response:
    token = await csrf_of(client, path)
    return await client.post(
        path,
        data={"csrf_token": token, **fields},
        files={"fichier": (filename, data, "application/octet-stream")},
    )


async def test_the_list_is_reserved_and_says_when_it_is_empty(world: Portal) -> None:
    anonymous = await world.web.client.get("/documents")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/connexion"
    client = await logged_in(world)
    page = await client.get("/documents")
    assert page.status_code == 200
    assert "Mes documents de santé" in t(page)
    assert "Vous n'avez encore aucun document de santé" in t(page)


async def test_list_filters_and_pages(world: Portal) -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    for i in range(25):
        await deposit(
            world.storage,
            world.patient.account_id,
            title=f"Compte rendu {i:02d}",
            at=start + timedelta(days=i),
        )
    await deposit(
        world.storage, world.patient.account_id, title="Ordonnance de kiné",
        class_code="42", type_code=None, author_person="Dr Paul MARTIN",
        author_institution="Cabinet du Parc", at=datetime(2026, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    client = await logged_in(world)

    first = await client.get("/documents")
    assert "26 documents" in t(first)
    shown = titles(t(first))
    assert len(shown) == 20 and shown[0] == "Ordonnance de kiné"  # newest first
    assert shown[1] == "Compte rendu 24"
    assert "Page suivante" in t(first) and "Page précédente" not in t(first)
    second = await client.get("/documents?page=2")
    assert len(titles(t(second))) == 6 and "Page précédente" in t(second)
    assert "Page suivante" not in t(second)

    by_category = await client.get("/documents?categorie=ordonnances")
    assert titles(t(by_category)) == ["Ordonnance de kiné"]
    assert "Ordonnances et soins" in t(by_category)
    by_author = await client.get("/documents?auteur=martin")
    assert titles(t(by_author)) == ["Ordonnance de kiné"]
    by_institution = await client.get("/documents?recherche=cabinet+du")
    assert titles(t(by_institution)) == ["Ordonnance de kiné"]
    by_title = await client.get("/documents?recherche=rendu+03")
    assert titles(t(by_title)) == ["Compte rendu 03"]
    period = await client.get("/documents?du=2026-01-03&au=2026-01-05")
    assert titles(t(period)) == ["Compte rendu 04", "Compte rendu 03", "Compte rendu 02"]
    assert "reçu par messagerie" in t(period) and "Alex AUTEUR" in t(period)
    nothing = await client.get("/documents?recherche=introuvable")
    assert "Aucun document ne correspond" in t(nothing)


async def test_bad_filter_values_get_a_french_message(world: Portal) -> None:
    await deposit(world.storage, world.patient.account_id, title="Un document")
    client = await logged_in(world)
    for query, message in (
        ("du=31/12/2025", "n'est pas une date valide"),
        ("au=2026-02-30", "n'est pas une date valide"),
        ("categorie=inconnue", "La catégorie choisie n'existe pas"),
        ("page=-1", "Le numéro de page demandé n'existe pas"),
        ("page=99999999999999999999", "Le numéro de page demandé n'existe pas"),
        ("recherche=" + "x" * 10_000, "trop long"),
        ("auteur=%00abc", "caractères non autorisés"),
        ("du=2026-03-01&au=2026-01-01", "après sa date de fin"),
    ):
        page = await client.get(f"/documents?{query}")
        assert page.status_code == 400, query
        assert message in t(page), query
        assert titles(t(page)) == ["Un document"], query  # the bad filter is dropped


async def test_archived_documents_behind_the_switch(world: Portal) -> None:
    doc = await deposit(world.storage, world.patient.account_id, title="Vieux bilan")
    client = await logged_in(world)
    done = await post(client, f"/documents/{doc}/archiver", {"archive": "1"}, f"/documents/{doc}")
    assert done.status_code == 303 and done.headers["location"] == f"/documents/{doc}?fait=archive"
    assert "Vieux bilan" not in t(await client.get("/documents"))
    switched = await client.get("/documents?archives=1")
    assert "Vieux bilan" in t(switched) and "Masquer les documents archivés" in t(switched)
    assert "archivé" in t(await client.get(f"/documents/{doc}"))
    back = await post(client, f"/documents/{doc}/archiver", {"archive": "0"}, f"/documents/{doc}")
    assert back.status_code == 303
    assert "Vieux bilan" in t(await client.get("/documents"))


async def test_a_pdf_is_framed_with_its_own_policies(world: Portal) -> None:
    doc = await deposit(
        world.storage, world.patient.account_id, title="Compte rendu opératoire",
        content=PDF, filename="cr opératoire.pdf",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert page.status_code == 200
    frame = '<iframe class="docs-frame" title="Document PDF « Compte rendu opératoire »"'
    assert f'{frame} src="/documents/{doc}/contenu">' in t(page)
    csp = page.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "frame-src 'self'" in csp[0] and "frame-ancestors 'none'" in csp[0]
    assert "default-src 'none'" in csp[0]

    shown = await client.get(f"/documents/{doc}/contenu")
    assert shown.status_code == 200 and shown.content == PDF
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    (content_csp,) = shown.headers.get_list("content-security-policy")
    assert "frame-ancestors 'self'" in content_csp and "default-src 'none'" in content_csp
    assert content_csp.startswith("sandbox;")
    assert shown.headers["x-content-type-options"] == "nosniff"
    disposition = shown.headers["content-disposition"]
    assert disposition.startswith("inline; ")
    assert "filename*=UTF-8''" + quote("cr opératoire.pdf", safe="") in disposition

    saved = await client.get(f"/documents/{doc}/telecharger")
    assert saved.status_code == 200 and saved.content == PDF
    assert saved.headers["content-disposition"].startswith("attachment; ")
    (download_csp,) = saved.headers.get_list("content-security-policy")
    assert "sandbox" in download_csp and "frame-ancestors 'none'" in download_csp
    assert saved.headers.get_list("x-frame-options") == ["DENY"]

    async with world.storage.sessions() as s:
        actions = list(
            (
                await s.execute(
                    select(AuditEntry.action).where(
                        AuditEntry.account_id == world.patient.account_id
                    )
                )
            ).scalars()
        )
    assert "document.viewed" in actions and "document.downloaded" in actions


async def test_an_image_is_shown_in_an_img(world: Portal) -> None:
    doc = await deposit(
        world.storage, world.patient.account_id, title="Radio du genou", content=PNG,
        mime_type="image/png", class_code="31", type_code=None,
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    img = f'<img class="docs-image" src="/documents/{doc}/contenu"'
    assert f'{img} alt="Image du document « Radio du genou »">' in t(page)
    assert "frame-src" not in page.headers["content-security-policy"]
    shown = await client.get(f"/documents/{doc}/contenu")
    assert shown.content == PNG and shown.headers["content-type"] == "image/png"
    assert shown.headers["content-security-policy"].startswith("sandbox;")


async def test_a_tiff_is_only_downloaded(world: Portal) -> None:
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 32
    doc = await deposit(
        world.storage, world.patient.account_id, title="Scan", content=tiff, mime_type="image/tiff"
    )
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert "n'affichent pas les images TIFF" in t(page) and "<img" not in t(page)
    served = await client.get(f"/documents/{doc}/contenu")
    assert served.headers["content-disposition"].startswith("attachment;")


async def test_a_cda_document_is_rendered_from_its_narrative(world: Portal) -> None:
    doc = await deposit(
        world.storage, world.patient.account_id, title="CR de biologie", content=CR_BIO,
        mime_type="text/xml", type_code="11502-2",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert page.status_code == 200
    assert '<article class="cda-document">' in t(page)
    assert "Hématologie" in t(page) and "Glycémie à jeun" in t(page)
    assert "&lt;section" not in t(page)  # rendered, not escaped
    assert (await client.get(f"/documents/{doc}/contenu")).status_code == 404  # XML: no inline
    saved = await client.get(f"/documents/{doc}/telecharger")
    assert saved.content == CR_BIO
    assert saved.headers["content-type"] == "application/octet-stream"


async def test_plain_text_is_shown_in_a_pre(world: Portal) -> None:
    text = b"Tension : 12/8\n<b>pas du HTML</b>\n"
    doc = await deposit(
        world.storage, world.patient.account_id, title="Notes", content=text,
        mime_type="text/plain",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert '<pre class="docs-text">Tension : 12/8\n&lt;b&gt;pas du HTML&lt;/b&gt;' in page.text
    shown = await client.get(f"/documents/{doc}/contenu")
    assert shown.headers["content-type"] == "text/plain; charset=utf-8"
    assert shown.content == text


async def test_other_types_offer_only_the_download(world: Portal) -> None:
    doc = await deposit(
        world.storage, world.patient.account_id, title="Archive", content=b"PK\x03\x04zz",
        mime_type="application/zip",
    )  # fmt: skip
    client = await logged_in(world)
    page = await client.get(f"/documents/{doc}")
    assert "ne peut pas être affiché ici" in t(page)
    assert (await client.get(f"/documents/{doc}/contenu")).status_code == 404
    saved = await client.get(f"/documents/{doc}/telecharger")
    assert saved.status_code == 200 and saved.content == b"PK\x03\x04zz"


async def test_upload_then_replace_keeps_the_history(world: Portal) -> None:
    client = await logged_in(world)
    form = await client.get("/documents/ajouter")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in t(form)
    done = await upload(
        client, PDF, "bilan.pdf", titre="Bilan sanguin 2025", classement="categorie:biologie",
        date_document="2025-06-01",
    )  # fmt: skip
    assert done.status_code == 303, t(done)
    location = done.headers["location"]
    assert location.endswith("?fait=ajoute")
    doc_id = int(location.split("/")[2].split("?")[0])
    page = await client.get(location)
    assert "Votre document a été ajouté" in t(page) and "ajouté par moi" in t(page)
    assert "Résultats d'analyses" in t(page) and "1 juin 2025" in t(page)
    async with world.storage.sessions() as s:
        row = await s.get(Document, doc_id)
        assert row is not None
        assert row.source == "upload" and row.class_code == "90"
        assert row.uploaded_by_account_id == world.patient.account_id
        assert row.mime_type == "application/pdf" and row.filename == "bilan.pdf"

    replaced = await upload(
        client, PDF + b"% v2\n", "bilan-v2.pdf", path=f"/documents/{doc_id}/remplacer",
        titre="Bilan sanguin 2025 (corrigé)",
    )  # fmt: skip
    assert replaced.status_code == 303, t(replaced)
    new_id = int(replaced.headers["location"].split("/")[2].split("?")[0])
    new_page = await client.get(replaced.headers["location"])
    assert "Historique des versions" in t(new_page)
    assert f'<a href="/documents/{doc_id}">Bilan sanguin 2025</a>' in t(new_page)
    assert "version remplacée" in t(new_page)
    old_page = await client.get(f"/documents/{doc_id}")
    assert "version remplacée" in t(old_page)
    assert f'<a href="/documents/{new_id}">' in t(old_page)
    listed = titles(t(await client.get("/documents")))
    assert listed == ["Bilan sanguin 2025 (corrigé)"]  # the replaced version is not listed


async def test_upload_form_errors(world: Portal) -> None:
    client = await logged_in(world)
    no_title = await upload(client, PDF, "a.pdf", titre="")
    assert no_title.status_code == 400 and "Indiquez le titre du document" in t(no_title)
    long_title = await upload(client, PDF, "a.pdf", titre="x" * 201)
    assert long_title.status_code == 400 and "200 caractères" in t(long_title)
    future = await upload(client, PDF, "a.pdf", titre="t", date_document="2026-12-25")
    assert future.status_code == 400 and "ne peut pas être future" in t(future)
    bad_date = await upload(client, PDF, "a.pdf", titre="t", date_document="hier")
    assert bad_date.status_code == 400 and "pas une date valide" in t(bad_date)
    bad_kind = await upload(client, PDF, "a.pdf", titre="t", classement="type:11488-4")
    assert bad_kind.status_code == 400 and "Choisissez un classement" in t(bad_kind)
    typed = await upload(client, PDF, "a.pdf", titre="Ordonnance perso", classement="type:DOCPAT01")
    assert typed.status_code == 303


async def test_mask_and_unmask(world: Portal) -> None:
    doc = await deposit(world.storage, world.patient.account_id, title="Consultation psy")
    client = await logged_in(world)
    done = await post(client, f"/documents/{doc}/masquer", {"masque": "1"}, f"/documents/{doc}")
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "masqué aux professionnels" in t(page)
    assert "Rendre visible aux professionnels" in t(page)
    async with world.storage.sessions() as s:
        row = await s.get(Document, doc)
        assert row is not None and "MASQUE_PS" in row.visibility
    back = await post(client, f"/documents/{doc}/masquer", {"masque": "0"}, f"/documents/{doc}")
    assert back.status_code == 303
    page = await client.get(f"/documents/{doc}")
    assert "Masquer aux professionnels" in t(page)
    assert "visible de vos professionnels de santé autorisés" in t(page)


async def test_delete_my_upload_but_not_a_deposit(world: Portal) -> None:
    client = await logged_in(world)
    done = await upload(client, PDF, "perso.pdf", titre="Mon document perso")
    doc = int(done.headers["location"].split("/")[2].split("?")[0])
    confirm = await client.get(f"/documents/{doc}/supprimer")
    assert "Supprimer définitivement" in t(confirm)
    deleted = await post(client, f"/documents/{doc}/supprimer", {}, f"/documents/{doc}/supprimer")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/documents?fait=supprime"
    assert "Le document a été supprimé" in t(await client.get(deleted.headers["location"]))
    assert (await client.get(f"/documents/{doc}")).status_code == 404
    assert (await client.get(f"/documents/{doc}/telecharger")).status_code == 404

    deposited = await deposit(world.storage, world.patient.account_id, title="CR du Dr X")
    confirm = await client.get(f"/documents/{deposited}/supprimer")
    assert "ne peuvent pas être supprimés ; vous pouvez les masquer" in t(confirm)
    assert "Supprimer définitivement" not in t(confirm)
    refused = await post(
        client, f"/documents/{deposited}/supprimer", {}, f"/documents/{deposited}/supprimer"
    )
    assert refused.status_code == 403
    assert "ne peuvent pas être supprimés" in t(refused)
    assert (await client.get(f"/documents/{deposited}")).status_code == 200
    replace = await client.get(f"/documents/{deposited}/remplacer")
    assert replace.status_code == 403
    assert "que les documents que vous avez ajoutés" in t(replace)


def _message_with_pdf(to: str, subject: str) -> tuple[bytes, str]:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Dr Jean Dupont <docteur@medecin.mssante.fr>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    mid = email.utils.make_msgid(domain="medecin.mssante.fr")
    msg["Message-ID"] = mid
    msg.set_content("Bonjour,\nVoici le compte rendu.\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="cr-echo.pdf")
    return msg.as_bytes(), mid


async def test_documents_of_a_message_and_back(world: Portal) -> None:
    raw, mid = _message_with_pdf(world.patient.address, "Compte rendu d'échographie")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    await Delivering(world.storage).deliver(
        raw=raw, parsed=parsed, envelope_sender="docteur@medecin.mssante.fr",
        recipients=[world.patient], received_at=datetime.now(UTC),
    )  # fmt: skip
    other_raw, other_mid = _message_with_pdf(world.other.address, "Secret de l'autre")
    other_parsed = email.message_from_bytes(other_raw, policy=email.policy.default)
    assert isinstance(other_parsed, EmailMessage)
    await Delivering(world.storage).deliver(
        raw=other_raw, parsed=other_parsed, envelope_sender="docteur@medecin.mssante.fr",
        recipients=[world.other], received_at=datetime.now(UTC),
    )  # fmt: skip
    async with world.storage.sessions() as s:
        row = (
            await s.execute(select(Document).where(Document.account_id == world.patient.account_id))
        ).scalar_one()
    assert row.metadata_json["message_id"] == mid
    client = await logged_in(world)
    page = await client.get(f"/documents/{row.id}")
    assert f'href="/mail/message?mid={quote(mid, safe="")}"' in t(page)
    assert "Voir le message d'origine" in t(page)

    listed = await client.get("/documents/du-message", params={"mid": mid})
    assert listed.status_code == 200
    assert f'<a href="/documents/{row.id}">cr-echo.pdf</a>' in t(listed)
    # another patient's message: nothing of theirs, even with its Message-ID
    theirs = await client.get("/documents/du-message", params={"mid": other_mid})
    assert "Aucun document" in t(theirs) and "/documents/" + str(row.id + 1) not in t(theirs)
    bad = await client.get("/documents/du-message", params={"mid": "x\ny"})
    assert bad.status_code == 400
