"""The activity history page (/historique) and its CSV (/historique.csv): real entries written by
the login, the record store and a professional's read, in French and newest first; filters,
paging, the chain's status, another patient's history never shown, a guardian in a minor's space
who learns nothing of a document hidden from legal representatives, hostile filters."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from espace_sante import audit
from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    Operation,
)
from espace_sante.records.access import Caller, read_content
from espace_sante.records.changes import lift_invisible_patient, mask_document
from espace_sante.records.deposit import NewDocument, deposit_document
from espace_sante.records.professionals import authorise_professional
from espace_sante.records.upload import Upload, upload_document
from espace_sante.storage.blob_rows import store_blob
from espace_sante.storage.engine import transaction
from espace_sante.storage.schema import AuditEntry, Professional
from fixtures.family import add_minor
from web.conftest import Clock, Web, activate

PRO_ID = "810000000000"  # Jean DUPONT, médecin, in the seeded directory
PRO = Caller.professional(PRO_ID, "10")
ROW = re.compile(r"<tr(?: class=\"history-altered\")?>\s*<th scope=\"row\"(.*?)</tr>", re.S)


PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def clock() -> Clock:
    """After the wall clock (the entries written at creation time are older), at 09:00 UTC."""
    moving = Clock()
    later = datetime.now(UTC) + timedelta(days=30)
    moving.now = later.replace(hour=9, minute=0, second=0, microsecond=0)
    return moving


def _paris(at: datetime, fmt: str = "%d/%m/%Y à %H:%M") -> str:
    return at.astimezone(PARIS).strftime(fmt)


def _rows(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip())
        for r in ROW.findall(page)
    ]


async def _login(web: Web, account_id: int | None = None, ins: str | None = None) -> None:
    await activate(web.storage, account_id or web.seeded.active.account_id, web.clock())
    await web.login_fully(ins or web.seeded.active.ins)


async def _upload(web: Web, account_id: int, caller: Caller, title: str) -> int:
    async with transaction(web.storage.sessions) as db:
        out = await upload_document(
            db, web.storage, caller, account_id,
            Upload(b"%PDF-1.4 test", "application/pdf", "doc.pdf", title, category="ordonnances"),
            settings=web.settings.records, now=web.clock(),
        )  # fmt: skip
    assert out.allowed and out.document is not None
    return out.document.id


async def _deposit(web: Web, account_id: int, title: str, visibility: frozenset[str]) -> int:
    async with transaction(web.storage.sessions) as db:
        data = b"%PDF-1.4 " + title.encode()
        blob = await store_blob(db, web.storage, account_id, data)
        row = await deposit_document(
            db, account_id=account_id, deposited_by=PRO.name, at=web.clock(),
            document=NewDocument(
                blob_id=blob.id, source="attachment", title=title, mime_type="application/pdf",
                size=len(data), sha1=hashlib.sha1(data).hexdigest(), class_code="11",
                visibility=visibility, author_professional_id=PRO_ID,
            ),
        )  # fmt: skip
    return row.id


async def _professional_reads(
    web: Web, account_id: int, document_id: int, address: str = "cli"
) -> None:
    me = Caller.patient(account_id, address)
    async with transaction(web.storage.sessions) as db:
        await authorise_professional(db, me, account_id, PRO_ID, now=web.clock())
    async with transaction(web.storage.sessions) as db:
        out = await read_content(
            db, web.storage, PRO, account_id, document_id, operation=Operation.VIEW,
            now=web.clock(),
        )  # fmt: skip
    assert out.allowed


async def _story(web: Web) -> int:
    """Login, an upload, a professional's read (once authorised), a mask, a minute apart."""
    await _login(web)
    me = Caller.patient(web.seeded.active.account_id, web.seeded.active.address)
    web.clock.advance(minutes=1)
    doc = await _upload(web, web.seeded.active.account_id, me, "Ordonnance du Dr House")
    web.clock.advance(minutes=1)
    await _professional_reads(web, web.seeded.active.account_id, doc, me.name)
    web.clock.advance(minutes=1)
    async with transaction(web.storage.sessions) as db:
        masked = await mask_document(db, me, web.seeded.active.account_id, doc, now=web.clock())
    assert masked.allowed
    return doc


async def test_the_story_reads_newest_first_in_french(web: Web) -> None:
    doc = await _story(web)
    page = await web.client.get("/historique")
    assert page.status_code == 200
    assert "<h1>Historique d'activité</h1>" in page.text
    assert "Journal intègre : aucune altération détectée" in page.text
    rows = _rows(page.text)
    texts = "\n".join(rows)
    order = [
        "Masquage d'un document aux professionnels de santé par vous",
        "Consultation d'un document par Dr Jean DUPONT (médecin) (premier accès à votre dossier)",
        "Autorisation d'accès à votre dossier donnée à Dr Jean DUPONT (médecin) par vous",
        "Ajout d'un document à votre dossier par vous",
        "Connexion à votre espace (site web)",
    ]
    positions = [texts.find(t) for t in order]
    assert all(p >= 0 for p in positions), (positions, texts)
    assert positions == sorted(positions)
    assert _paris(web.clock()) in rows[0]  # Europe/Paris time
    assert f'href="/documents/{doc}">Ordonnance du Dr House</a>' in page.text
    assert "Dr Jean DUPONT (médecin)" in rows[1]  # the actor column
    assert "<caption>" in page.text and 'scope="col"' in page.text
    assert '<label for="type">' in page.text and '<label for="du">' in page.text
    assert "/static/history.css" in page.text
    css = await web.client.get("/static/history.css")
    assert css.status_code == 200 and "data-label" in css.text


async def test_filters_by_kind_and_period(web: Web) -> None:
    await _story(web)
    docs = _rows((await web.client.get("/historique?type=documents")).text)
    assert docs and all("Documents" in r for r in docs)
    assert not any("Connexion à votre espace" in r for r in docs)
    logins = _rows((await web.client.get("/historique?type=connexions")).text)
    assert any("Connexion à votre espace" in r for r in logins)
    assert not any("Masquage" in r for r in logins)
    today = web.clock().date()
    same_day = _rows((await web.client.get(f"/historique?du={today}&au={today}")).text)
    assert len(same_day) >= 5
    typed = _rows(
        (await web.client.get(f"/historique?du={today:%d/%m/%Y}&au={today:%d/%m/%Y}")).text
    )
    assert typed == same_day
    empty = await web.client.get("/historique?au=2020-01-01")
    assert _rows(empty.text) == [] and "Aucune activité pour ces filtres" in empty.text
    after = await web.client.get(f"/historique?du={today + timedelta(days=1)}")
    assert _rows(after.text) == []


async def test_paging_fifty_a_page(web: Web) -> None:
    await _login(web)
    async with transaction(web.storage.sessions) as db:
        for i in range(120):
            await audit.append(
                db, account_id=web.seeded.active.account_id, actor="anonymous",
                action="login.failed", detail={"service": "web", "remote": f"10.0.0.{i}"},
                at=web.clock() + timedelta(seconds=i + 1),
            )  # fmt: skip
    first = await web.client.get("/historique")
    rows = _rows(first.text)
    assert len(rows) == 50 and "10.0.0.119" in rows[0] and "10.0.0.70" in rows[-1]
    assert "page 1 sur 3" in first.text and 'href="/historique?page=2"' in first.text
    third = await web.client.get("/historique?page=3")
    assert "Page précédente" in third.text and "Page suivante" not in third.text
    assert any("Connexion à votre espace" in r for r in _rows(third.text))
    filtered = await web.client.get("/historique?type=connexions&page=2")
    assert 'href="/historique?type=connexions&amp;page=3"' in filtered.text
    beyond = await web.client.get("/historique?page=9")
    assert beyond.status_code == 200 and _rows(beyond.text) == []


async def test_the_csv_download(web: Web) -> None:
    doc = await _story(web)
    async with transaction(web.storage.sessions) as db:  # a directory name a spreadsheet would run
        db.add(
            Professional(
                address="formule@medecin.mssante.fr", mailbox_type="PER", national_id="999",
                family_name="Piège", given_name="=HYPERLINK(\"http://x\")", profession_code="60",
                profession_label="Infirmier", specialty_label="", organisation="",
                postal_code="75014", city="PARIS", updated_at=web.clock(),
            )
        )  # fmt: skip
        await audit.append(
            db, account_id=web.seeded.active.account_id, actor="ps:999",
            action="record.listed", detail={"operation": "list", "total": 1, "documents": [doc],
                                            "reason": "authorised", "emergency": False},
            at=web.clock() + timedelta(minutes=5),
        )  # fmt: skip
    got = await web.client.get("/historique.csv")
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == (
        'attachment; filename="historique-espace-sante.csv"'
    )
    assert got.content.startswith(b"\xef\xbb\xbf")
    text = got.content.decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == ["date", "type", "acteur", "description"]
    assert rows[1][2] == '\'=HYPERLINK("http://x") PIÈGE (infirmier)'  # neutralised
    assert rows[1][0] == (web.clock() + timedelta(minutes=5)).astimezone(PARIS).isoformat()
    described = [r[3] for r in rows[1:]]
    assert (
        "Consultation d'un document par Dr Jean DUPONT (médecin) (premier accès à votre "
        "dossier) (document « Ordonnance du Dr House »)"
    ) in described
    assert any(d.startswith("Connexion à votre espace") for d in described)
    only_docs = await web.client.get("/historique.csv?type=documents")
    doc_rows = list(csv.reader(io.StringIO(only_docs.text.lstrip("\ufeff"), newline=""),
                               delimiter=";"))[1:]  # fmt: skip
    assert doc_rows and all(r[1] == "Documents" for r in doc_rows)


async def test_chain_status_ok_then_broken(web: Web) -> None:
    await _story(web)
    assert "Journal intègre" in (await web.client.get("/historique")).text
    async with transaction(web.storage.sessions) as db:
        seq = (
            await db.execute(
                select(AuditEntry.seq).where(
                    AuditEntry.account_id == web.seeded.active.account_id,
                    AuditEntry.action == "document.masked",
                )
            )
        ).scalar_one()
        await db.execute(
            update(AuditEntry)
            .where(AuditEntry.account_id == web.seeded.active.account_id, AuditEntry.seq == seq)
            .values(detail='{"document": 1}')
        )
    page = await web.client.get("/historique")
    assert page.status_code == 200
    assert "Journal intègre" not in page.text and "Journal altéré" in page.text
    assert f"l'altération commence à l'entrée n° {seq} du journal" in html.unescape(page.text)
    assert 'class="history-altered"' in page.text


async def test_another_patients_history_is_never_shown(web: Web) -> None:
    other = web.seeded.other
    async with transaction(web.storage.sessions) as db:
        await audit.append(
            db, account_id=other.account_id, actor="anonymous", action="login.failed",
            detail={"service": "web", "remote": "203.0.113.99"}, at=web.clock(),
        )  # fmt: skip
    other_doc = await _upload(
        web, other.account_id, Caller.patient(other.account_id, other.address), "Secret voisin"
    )
    await _login(web)
    for path in ("/historique", "/historique.csv", "/historique?du=2000-01-01&page=1"):
        got = await web.client.get(path)
        assert "203.0.113.99" not in got.text and "Secret voisin" not in got.text
        assert f"/documents/{other_doc}" not in got.text or other_doc == 0
    # a forged entry on my chain naming the other patient's document: no link, no title
    async with transaction(web.storage.sessions) as db:
        await audit.append(
            db, account_id=web.seeded.active.account_id, actor=PRO.name,
            action="document.viewed",
            detail={"document": other_doc, "operation": "view", "reason": "authorised",
                    "emergency": False},
            at=web.clock() + timedelta(minutes=1),
        )  # fmt: skip
    page = await web.client.get("/historique")
    assert f'href="/documents/{other_doc}"' not in page.text
    assert "Activité sur un document non consultable" in _rows(page.text)[0]


async def test_a_guardian_sees_the_minors_history_without_what_is_hidden_from_them(
    web: Web,
) -> None:
    minor = await add_minor(web.storage, web.seeded.active.address, today=web.clock().date())
    hidden = await _deposit(web, minor.account_id, "Consultation confidentielle",
                            frozenset({INVISIBLE_REPRESENTANTS_LEGAUX}))  # fmt: skip
    shown = await _deposit(web, minor.account_id, "Vaccins à jour", frozenset())
    pending = await _deposit(web, minor.account_id, "Résultat non annoncé",
                             frozenset({INVISIBLE_PATIENT}))  # fmt: skip
    web.clock.advance(minutes=1)
    await _professional_reads(web, minor.account_id, hidden)
    await _login(web)
    opened = await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
    assert opened.status_code == 303
    page = await web.client.get("/historique")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Ouverture de votre espace santé par votre représentant légal" in text
    assert f'href="/documents/{shown}">Vaccins à jour</a>' in text
    for title, doc in (("Consultation confidentielle", hidden), ("Résultat non annoncé", pending)):
        assert title not in text and f"/documents/{doc}" not in text
    undisclosed = [r for r in _rows(text) if "Activité sur un document non consultable" in r]
    assert len(undisclosed) == 3  # two deposits and the read of the hidden document
    assert all("Dr Jean DUPONT" not in r and "Non communiqué" in r for r in undisclosed)
    csv_text = (await web.client.get("/historique.csv")).text
    assert "Consultation confidentielle" not in csv_text and "Résultat non annoncé" not in csv_text
    assert "Vaccins à jour" in csv_text
    # the guardian's own history is theirs, not the minor's
    await web.post("/proches/revenir", {}, form_page="/accueil")
    own = html.unescape((await web.client.get("/historique")).text)
    assert "Vaccins à jour" not in own
    assert "Ouverture de l'espace santé d'une personne que vous représentez" in own


async def test_a_result_shows_once_the_professional_lifts_invisible_patient(web: Web) -> None:
    pending = await _deposit(web, web.seeded.active.account_id, "Résultat de biopsie",
                             frozenset({INVISIBLE_PATIENT}))  # fmt: skip
    await _login(web)
    before = await web.client.get("/historique")
    assert "Résultat de biopsie" not in before.text and f"/documents/{pending}" not in before.text
    web.clock.advance(minutes=1)
    async with transaction(web.storage.sessions) as db:
        lifted = await lift_invisible_patient(
            db, PRO, web.seeded.active.account_id, pending, now=web.clock()
        )
    assert lifted.allowed
    after = await web.client.get("/historique")
    assert f'href="/documents/{pending}">Résultat de biopsie</a>' in after.text
    assert "Document rendu visible dans votre dossier par Dr Jean DUPONT (médecin)" in (
        html.unescape(after.text)
    )


@pytest.mark.parametrize(
    "query",
    [
        "type=nope", "type=%3Cscript%3E", "du=2026-13-45", "du=abc&au=2026-01-01",
        "du=0001-01-01", "au=9999-12-31", "du=2026-12-01&au=2026-01-01", "page=0",
        "page=-3", "page=abc", "page=99999999999999999999", "du=" + "9" * 5000,
        "type=documents&type=urgence", "du=25%2F11%2F2026&au=31%2F02%2F2026",
        "page=1e9", "du=%00", "type=" + "x" * 3000,
    ],
)  # fmt: skip
async def test_hostile_filters_get_a_french_message_never_a_500(web: Web, query: str) -> None:
    await _login(web)
    page = await web.client.get(f"/historique?{query}")
    assert page.status_code == 200, query
    assert "<script>" not in page.text
    if query != "type=documents&type=urgence":
        assert "Filtre non appliqué" in page.text, query
    got = await web.client.get(f"/historique.csv?{query}")
    assert got.status_code == 200 and got.content.startswith(b"\xef\xbb\xbf")


async def test_no_login_no_history(web: Web) -> None:
    for path in ("/historique", "/historique.csv"):
        got = await web.client.get(path)
        assert got.status_code == 303 and got.headers["location"] == "/connexion"
