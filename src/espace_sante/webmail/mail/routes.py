"""The mail pages, mounted by the web shell at ``/mail`` (``webmail.SECTION``).

Every request arrives authenticated: ``request.state.account`` (account_id, address,
display_name) and ``request.state.csrf_token`` are set by the shell, which also checks the CSRF
token of every POST. These handlers read the mailbox through :mod:`.imap_client` and send through
:mod:`.submission`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from espace_sante.accounts.conversation_list import ConversationSummary, list_conversations
from espace_sante.accounts.conversations import may_write
from espace_sante.config import Settings
from espace_sante.webmail.mail.compose import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    ComposeError,
    build_reply,
    draft_for,
)
from espace_sante.webmail.mail.download import download_headers, safe_content_type
from espace_sante.webmail.mail.imap_client import (
    FOLDERS,
    MOVE_TARGETS,
    BadQuery,
    MailboxUnavailable,
    MessageNotFound,
    MessageSummary,
    PartNotFound,
    imap_quote,
    open_mailbox,
    search_criteria,
)
from espace_sante.webmail.mail.message_view import MessageView, build_view, human_size
from espace_sante.webmail.mail.rendering import french_date, render
from espace_sante.webmail.mail.submission import SubmissionFailed, submit

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
#: A reply form is a subject and a text: anything much larger than their limits is refused
#: before it is parsed.
MAX_FORM_BYTES = 4 * (MAX_BODY_CHARS + MAX_SUBJECT_CHARS) + 4096
#: Professions a patient may write to first when the configuration says nothing (21: pharmacien).
DEFAULT_PATIENT_INITIATED = frozenset({"21"})


class MailAccount(Protocol):
    """What the pages need of ``request.state.account`` (the shell's ``WebAccount``)."""

    @property
    def account_id(self) -> int: ...
    @property
    def address(self) -> str: ...
    @property
    def display_name(self) -> str: ...


# -- helpers ------------------------------------------------------------------------------------


def _account(request: Request) -> MailAccount:
    account: MailAccount = request.state.account
    return account


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def patient_initiated_professions(settings: Settings) -> frozenset[str]:
    """Profession codes a patient may write to first (configured in ``[mssante]`` or
    ``[submission]``, else pharmacists)."""
    for section in (getattr(settings, "submission", None), settings.mssante):
        value = getattr(section, "patient_initiated_professions", None)
        if isinstance(value, str):
            return frozenset(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(str(v) for v in value)
    return DEFAULT_PATIENT_INITIATED


def _folder(request: Request) -> str | None:
    folder = str(request.path_params.get("folder", ""))
    return folder if folder in FOLDERS else None


#: UIDs are non-zero 32-bit numbers (RFC 9051 §9, nz-number): any other number names no message
#: (and the server would refuse it as a malformed command).
MAX_UID = 2**32 - 1
NO_SUCH_MESSAGE = "Ce message n'existe pas ou a été déplacé."


def _uid(request: Request) -> int | None:
    uid = int(request.path_params["uid"])
    return uid if 0 < uid <= MAX_UID else None


def _css(request: Request) -> str:
    try:
        return str(request.url_for("static", path="mail.css").path)
    except Exception:  # no route named "static" (the shell mounts it)
        return "/static/mail.css"


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    return render(
        request,
        name,
        status_code=status_code,
        mail_css=_css(request),
        folders=FOLDERS,
        **context,
    )


def _error(request: Request, message: str, status_code: int) -> Response:
    return _page(request, "mail/error.html", status_code=status_code, message=message)


def _row(m: MessageSummary, folder: str) -> dict[str, Any]:
    return {
        "uid": m.uid,
        "href": f"/mail/dossiers/{folder}/{m.uid}",
        "sender": m.sender_name or m.sender_address or "(expéditeur inconnu)",
        "sender_address": m.sender_address,
        "to": m.to,
        "subject": m.subject or "(sans objet)",
        "date": french_date(m.date),
        "date_iso": m.date.isoformat() if m.date else "",
        "seen": m.seen,
        "answered": m.answered,
        "size": human_size(m.size),
        "has_attachments": m.has_attachments,
    }


# -- conversations ------------------------------------------------------------------------------


async def conversations_page(request: Request) -> Response:
    """Conversations grouped by clinician: state, latest message, unread count."""
    account = _account(request)
    storage = request.app.state.storage
    async with storage.sessions() as session:
        conversations = await list_conversations(session, account.account_id)
    cards = []
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            for conv in conversations:
                sender = ["FROM", imap_quote(conv.professional_address)]
                uids = await box.sorted_uids("INBOX", sender)
                unread = await box.count("INBOX", ["UNSEEN", *sender])
                latest = (await box.summaries("INBOX", uids[:1]))[:1]
                cards.append(_card(conv, uids, unread, latest[0] if latest else None))
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    return _page(request, "mail/conversations.html", conversations=cards)


def _card(
    conv: ConversationSummary, uids: list[int], unread: int, latest: MessageSummary | None
) -> dict[str, Any]:
    return {
        "name": conv.display_name,
        "address": conv.professional_address,
        "profession": conv.profession_label,
        "specialty": conv.specialty_label,
        "organisation": conv.organisation,
        "open": conv.state == "open",
        "closed_on": french_date(conv.closed_at, with_time=False),
        "count": len(uids),
        "unread": unread,
        "latest": _row(latest, "INBOX") if latest else None,
        "list_href": "/mail/dossiers/INBOX?"
        + urlencode({"champ": "de", "q": conv.professional_address}),
    }


# -- folders and lists --------------------------------------------------------------------------


async def folders_page(request: Request) -> Response:
    account = _account(request)
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            statuses = await box.folders()
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    return _page(request, "mail/folders.html", statuses=statuses)


async def folder_page(request: Request) -> Response:
    """A page of a folder's messages, newest first, optionally filtered by a search."""
    folder = _folder(request)
    if folder is None:
        return _error(request, "Ce dossier n'existe pas.", 404)
    account = _account(request)
    query = request.query_params.get("q", "")
    field = request.query_params.get("champ", "tout")
    try:
        page_number = int(request.query_params.get("page", "1"))
    except ValueError:
        page_number = 1
    page_size = int(getattr(request.app.state, "mail_page_size", DEFAULT_PAGE_SIZE))
    search_error = ""
    criteria: list[str] | None = None
    if query.strip():
        try:
            criteria = search_criteria(query, field)
        except BadQuery as exc:
            search_error = str(exc)
    if search_error:
        return _page(
            request, "mail/list.html", status_code=400, folder=folder, label=FOLDERS[folder],
            rows=[], page=None, query=query[:200], field=field, search_error=search_error,
            notice="",
        )  # fmt: skip
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            page = await box.page(folder, page_number, page_size, criteria)
    except BadQuery as exc:
        return _page(
            request, "mail/list.html", status_code=400, folder=folder, label=FOLDERS[folder],
            rows=[], page=None, query=query, field=field, search_error=str(exc), notice="",
        )  # fmt: skip
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)

    def link(n: int) -> str:
        params = {"page": str(n)}
        if criteria:
            params.update({"q": query, "champ": field})
        return f"/mail/dossiers/{folder}?{urlencode(params)}"

    notice = "Le message a été déplacé." if request.query_params.get("deplace") else ""
    return _page(
        request,
        "mail/list.html",
        folder=folder,
        label=FOLDERS[folder],
        rows=[_row(m, folder) for m in page.messages],
        page=page,
        previous_href=link(page.page - 1) if page.page > 1 else "",
        next_href=link(page.page + 1) if page.page < page.pages else "",
        query=query if criteria else "",
        field=field,
        search_error="",
        notice=notice,
    )


# -- one message --------------------------------------------------------------------------------


@dataclass
class ReplyState:
    """Whether and how the page offers a reply."""

    offered: bool
    closed: bool = False
    closed_on: str = ""
    reason: str = ""
    to: str = ""
    subject: str = ""


async def _reply_state(
    request: Request, folder: str, view: MessageView, original: EmailMessage
) -> ReplyState:
    if folder == "Sent" or folder == "Drafts" or not view.sender_address:
        return ReplyState(offered=False)
    account = _account(request)
    try:
        draft = draft_for(original)
    except ComposeError as exc:
        return ReplyState(offered=False, reason=str(exc))
    storage = request.app.state.storage
    async with storage.sessions() as session:
        verdict = await may_write(
            session,
            account.account_id,
            draft.to,
            patient_initiated_professions(_settings(request)),
        )
        conversations = await list_conversations(session, account.account_id)
    conv = next(
        (
            c
            for c in conversations
            if c.professional_address == view.sender_address
            or (c.reply_to and c.reply_to == draft.to)
        ),
        None,
    )
    if verdict.accepted:
        return ReplyState(offered=True, to=draft.to, subject=draft.subject)
    if conv is not None and conv.state == "closed":
        return ReplyState(
            offered=False,
            closed=True,
            closed_on=french_date(conv.closed_at, with_time=False),
        )
    return ReplyState(
        offered=False,
        reason="Vous ne pouvez pas répondre à ce message : seul un professionnel de santé qui "
        "vous a écrit peut recevoir votre réponse.",
    )


async def _show_message(
    request: Request,
    folder: str,
    uid: int,
    *,
    status_code: int = 200,
    reply_error: str = "",
    typed_subject: str | None = None,
    typed_body: str = "",
) -> Response:
    account = _account(request)
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            fetched = await box.fetch_message(folder, uid)
    except MessageNotFound as exc:
        return _error(request, str(exc), 404)
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    view = build_view(fetched.parsed)
    reply = await _reply_state(request, folder, view, fetched.parsed)
    if typed_subject is not None:
        reply.subject = typed_subject
    notice = "Votre réponse a été envoyée." if request.query_params.get("envoye") else ""
    return _page(
        request,
        "mail/message.html",
        status_code=status_code,
        folder=folder,
        label=FOLDERS[folder],
        uid=uid,
        view=view,
        date=french_date(view.date),
        attachments=[
            {
                "name": a.name,
                "type": a.content_type,
                "size": human_size(a.size),
                "href": f"/mail/dossiers/{folder}/{uid}/pieces-jointes/{a.section}",
            }
            for a in view.attachments
        ],
        answered="\\answered" in fetched.flags,
        reply=reply,
        reply_error=reply_error,
        typed_body=typed_body,
        max_body=MAX_BODY_CHARS,
        max_subject=MAX_SUBJECT_CHARS,
        move_targets=[(t, FOLDERS[t]) for t in MOVE_TARGETS if t != folder],
        notice=notice,
        documents_href="/documents/du-message?" + urlencode({"mid": view.message_id})
        if view.message_id
        else "",
    )


async def message_page(request: Request) -> Response:
    folder = _folder(request)
    if folder is None:
        return _error(request, "Ce dossier n'existe pas.", 404)
    uid = _uid(request)
    if uid is None:
        return _error(request, NO_SUCH_MESSAGE, 404)
    return await _show_message(request, folder, uid)


#: Longest Message-ID looked up by ``/mail/message`` (the header's own limit).
MAX_MESSAGE_ID = 998


async def message_by_id(request: Request) -> Response:
    """``GET /mail/message?mid=<Message-ID>``: the inbox's message with that Message-ID (the
    record pages link a document to the message it came with), or 404."""
    mid = request.query_params.get("mid", "").strip()
    if not 0 < len(mid) <= MAX_MESSAGE_ID or any(not 32 < ord(c) < 127 for c in mid):
        return _error(request, "Ce message est introuvable.", 404)
    account = _account(request)
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            uid = await box.uid_of_message_id("INBOX", mid)
    except BadQuery:
        return _error(request, "Ce message est introuvable.", 404)
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    if uid is None:
        return _error(request, "Ce message est introuvable.", 404)
    return RedirectResponse(f"/mail/dossiers/INBOX/{uid}", status_code=303)


async def download_part(request: Request) -> Response:
    """An attachment, fetched through IMAP, served to be saved (never shown in our origin)."""
    folder = _folder(request)
    if folder is None:
        return _error(request, "Ce dossier n'existe pas.", 404)
    account = _account(request)
    uid = _uid(request)
    if uid is None:
        return _error(request, NO_SUCH_MESSAGE, 404)
    section = str(request.path_params["section"])
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            part = await box.fetch_part(folder, uid, section)
    except PartNotFound as exc:
        return _error(request, str(exc), 404)
    except MessageNotFound as exc:
        return _error(request, str(exc), 404)
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    log.info("webmail: account %s downloaded part %s of %s/%s",
             account.account_id, section, folder, uid)  # fmt: skip
    return Response(
        part.data,
        media_type=safe_content_type(part.content_type),
        headers=download_headers(part.filename),
    )


async def move_message(request: Request) -> Response:
    """POST: move one message to Trash, Archive or back to the inbox."""
    folder = _folder(request)
    if folder is None:
        return _error(request, "Ce dossier n'existe pas.", 404)
    if _too_large(request):
        return _error(request, "La demande est trop volumineuse.", 413)
    form = await request.form()
    target = str(form.get("vers", ""))
    if target not in MOVE_TARGETS or target == folder:
        return _error(request, "Ce déplacement n'est pas possible.", 400)
    account = _account(request)
    uid = _uid(request)
    if uid is None:
        return _error(request, NO_SUCH_MESSAGE, 404)
    try:
        async with open_mailbox(_settings(request), account.account_id, account.address) as box:
            await box.move(folder, uid, target)
    except MessageNotFound as exc:
        return _error(request, str(exc), 404)
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    return RedirectResponse(f"/mail/dossiers/{folder}?deplace=1", status_code=303)


def _too_large(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) > MAX_FORM_BYTES


async def reply_to_message(request: Request) -> Response:
    """POST: send the patient's reply through submission, if the patient may write."""
    folder = _folder(request)
    if folder is None:
        return _error(request, "Ce dossier n'existe pas.", 404)
    uid = _uid(request)
    if uid is None:
        return _error(request, NO_SUCH_MESSAGE, 404)
    if _too_large(request):
        return _error(
            request,
            f"Votre message est trop long (au plus {MAX_BODY_CHARS} caractères). "
            "Il n'a pas été envoyé.",
            413,
        )
    form = await request.form()
    subject = form.get("objet", "")
    body = form.get("message", "")
    if not isinstance(subject, str) or not isinstance(body, str):
        return _error(request, "Les pièces jointes ne sont pas acceptées ici.", 400)
    account = _account(request)
    settings = _settings(request)
    try:
        async with open_mailbox(settings, account.account_id, account.address) as box:
            original = await box.headers_of(folder, uid)
    except MessageNotFound as exc:
        return _error(request, str(exc), 404)
    except MailboxUnavailable as exc:
        return _error(request, str(exc), 503)
    view = build_view(original)
    state = await _reply_state(request, folder, view, original)
    if not state.offered:
        message = (
            "Le professionnel a clôturé cet échange : vous ne pouvez plus lui répondre."
            if state.closed
            else state.reason or "Vous ne pouvez pas répondre à ce message."
        )
        return _error(request, message, 403)
    try:
        reply = build_reply(
            from_address=account.address,
            from_name=account.display_name,
            original=original,
            subject=subject,
            body=body,
        )
    except ComposeError as exc:
        return await _show_message(
            request, folder, uid, status_code=400, reply_error=str(exc),
            typed_subject=subject[:MAX_SUBJECT_CHARS], typed_body=body[:MAX_BODY_CHARS],
        )  # fmt: skip
    try:
        await submit(settings, account.account_id, account.address, reply, [state.to])
    except SubmissionFailed as exc:
        return await _show_message(
            request, folder, uid, status_code=502, reply_error=str(exc),
            typed_subject=subject, typed_body=body,
        )  # fmt: skip
    log.info("webmail: account %s replied to %s", account.account_id, state.to)
    try:
        async with open_mailbox(settings, account.account_id, account.address) as box:
            await box.add_flag(folder, uid, "\\Answered")
    except MailboxUnavailable:
        log.warning("webmail: reply sent but \\Answered not set on %s/%s", folder, uid)
    return RedirectResponse(f"/mail/dossiers/{folder}/{uid}?envoye=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/", conversations_page, name="mail:conversations"),
    Route("/dossiers", folders_page, name="mail:folders"),
    Route("/message", message_by_id, name="mail:message_by_id"),
    Route("/dossiers/{folder}", folder_page, name="mail:folder"),
    Route("/dossiers/{folder}/{uid:int}", message_page, name="mail:message"),
    Route(
        "/dossiers/{folder}/{uid:int}/pieces-jointes/{section}",
        download_part,
        name="mail:attachment",
    ),
    Route(
        "/dossiers/{folder}/{uid:int}/deplacer",
        move_message,
        methods=["POST"],
        name="mail:move",
    ),
    Route(
        "/dossiers/{folder}/{uid:int}/repondre",
        reply_to_message,
        methods=["POST"],
        name="mail:reply",
    ),
]
