"""``/urgence``: the record's three emergency consents (Code de la santé publique L1111-17) —
the SAMU's regulating doctor, break-glass by an emergency professional, masked documents shown in
an emergency — each allowed unless the patient objects.

Read and saved through ``records.emergency`` (which checks the caller and audits the change).
The record API does not list past emergency accesses yet: the activity history will show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from espace_sante.policy.record_access import EmergencyConsents
from espace_sante.portal.actors import caller_for, space_of
from espace_sante.portal.professionals import now_of, refused_page, storage_of
from espace_sante.records.emergency import get_consents, set_consents
from espace_sante.storage.engine import transaction
from espace_sante.web.templating import render

ALLOW = "autorise"
OBJECT = "oppose"
VALUES = {ALLOW: True, OBJECT: False}
SAVED = "Vos choix pour l'accès en cas d'urgence sont enregistrés."
INVALID = "Choisissez « J'autorise » ou « Je m'oppose » pour chacune des trois questions."


@dataclass(frozen=True)
class Consent:
    """One question of the page: its form field, the consent's attribute, its French text."""

    field: str
    attribute: str
    legend: str
    explanation: str


CONSENTS = (
    Consent(
        "samu",
        "samu",
        "Le médecin régulateur du SAMU-Centre 15",
        "Lorsque vous appelez le 15 (ou qu'on l'appelle pour vous), le médecin régulateur du "
        "SAMU-Centre 15 peut consulter votre dossier pour décider des secours à vous envoyer.",
    ),
    Consent(
        "bris_de_glace",
        "break_glass",
        "Un professionnel de santé en situation d'urgence (mode bris de glace)",
        "Si vous êtes hors d'état d'exprimer votre volonté et que votre santé est en danger, un "
        "professionnel qui vous soigne en urgence peut ouvrir votre dossier sans votre accord, "
        "pour une durée limitée et en indiquant le motif. Cet accès est enregistré et vous en "
        "êtes averti aussitôt.",
    ),
    Consent(
        "masques",
        "masked_documents",
        "Les documents que vous avez masqués, lors d'un accès en urgence",
        "Lors d'un accès en urgence, les documents que vous avez masqués aux professionnels "
        "peuvent être montrés, pour que l'équipe qui vous soigne dispose de toutes les "
        "informations utiles.",
    ),
)


def _questions(consents: EmergencyConsents | None) -> list[dict[str, Any]]:
    current = consents or EmergencyConsents()
    return [
        {
            "field": c.field,
            "legend": c.legend,
            "explanation": c.explanation,
            "allowed": bool(getattr(current, c.attribute)),
        }
        for c in CONSENTS
    ]


async def emergency_page(request: Request) -> Response:
    space = space_of(request)
    async with storage_of(request).sessions() as session:
        outcome = await get_consents(
            session, caller_for(request), space.account_id, now=now_of(request)
        )
    if not outcome.decision.allowed:
        return refused_page(request, outcome.decision)
    notice = SAVED if request.query_params.get("enregistre") == "1" else None
    return _page(request, _questions(outcome.consents), notice=notice)


def _page(
    request: Request,
    questions: list[dict[str, Any]],
    *,
    status_code: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "urgence/reglages.html",
        status_code=status_code,
        questions=questions,
        space=space_of(request),
        notice=notice,
        error=error,
        allow=ALLOW,
        object=OBJECT,
    )


async def emergency_submit(request: Request) -> Response:
    space = space_of(request)
    caller = caller_for(request)
    now = now_of(request)
    form = await request.form()
    chosen: dict[str, bool] = {}
    for consent in CONSENTS:
        value = form.get(consent.field)
        if isinstance(value, UploadFile) or value not in VALUES:
            break
        chosen[consent.attribute] = VALUES[value]
    if len(chosen) != len(CONSENTS):
        async with storage_of(request).sessions() as session:
            outcome = await get_consents(session, caller, space.account_id, now=now)
        if not outcome.decision.allowed:
            return refused_page(request, outcome.decision)
        return _page(request, _questions(outcome.consents), status_code=400, error=INVALID)
    async with transaction(storage_of(request).sessions) as session:
        saved = await set_consents(session, caller, space.account_id, now=now, **chosen)
    if not saved.decision.allowed:
        return refused_page(request, saved.decision)
    return RedirectResponse("/urgence?enregistre=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/urgence", emergency_page, methods=["GET"]),
    Route("/urgence", emergency_submit, methods=["POST"]),
]

__all__ = ["CONSENTS", "routes"]
