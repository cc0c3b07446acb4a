"""The reading pages over a real IMAP session: conversations, folders, lists, paging, search,
message view, move."""

from __future__ import annotations

import html
import re

from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import CARDIO, DOCTOR, UNREAD, Filled, Web, deliver, message


def _main(page: str) -> str:
    return page.split('<main id="contenu">', 1)[1].split("</main>", 1)[0]


def _subjects(text: str) -> list[str]:
    found = re.findall(
        r'<a href="/mail/dossiers/\w+/\d+">' + UNREAD + "([^<]+)</a>",
        _main(text),
    )
    return [html.unescape(s) for s in found]


async def test_conversations_are_grouped_by_clinician_with_state_and_unread(
    web: Web, filled: Filled
) -> None:
    r = await web.client.get("/mail/")
    assert r.status_code == 200
    page = _main(r.text)
    cards = re.findall(
        r'<li class="mail-card">(.*?)</li>\s*(?=<li class="mail-card">|</ul>)', page, re.S
    )
    assert len(cards) == 2
    by_address = {
        DOCTOR: next(c for c in cards if DOCTOR in c),
        CARDIO: next(c for c in cards if CARDIO in c),
    }
    doctor, cardio = by_address[DOCTOR], by_address[CARDIO]
    assert "Ouvert" in doctor and "Vous pouvez répondre" in doctor
    assert "4 messages" in doctor and "4 non lus" in doctor, doctor
    assert "Rendez-vous de contrôle" in doctor  # the latest from this clinician
    assert "Clôturé" in cardio and "Le professionnel a clôturé cet échange" in cardio
    assert "2 messages" in cardio and "Fin du suivi" in cardio
    assert "Médecin" in doctor  # the directory's profession label
    assert "Secret d'un autre patient" not in r.text


async def test_folders_page_lists_french_names_and_counts(web: Web, filled: Filled) -> None:
    r = await web.client.get("/mail/dossiers")
    assert r.status_code == 200
    page = _main(r.text)
    for label in ("Boîte de réception", "Envoyés", "Brouillons", "Corbeille", "Archives"):
        assert label in page
    inbox_row = re.search(r"Boîte de réception</a></th>\s*<td>(\d+)</td>\s*<td>(\d+)</td>", page)
    assert inbox_row is not None
    assert inbox_row.groups() == ("6", "6")
    assert "<caption>" in page


async def test_message_list_is_newest_first_and_paged(web: Web, filled: Filled) -> None:
    web.app.state.mail_page_size = 4
    r = await web.client.get("/mail/dossiers/INBOX")
    assert r.status_code == 200
    page = _main(r.text)
    shown = _subjects(r.text)
    assert shown == list(reversed(filled.subjects))[:4]
    assert "page 1 sur 2" in page
    assert 'rel="next"' in page and 'rel="prev"' not in page
    r2 = await web.client.get("/mail/dossiers/INBOX?page=2")
    shown2 = _subjects(r2.text)
    assert shown2 == list(reversed(filled.subjects))[4:]
    assert 'rel="prev"' in r2.text
    # out-of-range and malformed page numbers land on a real page
    r3 = await web.client.get("/mail/dossiers/INBOX?page=99")
    assert "page 2 sur 2" in r3.text
    r4 = await web.client.get("/mail/dossiers/INBOX?page=abc")
    assert "page 1 sur 2" in r4.text


async def test_search_by_subject_sender_and_text_in_utf8(web: Web, filled: Filled) -> None:
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": "ordonnance", "champ": "objet"})
    assert r.status_code == 200
    assert _subjects(r.text) == ["Ordonnance du 20 novembre"]
    assert "correspondant à « ordonnance »" in r.text
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": "Résultats", "champ": "objet"})
    assert _subjects(r.text) == ["Résultats d'analyses sanguines"]
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": CARDIO, "champ": "de"})
    assert _subjects(r.text) == ["Fin du suivi", "Bilan cardiologique"]
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": "normaux", "champ": "tout"})
    assert _subjects(r.text) == ["Résultats d'analyses sanguines"]
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": "introuvable", "champ": "tout"})
    assert "Aucun message ne correspond" in r.text


async def test_hostile_searches_are_refused_in_french(web: Web, filled: Filled) -> None:
    for q in ('x"\r\nA1 LOGOUT', "a\x00b", "x" * 201):
        r = await web.client.get("/mail/dossiers/INBOX", params={"q": q})
        assert r.status_code == 400, q
        assert 'role="alert"' in r.text
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": "x", "champ": "HEADER"})
    assert r.status_code == 400
    # quotes and backslashes are searched for literally, not injected
    r = await web.client.get("/mail/dossiers/INBOX", params={"q": 'a" OR ALL "', "champ": "objet"})
    assert r.status_code == 200
    assert "Aucun message ne correspond" in r.text


async def test_message_view_shows_headers_body_attachments_and_marks_seen(
    web: Web, filled: Filled, seeded: Seeded
) -> None:
    listing = await web.client.get("/mail/dossiers/INBOX")
    uid = re.search(
        r'<a href="/mail/dossiers/INBOX/(\d+)">' + UNREAD + "Compte rendu de consultation<",
        listing.text,
    )
    assert uid is not None
    assert listing.text.count("Non lu</span>") == 6  # listing does not mark anything seen
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid.group(1)}")
    assert r.status_code == 200
    page = _main(r.text)
    assert '<h1 id="mail-title">Compte rendu de consultation</h1>' in page
    assert "Dr Jean Dupont &lt;dr.dupont@medecin.mssante.fr&gt;" in page
    assert seeded.active.address in page
    assert "Voici le compte rendu." in page
    assert "compte-rendu-écho.pdf" in page and "application/pdf" in page
    assert "Ce document est aussi classé dans vos documents de santé" in page
    listing = await web.client.get("/mail/dossiers/INBOX")
    assert listing.text.count("Non lu</span>") == 5


async def test_unknown_folder_and_message_are_404(web: Web, filled: Filled) -> None:
    assert (await web.client.get("/mail/dossiers/Spam")).status_code == 404
    assert (await web.client.get("/mail/dossiers/INBOX/9999")).status_code == 404
    r = await web.client.get("/mail/dossiers/INBOX/9999")
    assert "n&#39;existe pas" in r.text


async def test_move_to_trash_then_back(web: Web, filled: Filled) -> None:
    listing = await web.client.get(
        "/mail/dossiers/INBOX", params={"q": "Ordonnance", "champ": "objet"}
    )
    uid = re.search(r"/mail/dossiers/INBOX/(\d+)", _main(listing.text))
    assert uid is not None
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid.group(1)}/deplacer", data={"vers": "Trash", "csrf_token": "x"}
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/mail/dossiers/INBOX?deplace=1"
    inbox = await web.client.get("/mail/dossiers/INBOX?deplace=1")
    assert "Le message a été déplacé." in inbox.text
    assert "Ordonnance du 20 novembre" not in _subjects(inbox.text)
    trash = await web.client.get("/mail/dossiers/Trash")
    assert _subjects(trash.text) == ["Ordonnance du 20 novembre"]
    new_uid = re.search(r"/mail/dossiers/Trash/(\d+)", _main(trash.text))
    assert new_uid is not None
    r = await web.client.post(
        f"/mail/dossiers/Trash/{new_uid.group(1)}/deplacer", data={"vers": "INBOX"}
    )
    assert r.status_code == 303
    assert "Ordonnance du 20 novembre" in _subjects(
        (await web.client.get("/mail/dossiers/INBOX")).text
    )
    # bad targets and vanished messages
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid.group(1)}/deplacer", data={"vers": "Sent"}
    )
    assert r.status_code == 400
    r = await web.client.post(
        f"/mail/dossiers/Trash/{new_uid.group(1)}/deplacer", data={"vers": "Archive"}
    )
    assert r.status_code == 404


async def test_mailbox_down_is_a_french_503(web: Web, filled: Filled) -> None:
    from dataclasses import replace

    web.app.state.settings = replace(web.settings, imap=replace(web.settings.imap, tls_port=1))
    r = await web.client.get("/mail/")
    assert r.status_code == 503
    assert "momentanément indisponible" in r.text


async def test_subjects_with_imap_special_characters_survive(
    web: Web, filled: Filled, storage: Storage, seeded: Seeded
) -> None:
    """aioimaplib strips every "* " from untagged lines; the subject must not suffer from it."""
    subject = 'Note * importante : "résultats" \\ (suite) {3} [FIN?]'
    await deliver(storage, seeded, message(to=seeded.active.address, subject=subject))
    r = await web.client.get("/mail/dossiers/INBOX")
    assert _subjects(r.text)[0] == subject


async def test_paging_keeps_the_search(web: Web, filled: Filled) -> None:
    web.app.state.mail_page_size = 3
    params = {"q": DOCTOR, "champ": "de"}
    r = await web.client.get("/mail/dossiers/INBOX", params=params)
    assert _subjects(r.text) == list(reversed(filled.subjects[:4]))[:3]
    nxt = re.search(r'<a href="([^"]+)" rel="next">', r.text)
    assert nxt is not None
    r2 = await web.client.get(html.unescape(nxt.group(1)))
    assert _subjects(r2.text) == [filled.subjects[0]]
    assert "page 2 sur 2" in r2.text


async def test_an_empty_folder_says_so(web: Web, filled: Filled) -> None:
    r = await web.client.get("/mail/dossiers/Sent")
    assert r.status_code == 200
    assert "Ce dossier est vide." in r.text
    assert '<h1 id="mail-title">Envoyés</h1>' in r.text


async def test_unbalanced_parentheses_in_quoted_strings_do_not_stall_the_list(
    web: Web, filled: Filled, storage: Storage, seeded: Seeded
) -> None:
    """aioimaplib counts parentheses to find the end of a FETCH response; a file name with an
    unbalanced one must not leave the page waiting."""
    import email.policy
    from email.message import EmailMessage

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Dr Jean Dupont <{DOCTOR}>"
    msg["To"] = seeded.active.address
    msg["Subject"] = "Parenthèse (ouverte"
    msg["Message-ID"] = "<paren@medecin.mssante.fr>"
    msg.set_content("x")
    msg.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="cr((.pdf")
    await deliver(storage, seeded, msg.as_bytes())
    r = await web.client.get("/mail/dossiers/INBOX")
    assert r.status_code == 200
    assert _subjects(r.text)[0] == "Parenthèse (ouverte"
    assert _subjects(r.text)[1:] == list(reversed(filled.subjects))
