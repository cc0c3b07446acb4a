"""A patient in Chromium reads their mail through the webmail, which reads it through our own IMAP
server: conversations by clinician, a message with its attachments, hostile HTML made harmless, a
closed conversation without a reply form; axe-core finds no violation on any of these pages."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from espace_sante.mta.delivery import Delivering
from espace_sante.storage.schema import OutboundMessage
from fixtures.mssante import clinician_message
from fixtures.seed import CARDIO, DOCTOR, Seeded, seed_trust_space
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_login_browser import sms_code
from web.conftest import PASSWORD, activate

pytestmark = pytest.mark.browser

HOSTILE = (
    "<p>Bonjour,</p><script>document.title='pwned'</script>"
    '<img src="https://tracker.example.com/pixel.gif" alt="">'
    '<p onclick="alert(1)">Voir <a href="javascript:alert(2)">ici</a> et '
    '<a href="https://www.has-sante.fr/">la HAS</a></p>'
)


async def _deliver(server: LiveServer, seeded: Seeded, raw: bytes) -> None:
    assert server.storage is not None
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    await Delivering(server.storage).deliver(
        raw=raw,
        parsed=parsed,  # type: ignore[arg-type]
        envelope_sender=parsed["From"].addresses[0].addr_spec,
        recipients=[seeded.active],
        received_at=datetime.now(UTC),
    )


async def _queued(server: LiveServer, kind: str) -> list[OutboundMessage]:
    assert server.storage is not None
    async with server.storage.sessions() as s:
        query = select(OutboundMessage).where(OutboundMessage.kind == kind)
        return list((await s.execute(query)).scalars())


@pytest.fixture
def mail_page(browser: Any, live_server_with_imap: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server_with_imap.url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    executed: list[str] = []
    page.on("dialog", lambda d: (executed.append(d.message), d.dismiss()))
    page.executed = executed  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def _log_in(page: Any, server: LiveServer, seeded: Seeded) -> None:
    assert server.storage is not None
    server.call(activate(server.storage, seeded.active.account_id, server.clock()))
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(seeded.active.ins)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    page.get_by_label("Code reçu").fill(sms_code(server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url("**/accueil")
    page.goto("/mail/")


def test_read_mail_and_see_a_closed_conversation(
    mail_page: Any, live_server_with_imap: LiveServer
) -> None:
    server, page = live_server_with_imap, mail_page
    assert server.storage is not None
    seeded = server.call(seed_trust_space(server.storage))
    html_message = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins, subject="Résultats d'analyse",
        with_xdm=False,
    )  # fmt: skip
    parsed = email.message_from_bytes(html_message, policy=email.policy.default)
    body = parsed.get_body(("plain",))
    assert body is not None
    body.add_alternative(HOSTILE, subtype="html")
    server.call(_deliver(server, seeded, parsed.as_bytes()))
    closing = clinician_message(
        sender=CARDIO, patient_ins=seeded.active.ins, subject="Fin du suivi [FIN]",
        with_xdm=False, with_pdf=False,
    )  # fmt: skip
    server.call(_deliver(server, seeded, closing))

    _log_in(page, server, seeded)
    assert_accessible(page)
    conversations = page.get_by_role("main").inner_text()
    assert DOCTOR in conversations or "DUPONT" in conversations
    assert re.search(r"[Cc]lôtur", conversations)  # the cardiologist's conversation is closed

    page.get_by_role("link", name=re.compile("Résultats d'analyse")).first.click()
    page.wait_for_url(re.compile(r".*/mail/dossiers/.+/\d+$"))
    assert_accessible(page)
    shown = page.get_by_role("main").inner_text()
    assert "la HAS" in shown and "https://www.has-sante.fr/" in shown
    assert "compte-rendu.pdf" in shown
    assert "aussi classé dans vos documents de santé" in shown
    # the attachment downloads, byte for byte, through our IMAP server
    pdf = next(p for p in parsed.iter_attachments() if p.get_filename() == "compte-rendu.pdf")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger compte-rendu.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "compte-rendu.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == pdf.get_content()
    page.wait_for_timeout(300)
    assert page.executed == []  # type: ignore[attr-defined]
    assert page.title() != "pwned"
    content = page.content()
    assert "<script" not in content.split("<main", 1)[1]
    assert "tracker.example.com" not in content and "javascript:" not in content
    assert page.get_by_role("button", name=re.compile("Envoyer")).count() == 1  # may reply

    # the reply goes through our submission server into the outbound queue, with a Sent copy
    page.get_by_label("Votre message").fill("Merci docteur, je prends rendez-vous.")
    page.get_by_role("button", name="Envoyer la réponse").click()
    page.wait_for_url(re.compile(r".*envoye=1$"))
    assert "Votre réponse a été envoyée" in page.get_by_role("main").inner_text()
    assert_accessible(page)
    (reply,) = server.call(_queued(server, "reply"))
    assert reply.rcpt_to == DOCTOR and reply.mail_from == seeded.active.address
    sent = email.message_from_bytes(reply.raw, policy=email.policy.default)
    assert sent["From"].addresses[0].addr_spec == seeded.active.address
    assert sent["Subject"].startswith("Re: Résultats d'analyse")
    assert sent["In-Reply-To"] == parsed["Message-ID"]
    assert "je prends rendez-vous" in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page.goto("/mail/dossiers/Sent")
    assert "Re: Résultats d'analyse" in page.get_by_role("main").inner_text()

    page.goto("/mail/")
    page.get_by_role("link", name=re.compile("Fin du suivi")).first.click()
    page.wait_for_url(re.compile(r".*/mail/dossiers/.+/\d+$"))
    assert_accessible(page)
    assert "clôturé cet échange" in page.get_by_role("main").inner_text()
    assert page.get_by_role("button", name=re.compile("Envoyer")).count() == 0
