"""The mail pages' card on the home page: unread messages in the inbox, the latest few."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request

from espace_sante.config import Settings
from espace_sante.web.templating import render_fragment
from espace_sante.webmail.mail.imap_client import MailboxUnavailable, open_mailbox
from espace_sante.webmail.mail.rendering import french_date

#: How many unread messages the card lists.
LATEST = 3


async def mail_home_card(request: Request) -> Markup:
    account = request.state.account
    settings: Settings = request.app.state.settings
    unread: list[dict[str, str]] = []
    count = 0
    available = True
    try:
        async with open_mailbox(settings, account.account_id, account.address) as box:
            uids = await box.sorted_uids("INBOX", ["UNSEEN"])
            count = len(uids)
            for m in await box.summaries("INBOX", uids[:LATEST]):
                unread.append(
                    {
                        "href": f"/mail/dossiers/INBOX/{m.uid}",
                        "sender": m.sender_name or m.sender_address or "(expéditeur inconnu)",
                        "subject": m.subject or "(sans objet)",
                        "date": french_date(m.date),
                    }
                )
    except MailboxUnavailable:
        available = False
    return render_fragment(
        request, "mail/_home_card.html", unread=unread, count=count, available=available
    )
