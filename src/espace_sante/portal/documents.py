"""The patient's documents pages: the list, a document's page, its content and download, and
the documents that came with a message.

Every read goes through the record's API for the request's caller (``portal.actors``): the list
through ``records.documents.list_documents``, a document through ``records.access`` (content
reads inside a write transaction: they are audited). A document the caller may not see and one
that does not exist get the same 404 page. The changes (upload, mask, delete, replace, archive)
are in ``portal.documents_forms``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from espace_sante.policy.record_access import Operation
from espace_sante.portal.actors import caller_for, space_of
from espace_sante.portal.documents_view import (
    PAGE_SIZE,
    content_headers,
    decode_text,
    details,
    download_headers,
    parse_filters,
    parse_id,
    rendering_kind,
    summary,
)
from espace_sante.records.access import get_document, read_content
from espace_sante.records.cda_render import CdaRenderError, looks_like_cda, render_cda
from espace_sante.records.codes import CATEGORIES
from espace_sante.records.documents import (
    MAX_LIMIT,
    DocumentQuery,
    list_documents,
    version_chain,
)
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.web.security import CONTENT_SECURITY_POLICY, error_response
from espace_sante.web.templating import render

#: The CSP of a page that frames a PDF of ours.
FRAMING_CSP = CONTENT_SECURITY_POLICY + "; frame-src 'self'"
#: Longest Message-ID accepted in ``/documents/du-message``.
MAX_MESSAGE_ID = 998

NOTICES = {
    "ajoute": "Votre document a été ajouté à vos documents de santé.",
    "remplace": "La nouvelle version du document a été enregistrée.",
    "masque": "Le document est désormais masqué aux professionnels de santé.",
    "demasque": "Le document est de nouveau visible des professionnels de santé autorisés.",
    "archive": "Le document a été archivé.",
    "desarchive": "Le document n'est plus archivé.",
    "supprime": "Le document a été supprimé.",
}


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def not_found(request: Request) -> Response:
    return error_response(request, 404)


def notice_of(request: Request) -> str:
    return NOTICES.get(request.query_params.get("fait", ""), "")


async def documents_page(request: Request) -> Response:
    """``GET /documents``: the list, with its filters and pages."""
    space = space_of(request)
    caller = caller_for(request)
    filters = parse_filters(request.query_params)
    async with storage_of(request).sessions() as db:
        page = await list_documents(
            db, caller, space.account_id, filters.query(), now=now_of(request)
        )
    person = space.person.account_id
    pages = max(1, -(-page.total // PAGE_SIZE))
    previous_href = next_href = ""
    if filters.page > 1:
        previous_href = "/documents?" + urlencode(filters.params(page=filters.page - 1))
    if filters.page < pages:
        next_href = "/documents?" + urlencode(filters.params(page=filters.page + 1))
    return render(
        request,
        "documents/list.html",
        status_code=400 if filters.errors else 200,
        documents=[summary(row, person) for row in page.documents],
        total=page.total,
        filters=filters,
        categories=CATEGORIES,
        page_number=filters.page,
        pages=pages,
        previous_href=previous_href,
        next_href=next_href,
        archives_href="/documents?" + urlencode(filters.params(archives="", page=1))
        if filters.archived
        else "/documents?" + urlencode(filters.params(archives="1", page=1)),
        filtered=any(
            (filters.category, filters.date_from, filters.date_to, filters.author, filters.search)
        ),
        notice=notice_of(request),
        space=space,
    )


def _document_id(request: Request) -> int | None:
    return parse_id(str(request.path_params.get("id", "")))


async def document_page(request: Request) -> Response:
    """``GET /documents/{id}``: metadata, rendering, versions, links."""
    document_id = _document_id(request)
    if document_id is None:
        return not_found(request)
    return await show_document(request, document_id)


async def show_document(
    request: Request, document_id: int, *, error: str = "", status_code: int = 200
) -> Response:
    """The document page (with ``error``, the French reason an action was refused)."""
    space = space_of(request)
    caller = caller_for(request)
    now = now_of(request)
    storage = storage_of(request)
    rendered: dict[str, Any] = {"kind": "none"}
    # The holder's metadata reads write nothing: a read session, so the page does not queue
    # behind SQLite's single writer. Only a content read (audited) takes a write transaction,
    # and the CDA is rendered after it committed.
    async with storage.sessions() as db:
        outcome = await get_document(
            db, caller, space.account_id, document_id, operation=Operation.METADATA, now=now
        )
        row = outcome.document
        if not outcome.allowed or row is None or row.account_id != space.account_id:
            return not_found(request)
        chain = await version_chain(db, caller, space.account_id, document_id, now=now)
        person = space.person.account_id
        doc = details(row, person)
        older = [summary(r, person) for r in chain.older]
        newer = [summary(r, person) for r in chain.newer]
        kind = rendering_kind(row.mime_type)
        mime_type = row.mime_type
    rendered["kind"] = kind
    if kind in ("text", "maybe_cda"):
        async with transaction(storage.sessions) as db:
            read = await read_content(
                db, storage, caller, space.account_id, document_id,
                operation=Operation.VIEW, now=now,
            )  # fmt: skip
        data = read.content if read.allowed and read.content is not None else b""
        if looks_like_cda(data, mime_type):
            rendered["kind"] = "cda"
            try:
                cda = render_cda(data)
            except CdaRenderError as exc:
                rendered["error"] = exc.message_fr
            else:
                rendered["html"] = cda.html
                rendered["warnings"] = list(cda.warnings)
        elif kind == "text":
            rendered["text"] = decode_text(data)[0]
        else:
            rendered["kind"] = "none"
    headers = {"Content-Security-Policy": FRAMING_CSP} if rendered["kind"] == "pdf" else None
    return render(
        request,
        "documents/document.html",
        status_code=status_code,
        headers=headers,
        doc=doc,
        rendered=rendered,
        older=older,
        newer=newer,
        message_href="/mail/message?" + urlencode({"mid": doc["message_id"]})
        if doc["message_id"]
        else "",
        notice="" if error else notice_of(request),
        error=error,
    )


async def _content(request: Request, operation: Operation) -> Response:
    document_id = _document_id(request)
    if document_id is None:
        return not_found(request)
    space = space_of(request)
    caller = caller_for(request)
    now = now_of(request)
    storage = storage_of(request)
    async with transaction(storage.sessions) as db:
        meta = await get_document(
            db, caller, space.account_id, document_id, operation=Operation.METADATA, now=now
        )
        row = meta.document
        if not meta.allowed or row is None or row.account_id != space.account_id:
            return not_found(request)
        if operation is Operation.VIEW and content_headers(row, b"") is None:
            return not_found(request)  # shown only through the download
        outcome = await read_content(
            db, storage, caller, space.account_id, document_id, operation=operation, now=now
        )
        if not outcome.allowed or outcome.document is None or outcome.content is None:
            return not_found(request)
        row, data = outcome.document, outcome.content
    if operation is Operation.VIEW:
        found = content_headers(row, data)
        assert found is not None
        media, headers = found
    else:
        media, headers = download_headers(row)
    return Response(data, media_type=media, headers=headers)


async def content(request: Request) -> Response:
    """``GET /documents/{id}/contenu``: the bytes shown in the page (passive types only)."""
    return await _content(request, Operation.VIEW)


async def download(request: Request) -> Response:
    """``GET /documents/{id}/telecharger``: the original, as an attachment."""
    return await _content(request, Operation.DOWNLOAD)


async def from_message(request: Request) -> Response:
    """``GET /documents/du-message?mid=…``: the documents deposited from one message."""
    mid = request.query_params.get("mid", "").strip()
    space = space_of(request)
    caller = caller_for(request)
    found = []
    valid = 0 < len(mid) <= MAX_MESSAGE_ID and all(32 < ord(c) < 127 for c in mid)
    if valid:
        async with storage_of(request).sessions() as db:
            page = await list_documents(
                db,
                caller,
                space.account_id,
                DocumentQuery(include_archived=True, message_id=mid, limit=MAX_LIMIT),
                now=now_of(request),
            )
        found = [summary(row, space.person.account_id) for row in page.documents]
    return render(
        request,
        "documents/from_message.html",
        status_code=200 if valid else 400,
        documents=found,
        valid=valid,
        message_href="/mail/message?" + urlencode({"mid": mid}) if valid else "",
    )


def list_routes() -> list[BaseRoute]:
    return [
        Route("/documents", documents_page, methods=["GET"]),
        Route("/documents/du-message", from_message, methods=["GET"]),
        Route("/documents/{id}", document_page, methods=["GET"]),
        Route("/documents/{id}/contenu", content, methods=["GET"]),
        Route("/documents/{id}/telecharger", download, methods=["GET"]),
    ]
