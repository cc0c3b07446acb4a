"""The activity history (« Historique d'activité »): every access and action on the space.

Read from the audit chain of the space's account (``audit.read_entries``), newest first, 50 a
page, filtered by kind (``audit.activity.KINDS``) and period (du/au, whole days in
Europe/Paris); the chain's verification (``audit.verify_account``) shown at the top; the
filtered history downloadable as CSV (``audit.export.activity_csv``).

The history is told from the space holder's point of view (``audit.activity.describe``). The page
looks up, once per page (or per batch of the CSV), the names of the professionals the entries
mention (``accounts.professionals.people_by_national_id``) and whether the viewer may still see
each document an entry names: ``records.access.get_document(..., operation=LIST)`` for the
caller, once per distinct document id (unaudited for the patient and guardians).

The rule for documents the viewer may not see (a result hidden from the patient until it is
announced, a document hidden from legal representatives): the entry stays — its date and its
group, so the trace of the access is still there — but its sentence becomes « Activité sur un
document non consultable », its actor « Non communiqué », and no link. One exception keeps
a deleted upload's history readable: the patient themselves (not a guardian) seeing an entry
about a document that no longer exists keeps the sentence, without a link — only the patient's
or their guardian's own uploads can be deleted, and a patient's upload is never hidden from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from espace_sante import audit
from espace_sante.accounts.professionals import people_by_national_id
from espace_sante.audit.activity import (
    KIND_LABELS,
    KINDS,
    ActivityItem,
    describe,
    mentions,
    professional_label,
    undisclosed,
)
from espace_sante.audit.export import activity_csv
from espace_sante.policy.record_access import Operation
from espace_sante.portal.actors import caller_for, space_of
from espace_sante.records.access import Caller, get_document
from espace_sante.web.templating import render

PARIS = ZoneInfo("Europe/Paris")
PER_PAGE = 50
#: Entries read per query when building the CSV (``audit.history.MAX_LIMIT``).
CSV_BATCH = 500
#: The most entries one CSV file holds.
CSV_MAX = 20_000
#: The period's bounds the form accepts.
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_PAGE = 100_000
CSV_FILENAME = "historique-espace-sante.csv"


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    def query(self, *, page: int | None = None) -> str:
        """The query string of these filters (on ``page``)."""
        params: dict[str, str] = {}
        if self.kind:
            params["type"] = self.kind
        if self.since:
            params["du"] = self.since.isoformat()
        if self.until:
            params["au"] = self.until.isoformat()
        number = self.page if page is None else page
        if number > 1:
            params["page"] = str(number)
        return urlencode(params)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """``since`` inclusive from midnight in Paris, ``until`` inclusive to the day's end."""
        since = datetime.combine(self.since, time(0), tzinfo=PARIS) if self.since else None
        until = (
            datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=PARIS)
            if self.until
            else None
        )
        return since, until


def _date(raw: str, label: str, errors: list[str]) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    value = None
    try:
        if len(raw) == 10 and raw[2:3] == "/" and raw[5:6] == "/":  # jj/mm/aaaa typed by hand
            value = date(int(raw[6:]), int(raw[3:5]), int(raw[:2]))
        elif len(raw) == 10:
            value = date.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None:
        errors.append(f"La date « {label} » n'est pas valide : indiquez-la au format jj/mm/aaaa.")
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        errors.append(f"La date « {label} » doit être comprise entre {FIRST_YEAR} et {LAST_YEAR}.")
        return None
    return value


def parse_filters(params: Any) -> tuple[Filters, list[str]]:
    """The filters of the query string, and the French messages about bad values (which are
    then left out: a bad filter never fails the page)."""
    errors: list[str] = []
    kind = str(params.get("type", "") or "").strip()
    if kind and kind not in KIND_LABELS:
        errors.append("Ce type d'activité n'existe pas : toutes les activités sont affichées.")
        kind = ""
    since = _date(str(params.get("du", "") or ""), "du", errors)
    until = _date(str(params.get("au", "") or ""), "au", errors)
    if since and until and since > until:
        errors.append("La date de début de la période est postérieure à sa date de fin.")
        since = until = None
    raw_page = str(params.get("page", "") or "").strip()
    page = 1
    if raw_page:
        if raw_page.isdigit() and len(raw_page) <= 6 and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            errors.append("Ce numéro de page n'existe pas : la première page est affichée.")
    return Filters(kind, since, until, page), errors


class Describer:
    """Turns a space's entries into history lines for one viewer, with the look-ups done once
    per distinct professional and document."""

    def __init__(self, request: Request, db: AsyncSession) -> None:
        self.db = db
        self.space = space_of(request)
        self.caller: Caller = caller_for(request)
        self.now: datetime = request.app.state.clock()
        self.patient_domain = request.app.state.settings.mssante.patient_domain
        self.names: dict[str, str] = {}
        self.looked_up: set[str] = set()
        #: document id → its title when the viewer may see it, "" when it is gone, None when
        #: it must not be shown.
        self.documents: dict[int, str | None] = {}

    async def _names(self, entries: Sequence[Any]) -> None:
        wanted = {pid for e in entries for pid in mentions(e).professional_ids} - self.looked_up
        if not wanted:
            return
        self.looked_up |= wanted
        for pid, person in (await people_by_national_id(self.db, wanted)).items():
            label = professional_label(
                person.family_name, person.given_name, person.profession_code,
                person.profession_label,
            )  # fmt: skip
            if label:
                self.names[pid] = label

    async def _document(self, document_id: int) -> str | None:
        if document_id not in self.documents:
            outcome = await get_document(
                self.db, self.caller, self.space.account_id, document_id,
                operation=Operation.LIST, now=self.now,
            )  # fmt: skip
            if outcome.allowed and outcome.document is not None:
                self.documents[document_id] = outcome.document.title or "(sans titre)"
            elif outcome.decision.reason == "not_found" and self.space.guardian is None:
                self.documents[document_id] = ""  # a deleted upload of the patient's
            else:
                self.documents[document_id] = None
        return self.documents[document_id]

    async def lines(self, entries: Sequence[Any]) -> list[tuple[ActivityItem, str]]:
        """Each entry's line and, when it links a document, that document's title."""
        await self._names(entries)
        out: list[tuple[ActivityItem, str]] = []
        for entry in entries:
            item = describe(
                entry, holder_address=self.space.address, patient_domain=self.patient_domain,
                professionals=self.names,
            )  # fmt: skip
            title = ""
            if item.document_id is not None:
                found = await self._document(item.document_id)
                if found is None:
                    item = undisclosed(item)
                elif found:
                    title = found
                else:
                    item = replace(item, document_id=None)
            out.append((item, title))
        return out


def _when(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def _kinds(filters: Filters) -> list[str] | None:
    return [filters.kind] if filters.kind else None


async def history_page(request: Request) -> Response:
    filters, errors = parse_filters(request.query_params)
    space = space_of(request)
    since, until = filters.bounds()
    storage = request.app.state.storage
    async with storage.sessions() as db:
        status = await audit.verify_account(db, space.account_id)
        entries, total = await audit.read_entries(
            db, space.account_id, kinds=_kinds(filters), since=since, until=until,
            limit=PER_PAGE, offset=(filters.page - 1) * PER_PAGE,
        )  # fmt: skip
        lines = await Describer(request, db).lines(entries)
    pages = max(1, -(-total // PER_PAGE))
    rows = [
        {
            "when": _when(item.at),
            "iso": item.at.astimezone(PARIS).isoformat(timespec="seconds"),
            "kind": item.kind_label_fr,
            "actor": item.actor_label_fr,
            "text": item.text_fr,
            "document_href": f"/documents/{item.document_id}" if item.document_id else "",
            "document_title": title,
            "altered": status.first_bad_seq is not None and item.seq == status.first_bad_seq,
        }
        for item, title in lines
    ]
    return render(
        request,
        "historique/historique.html",
        rows=rows,
        total=total,
        page=filters.page,
        pages=pages,
        previous_query=filters.query(page=filters.page - 1) if filters.page > 1 else None,
        next_query=filters.query(page=filters.page + 1) if filters.page < pages else None,
        csv_query=filters.query(page=1),
        filters=filters,
        kinds=KINDS,
        errors=errors,
        status=status,
        guardian=space.guardian is not None,
    )


async def _all_lines(request: Request, filters: Filters) -> Iterable[ActivityItem]:
    space = space_of(request)
    since, until = filters.bounds()
    storage = request.app.state.storage
    items: list[ActivityItem] = []
    async with storage.sessions() as db:
        describer = Describer(request, db)
        offset = 0
        while offset < CSV_MAX:
            entries, total = await audit.read_entries(
                db, space.account_id, kinds=_kinds(filters), since=since, until=until,
                limit=CSV_BATCH, offset=offset,
            )  # fmt: skip
            for item, title in await describer.lines(entries):
                if title:  # the file names the document the page links
                    item = replace(item, text_fr=f"{item.text_fr} (document « {title} »)")
                items.append(item)
            offset += CSV_BATCH
            if not entries or offset >= total:
                break
    return items


async def history_csv(request: Request) -> Response:
    filters, _errors = parse_filters(request.query_params)  # bad values are left out, as above
    text = activity_csv(await _all_lines(request, filters))
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{CSV_FILENAME}"'},
    )


routes = [
    Route("/historique", history_page, methods=["GET"]),
    Route("/historique.csv", history_csv, methods=["GET"]),
]
