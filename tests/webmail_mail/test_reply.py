"""Replying: offered only where the patient may write, built with stdlib ``email``, sent through
SMTP submission (aiosmtplib, implicit TLS, AUTH XOAUTH2) — here to a recording aiosmtpd
stand-in until the real submission server is merged."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import delete

from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Conversation
from fixtures.seed import Seeded

from .conftest import DOCTOR, PHARMACY, SECRETARIAT, UNREAD, Web, deliver, message


async def _uid(web: Web, subject: str, folder: str = "INBOX") -> str:
    listing = await web.client.get(
        f"/mail/dossiers/{folder}", params={"q": subject, "champ": "objet"}
    )
    m = re.search(
        rf'<a href="/mail/dossiers/{folder}/(\d+)">' + UNREAD + re.escape(subject), listing.text
    )
    assert m is not None, subject
    return m.group(1)


def _reply_form(page: str) -> bool:
    return "/repondre" in page and 'name="message"' in page


async def test_reply_is_sent_through_submission_with_xoauth2(web: Web, seeded: Seeded) -> None:
    uid = await _uid(web, "Ordonnance du 20 novembre")
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert _reply_form(page.text)
    assert f"Votre réponse sera envoyée à <strong>{DOCTOR}</strong>" in page.text
    assert 'value="Re: Ordonnance du 20 novembre"' in page.text
    assert 'name="csrf_token" value="jeton-csrf-de-test"' in page.text
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre",
        data={"csrf_token": "jeton-csrf-de-test", "objet": "Re: Ordonnance du 20 novembre",
              "message": "Merci docteur,\nà bientôt.\n\nMarie"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/mail/dossiers/INBOX/{uid}?envoye=1"
    assert len(web.recorder.received) == 1
    got = web.recorder.received[0]
    assert got.mail_from == seeded.active.address
    assert got.rcpt_tos == [DOCTOR]
    assert got.claims is not None
    assert got.claims.account_id == seeded.active.account_id
    assert got.claims.address == seeded.active.address
    assert "submission" in got.claims.services
    assert web.recorder.logins == [("XOAUTH2", "ok")]
    msg = got.message
    assert msg["From"].addresses[0].addr_spec == seeded.active.address
    assert msg["From"].addresses[0].display_name == "Marie Legrand"
    assert str(msg["To"]) == DOCTOR
    assert str(msg["Subject"]) == "Re: Ordonnance du 20 novembre"
    original = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert msg["Date"] is not None and msg["Message-ID"] is not None
    assert msg["Message-ID"].endswith("@patient.mssante.fr>")
    assert msg["In-Reply-To"] is not None and msg["In-Reply-To"].endswith("@medecin.mssante.fr>")
    assert str(msg["References"]).split()[-1] == str(msg["In-Reply-To"])
    assert msg.get_content().replace("\r\n", "\n") == "Merci docteur,\nà bientôt.\n\nMarie\n"
    # after sending: a confirmation, and the original is marked answered
    assert "Votre réponse a été envoyée." in (await web.client.get(r.headers["location"])).text
    assert "Vous avez répondu à ce message." in original.text


async def test_reply_goes_to_the_reply_to_address(web: Web) -> None:
    uid = await _uid(web, "Rendez-vous de contrôle")
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert f"Votre réponse sera envoyée à <strong>{SECRETARIAT}</strong>" in page.text
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre",
        data={"objet": "Re: Rendez-vous de contrôle", "message": "Je confirme."},
    )
    assert r.status_code == 303
    got = web.recorder.received[0]
    assert got.rcpt_tos == [SECRETARIAT]
    assert str(got.message["To"]) == SECRETARIAT


async def test_closed_conversation_shows_why_and_no_form_and_refuses_a_post(web: Web) -> None:
    for subject in ("Fin du suivi", "Bilan cardiologique"):  # both messages of the closed one
        uid = await _uid(web, subject)
        page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
        assert page.status_code == 200
        assert not _reply_form(page.text)
        assert "<textarea" not in page.text
        assert "Le professionnel a clôturé cet échange" in page.text
        assert "Vous ne pouvez plus lui répondre" in page.text
        r = await web.client.post(
            f"/mail/dossiers/INBOX/{uid}/repondre",
            data={"objet": "Re: x", "message": "Pourtant je réponds."},
        )
        assert r.status_code == 403
        assert "Le professionnel a clôturé cet échange" in r.text
    assert web.recorder.received == []
    assert web.recorder.logins == []


async def test_no_reply_to_someone_who_is_not_a_correspondent(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    # an address the patient has no conversation with
    raw = message(
        sender="postmaster@medecin.mssante.fr", name="Postmaster", to=seeded.active.address,
        subject="Avis technique",
    )  # fmt: skip
    await deliver(storage, seeded, raw)
    async with transaction(storage.sessions) as session:  # a message outside any conversation
        await session.execute(
            delete(Conversation).where(
                Conversation.professional_address == "postmaster@medecin.mssante.fr"
            )
        )
    uid = await _uid(web, "Avis technique")
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert not _reply_form(page.text)
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre", data={"objet": "Re", "message": "x"}
    )
    assert r.status_code == 403
    assert "seul un professionnel de santé qui vous a écrit" in r.text
    assert web.recorder.received == []


async def test_a_pharmacy_message_may_be_answered_as_patient_initiated_profession(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    raw = message(sender=PHARMACY, name="Pharmacie", to=seeded.active.address,
                  subject="Votre commande", closing=True)  # fmt: skip
    await deliver(storage, seeded, raw)
    uid = await _uid(web, "Votre commande")
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert _reply_form(page.text)  # closed, but pharmacies accept patient-initiated mail


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("objet", "Re: x\r\nBcc: victime@exemple.fr", "retour à la ligne"),
        ("objet", "Re: x\nBcc: victime@exemple.fr", "retour à la ligne"),
        ("objet", "Re: x\rBcc: victime@exemple.fr", "retour à la ligne"),
        ("objet", "Re: x\x00y", "caractère de contrôle"),
        ("objet", "   ", "indiquer un objet"),
        ("objet", "R" * 201, "trop long"),
        ("message", "a\x00b", "caractères non autorisés"),
        ("message", "a\x1b[31mb", "caractères non autorisés"),
        ("message", "   \n ", "est vide"),
        ("message", "x" * 100_001, "trop long"),
    ],
)
async def test_header_injection_and_oversize_are_refused(
    web: Web, field: str, value: str, expected: str
) -> None:
    uid = await _uid(web, "Ordonnance du 20 novembre")
    data = {"objet": "Re: Ordonnance", "message": "Bonjour"}
    data[field] = value
    r = await web.client.post(f"/mail/dossiers/INBOX/{uid}/repondre", data=data)
    assert r.status_code == 400
    assert expected in r.text
    assert 'role="alert"' in r.text
    assert _reply_form(r.text)  # the form comes back, with what the patient typed
    assert web.recorder.received == []


async def test_an_enormous_form_is_refused_before_parsing(web: Web) -> None:
    uid = await _uid(web, "Ordonnance du 20 novembre")
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre",
        data={"objet": "Re: x", "message": "y" * 2_000_000},
    )
    assert r.status_code == 413
    assert "trop long" in r.text
    assert web.recorder.received == []


async def test_a_header_injection_through_the_display_name_is_refused(web: Web) -> None:
    uid = await _uid(web, "Ordonnance du 20 novembre")
    shell = web.client._transport.app  # type: ignore[attr-defined]
    shell.account = replace(web.account, display_name="Marie\r\nBcc: victime@exemple.fr")
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre", data={"objet": "Re: x", "message": "y"}
    )
    assert r.status_code == 400
    assert "Votre nom contient des caractères non autorisés" in r.text
    assert web.recorder.received == []


async def test_a_refusal_by_the_submission_server_is_shown_in_french(web: Web) -> None:
    web.recorder.refuse_rcpt = (
        "550 5.7.1 Le professionnel a clos cette conversation"
        " / The professional closed this conversation"
    )
    uid = await _uid(web, "Ordonnance du 20 novembre")
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre", data={"objet": "Re: x", "message": "Mon texte"}
    )
    assert r.status_code == 502
    assert (
        "Votre message n&#39;a pas été envoyé : Le professionnel a clos cette conversation."
        in r.text
    )
    assert "The professional" not in r.text
    assert ">Mon texte</textarea>" in r.text  # nothing the patient typed is lost
    assert web.recorder.received == []


async def test_submission_down_is_said_in_french(web: Web) -> None:
    from .conftest import settings_with_submission

    web.app.state.settings = settings_with_submission(web.settings, 1)
    uid = await _uid(web, "Ordonnance du 20 novembre")
    r = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre", data={"objet": "Re: x", "message": "Mon texte"}
    )
    assert r.status_code == 502
    assert "momentanément indisponible" in r.text


async def test_a_forged_token_is_refused_by_submission(web: Web, seeded: Seeded) -> None:
    """The stand-in really checks the token: one signed with another key fails AUTH."""
    import aiosmtplib

    from espace_sante.accounts.tokens import TokenSigner
    from espace_sante.webmail.mail.imap_client import client_tls_context
    from espace_sante.webmail.mail.submission import submission_target

    target = submission_target(web.settings)
    forged = TokenSigner(b"k" * 32).issue(seeded.active.account_id, seeded.active.address)
    smtp = aiosmtplib.SMTP(hostname=target.host, port=target.port, use_tls=True,
                           tls_context=client_tls_context(web.settings))  # fmt: skip
    await smtp.connect()
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await smtp.auth_xoauth2(seeded.active.address, forged)
    await smtp.quit()
    assert web.recorder.logins[-1][1].startswith("refused")
