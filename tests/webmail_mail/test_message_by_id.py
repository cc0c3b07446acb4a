"""``/mail/message?mid=``: the record pages' link from a document to the message it came with
(found by ``UID SEARCH HEADER Message-ID`` in the inbox), and the message page's link back to the
documents deposited from it."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import quote_plus

from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import DOCTOR, Web, deliver

MID = "<cr-echo-2026-11@medecin.mssante.fr>"


def _with_pdf(to: str, mid: str) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Dr Jean Dupont <{DOCTOR}>"
    msg["To"] = to
    msg["Subject"] = "Compte rendu d'échographie"
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = mid
    msg.set_content("Bonjour,\nVoici le compte rendu.\n")
    msg.add_attachment(b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf",
                       filename="cr.pdf")  # fmt: skip
    return msg.as_bytes()


async def test_a_message_is_found_by_its_message_id(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    await deliver(storage, seeded, _with_pdf(seeded.active.address, MID))
    found = await web.client.get("/mail/message", params={"mid": MID})
    assert found.status_code == 303
    location = found.headers["location"]
    assert location.startswith("/mail/dossiers/INBOX/")
    page = await web.client.get(location)
    assert page.status_code == 200
    assert "Compte rendu d&#39;échographie" in page.text
    assert f'href="/documents/du-message?mid={quote_plus(MID)}"' in page.text


async def test_unknown_or_bad_message_ids_are_404(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    # another patient's message with that Message-ID is not in this inbox
    await deliver(storage, seeded, _with_pdf(seeded.other.address, MID), patient="other")
    for mid in (MID, "<inconnu@example.org>", "", "x" * 2000, 'a"b\\c', "é@x"):
        response = await web.client.get("/mail/message", params={"mid": mid})
        assert response.status_code == 404, mid
