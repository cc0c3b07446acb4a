"""A message address whose UID is out of IMAP's range (RFC 9051 §9: nz-number, 1 to 2^32 - 1)
shows the mail pages' 404, like any message that does not exist, never a 503."""

from __future__ import annotations

import pytest

from .conftest import Filled, Web

OUT_OF_RANGE = ["99999999999999999999", "4294967296", "0"]


@pytest.mark.parametrize("uid", [*OUT_OF_RANGE, "4294967295"])
async def test_the_message_page_of_an_out_of_range_uid_is_404(
    web: Web, filled: Filled, uid: str
) -> None:
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert r.status_code == 404
    assert "Ce message n&#39;existe pas ou a été déplacé." in r.text


@pytest.mark.parametrize("uid", OUT_OF_RANGE)
async def test_the_other_message_pages_of_an_out_of_range_uid_are_404(
    web: Web, filled: Filled, uid: str
) -> None:
    part = await web.client.get(f"/mail/dossiers/INBOX/{uid}/pieces-jointes/2")
    move = await web.client.post(f"/mail/dossiers/INBOX/{uid}/deplacer", data={"vers": "Trash"})
    reply = await web.client.post(
        f"/mail/dossiers/INBOX/{uid}/repondre", data={"objet": "Re", "corps": "Merci"}
    )
    assert [part.status_code, move.status_code, reply.status_code] == [404, 404, 404]
