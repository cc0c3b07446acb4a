"""Fixtures of the professionals and emergency pages' tests: the whole site over httpx's ASGI
transport (SQLite: the record's rules are tested on both databases in ``tests/records``), two
activated patients, professionals in the directory and helpers to log in and post forms.

Named ``pro_fixtures`` (not ``conftest``) so that it never clashes with another page's fixtures;
test modules import what they use.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from espace_sante.accounts.patients import PatientRecord
from espace_sante.cli.webapp import create_app
from espace_sante.config import Settings
from espace_sante.policy.record_access import ActorKind
from espace_sante.records.access import Caller
from espace_sante.records.professionals import authorise_professional, set_attending_physician
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Professional
from fixtures.seed import seed_trust_space
from web.conftest import CSRF_RE, PASSWORD, Clock, activate, make_client, web_settings_of

ATTENDING_ID = "810000001001"  # the attending physician (médecin traitant)
CARDIO_ID = "810000001002"  # authorised at a consultation
NURSE_ID = "810000001003"  # authorised by the patient
STRANGER_ID = "810000001004"  # in the directory, never seen the record
EMERGENCY_ID = "810000001005"  # an emergency physician
PEOPLE = (
    (ATTENDING_ID, "10", "TRAITANT", "Louise", "Médecin", "Médecine générale", "Cabinet Voltaire"),
    (CARDIO_ID, "10", "CARDIO", "Marc", "Médecin", "Cardiologie", "CH de démonstration"),
    (NURSE_ID, "60", "SOIGNANTE", "Inès", "Infirmier", "", "Cabinet infirmier du Parc"),
    (STRANGER_ID, "10", "ETRANGER", "Paul", "Médecin", "Psychiatrie", "Clinique du Lac"),
    (EMERGENCY_ID, "10", "URGENTISTE", "Sam", "Médecin", "Médecine d'urgence", "SAMU 75"),
)


@pytest.fixture
def backend() -> str:
    """SQLite only for the pages."""
    return "sqlite"


def pro(pid: str, profession: str = "10", kind: ActorKind = ActorKind.PROFESSIONAL) -> Caller:
    return Caller.professional(pid, profession, kind=kind)


@dataclass
class Site:
    client: httpx.AsyncClient
    settings: Settings
    storage: Storage
    clock: Clock
    patient: PatientRecord
    other: PatientRecord

    @property
    def me(self) -> Caller:
        return Caller.patient(self.patient.account_id, self.patient.address)

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1)

    async def post(self, path: str, data: dict[str, str], *, form_page: str) -> httpx.Response:
        token = await self.csrf(form_page)
        return await self.client.post(path, data={"csrf_token": token, **data})

    async def login(self, record: PatientRecord) -> None:
        """Password then the SMS code; wherever the site lands afterwards."""
        first = await self.post(
            "/connexion", {"identifier": record.ins, "password": PASSWORD}, form_page="/connexion"
        )
        assert first.status_code == 303, first.text
        code = _last_sms_code(self.settings)
        done = await self.post("/connexion/code", {"code": code}, form_page="/connexion/code")
        assert done.status_code == 303, done.text
        assert not done.headers["location"].startswith("/connexion"), done.headers["location"]

    async def logout(self) -> None:
        await self.post("/deconnexion", {}, form_page="/compte")
        self.client.cookies.clear()


def text_of(page: str) -> str:
    """The page's visible text, one space between words."""
    body = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(body).split())


def _last_sms_code(settings: Settings) -> str:
    from espace_sante.accounts.sms import read_sms_file

    messages = read_sms_file(settings.sms_file)
    match = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert match
    return match.group(1)


async def add_people(storage: Storage) -> None:
    now = datetime.now(UTC)
    async with transaction(storage.sessions) as session:
        for pid, code, family, given, label, specialty, organisation in PEOPLE:
            session.add(
                Professional(
                    address=f"{given.lower()}.{family.lower()}@medecin.mssante.fr",
                    mailbox_type="PER",
                    national_id=pid,
                    family_name=family,
                    given_name=given,
                    profession_code=code,
                    profession_label=label,
                    specialty_label=specialty,
                    organisation=organisation,
                    postal_code="75011",
                    city="PARIS",
                    updated_at=now,
                )
            )


async def standing(storage: Storage, record: PatientRecord, now: datetime) -> None:
    """The record of ``record``: an attending physician, one professional authorised at a
    consultation, one by the patient."""
    me = Caller.patient(record.account_id, record.address)
    async with transaction(storage.sessions) as s:
        await set_attending_physician(s, me, record.account_id, ATTENDING_ID, now=now)
        await authorise_professional(s, me, record.account_id, NURSE_ID, now=now)
        await authorise_professional(
            s, pro(CARDIO_ID), record.account_id, CARDIO_ID, via="consultation", now=now
        )


@pytest.fixture
async def site(settings: Settings, storage: Storage, clock: Clock) -> AsyncIterator[Site]:
    web_settings = web_settings_of(settings)
    seeded = await seed_trust_space(storage)
    await add_people(storage)
    for record in (seeded.active, seeded.other):
        await activate(storage, record.account_id, clock.now)
    await standing(storage, seeded.active, clock.now)
    app = create_app(web_settings, storage, clock=clock)
    async with make_client(app) as client:
        yield Site(client, web_settings, storage, clock, seeded.active, seeded.other)


@pytest.fixture
def clock() -> Clock:
    return Clock()
