"""Demo data: a few trust-space domains, professionals and patients, and their first messages.

Everything goes through the real code paths (patient creation, the delivery pipeline), so what a
newcomer sees after ``make run`` is what production would store.
"""

from __future__ import annotations

import email.utils
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy import select

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.accounts.patients import (
    NewPatient,
    PatientRecord,
    create_patient,
    find_patient_by_ins,
)
from espace_sante.accounts.weblogin import complete_activation, issue_activation_code
from espace_sante.cli.context import open_storage
from espace_sante.config import Settings
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.mta.delivery import Delivering
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.policy.record_access import INVISIBLE_PATIENT, Operation
from espace_sante.records.access import Caller, get_document
from espace_sante.records.changes import mask_document
from espace_sante.records.deposit import NewDocument, deposit_document
from espace_sante.records.documents import DocumentQuery, list_documents
from espace_sante.records.professionals import (
    authorise_professional,
    block_professional,
    list_professionals,
    set_attending_physician,
)
from espace_sante.records.upload import Upload, upload_document
from espace_sante.records.upload_types import sniff
from espace_sante.storage.blob_rows import store_blob
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AllowedDomain, Document, Professional

DEMO_DOMAINS = ("medecin.mssante.fr", "pharmacie.mssante.fr", "ch-demo.mssante.fr")

DEMO_PROFESSIONALS = (
    # address, type, national id, family, given, profession code, label, specialty, organisation
    (
        "jean.dupont@medecin.mssante.fr",
        "PER",
        "810000000001",
        "DUPONT",
        "Jean",
        "10",
        "Médecin",
        "Médecine générale",
        "Cabinet du Dr Dupont",
        "75014",
        "PARIS",
    ),
    (
        "claire.martin@ch-demo.mssante.fr",
        "PER",
        "810000000002",
        "MARTIN",
        "Claire",
        "10",
        "Médecin",
        "Cardiologie",
        "Centre hospitalier de démonstration",
        "69003",
        "LYON",
    ),
    (
        "hugo.petit@medecin.mssante.fr",
        "PER",
        "810000000003",
        "PETIT",
        "Hugo",
        "10",
        "Médecin",
        "Médecine du sport",
        "Cabinet du stade",
        "75015",
        "PARIS",
    ),
    (
        "sophie.blanc@ch-demo.mssante.fr",
        "PER",
        "810000000004",
        "BLANC",
        "Sophie",
        "10",
        "Médecin",
        "Biologie médicale",
        "Laboratoire du centre hospitalier de démonstration",
        "69003",
        "LYON",
    ),
    (
        "officine.centrale@pharmacie.mssante.fr",
        "ORG",
        "",
        "",
        "",
        "21",
        "Pharmacien",
        "",
        "Pharmacie centrale",
        "75011",
        "PARIS",
    ),
)


def demo_matricule(prefix13: str) -> str:
    """A matricule with its valid key (97 − n mod 97, Corsica read as 19/18)."""
    digits = prefix13.upper().replace("2A", "19").replace("2B", "18")
    return f"{prefix13}{97 - int(digits) % 97:02d}"


DEMO_PATIENTS = (
    NewPatient(
        demo_matricule("2800175123456"),
        DEMO_NIR_OID,
        "LEGRAND",
        "Marie Louise",
        date(1980, 1, 15),
        "F",
        "75112",
        "marie.legrand@example.org",
    ),
    NewPatient(
        demo_matricule("1750269123123"),
        DEMO_NIR_OID,
        "BERNARD",
        "Paul",
        date(1975, 2, 3),
        "M",
        "69123",
        "paul.bernard@example.org",
    ),
    NewPatient(
        demo_matricule("165062A004012"),
        DEMO_NIR_OID,
        "SANTONI",
        "Ange",
        date(1965, 6, 20),
        "M",
        "2A004",
        None,
    ),
)


async def seed(settings: Settings) -> list[str]:
    """Insert what is missing; return lines describing what there is."""
    lines: list[str] = []
    now = datetime.now(UTC)
    async with open_storage(settings) as storage:
        async with transaction(storage.sessions) as session:
            for domain in DEMO_DOMAINS:
                if await session.get(AllowedDomain, domain) is None:
                    session.add(AllowedDomain(name=domain, imported_at=now))
            for p in DEMO_PROFESSIONALS:
                if await session.get(Professional, p[0]) is None:
                    session.add(
                        Professional(
                            address=p[0],
                            mailbox_type=p[1],
                            national_id=p[2],
                            family_name=p[3],
                            given_name=p[4],
                            profession_code=p[5],
                            profession_label=p[6],
                            specialty_label=p[7],
                            organisation=p[8],
                            postal_code=p[9],
                            city=p[10],
                            updated_at=now,
                        )
                    )
        new_patients = []
        for new in DEMO_PATIENTS:
            async with transaction(storage.sessions) as session:
                record = await find_patient_by_ins(session, new.ins)
                if record is None:
                    record = await create_patient(
                        session,
                        storage.keyring,
                        new,
                        patient_domain=settings.mssante.patient_domain,
                        accept_test_ins=True,
                        actor="demo",
                    )
                    await ensure_default_folders(session, record.account_id)
                    new_patients.append((record, new))
            lines.append(f"patient {new.given_names} {new.family_name}: {record.address}")
        delivering = Delivering(storage)
        for record, new in new_patients[:2]:
            raw = _demo_message(new, record.address, settings.mssante.hostname)
            parsed = BytesParser(policy=email_policy.default).parsebytes(raw)
            assert isinstance(parsed, EmailMessage)
            await delivering.deliver(
                raw=raw,
                parsed=parsed,
                envelope_sender=DEMO_PROFESSIONALS[0][0],
                recipients=[record],
                received_at=datetime.now(UTC),
            )
        async with storage.sessions() as session:
            count = len((await session.execute(select(Professional.address))).all())
        lines.append(
            f"{len(DEMO_DOMAINS)} trust-space domains, {count} professionals in the directory"
        )
        if new_patients:
            lines.append(f"{min(2, len(new_patients))} demo messages delivered")
            first = new_patients[0][0]
            async with transaction(storage.sessions) as session:
                _, secret = await add_app_password(session, first.address, "démo", actor="demo")
            lines.append(
                f"IMAP (127.0.0.1:{settings.imap.tls_port} TLS, {settings.imap.port} STARTTLS): "
                f"user {first.address}, app password {secret}"
            )
            lines.append(
                f"SMTP submission (127.0.0.1:{settings.submission.port} STARTTLS, "
                f"{settings.submission.tls_port} TLS): same user and app password"
            )
            lines.extend(await _web_logins(settings, storage, [r for r, _ in new_patients]))
        async with storage.sessions() as session:
            first_record = await find_patient_by_ins(session, DEMO_PATIENTS[0].ins)
        if first_record is not None:
            lines.extend(await seed_record(storage, settings, first_record, DEMO_PATIENTS[0]))
    return lines


DEMO_MOBILE = "+33600000001"


async def _web_logins(settings: Settings, storage: Storage, records: list) -> list[str]:
    """A ready web login for the first new patient, an activation code for the second."""
    now = datetime.now(UTC)
    first = records[0]
    password = f"Sante-{secrets.token_hex(3)}-{secrets.token_hex(3).upper()}"
    async with transaction(storage.sessions) as session:
        await complete_activation(
            session,
            first.account_id,
            password=password,
            personal_email=None,
            mobile_phone=DEMO_MOBILE,
            channel="sms",
            now=now,
            remote="demo",
        )
    lines = [
        f"web ({settings.web.base_url}): identifier {first.ins} (or {first.address}), "
        f"password {password}",
        f"  the one-time code goes by SMS to {DEMO_MOBILE}: the development gateway appends it "
        f"to {settings.sms_file}"
        + (" and 'serve' logs it" if settings.web.dev_show_codes_in_log else ""),
    ]
    if len(records) > 1:
        async with transaction(storage.sessions) as session:
            code = await issue_activation_code(
                session,
                records[1].account_id,
                now=now,
                valid_days=settings.web.activation_code_days,
                actor="demo",
            )
        lines.append(
            f"web activation for {records[1].ins}: provisional code {code} "
            f"at {settings.web.base_url}/activation"
        )
    return lines


def _demo_message(patient: NewPatient, to: str, hostname: str) -> bytes:
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = "Dr Jean Dupont <jean.dupont@medecin.mssante.fr>"
    msg["To"] = to
    msg["Subject"] = "Résultats de votre bilan sanguin"
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="medecin.mssante.fr")
    msg["X-MSS-INS"] = "O"
    first = patient.given_names.split()[0]
    msg.set_content(
        f"Bonjour {first},\n\nVous trouverez ci-joint le compte rendu de votre bilan sanguin.\n"
        "Les résultats sont normaux. N'hésitez pas à me répondre si vous avez des questions.\n\n"
        "Bien cordialement,\nDr Jean Dupont\n"
    )
    msg.add_attachment(
        minimal_pdf("Compte rendu - bilan sanguin"),
        maintype="application",
        subtype="pdf",
        filename="compte-rendu-bilan.pdf",
    )
    return msg.as_bytes()


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (ASCII), with a correct cross-reference table."""
    safe = "".join(c for c in text.encode("ascii", "replace").decode() if c not in "()\\")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


# -- the first demo patient's record ------------------------------------------------------------

DEMO_ATTENDING = DEMO_PROFESSIONALS[0]  # Dr Jean Dupont, general practitioner
DEMO_CONSULTED = DEMO_PROFESSIONALS[1]  # Dr Claire Martin, cardiologist (authorised, has looked)
DEMO_BLOCKED = DEMO_PROFESSIONALS[2]  # Dr Hugo Petit (blocked by the patient)
DEMO_BIOLOGIST = DEMO_PROFESSIONALS[3]  # Dr Sophie Blanc, medical biologist
#: The title of the patient's own upload that the patient masks from professionals.
DEMO_MASKED_UPLOAD = "Mon carnet de suivi psychologique"


def _cda(
    patient: NewPatient,
    *,
    doc_id: str,
    code: str,
    display: str,
    title: str,
    time: str,
    author: tuple[str, ...],
    body: str,
) -> bytes:
    """A CDA R2 document shaped like the CI-SIS content models (our own text and values)."""
    given = "".join(f"<given>{g}</given>" for g in patient.given_names.split())
    return (
        f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.999.42" extension="{doc_id}"/>
  <code code="{code}" codeSystem="2.16.840.1.113883.6.1" displayName="{display}"/>
  <title>{title}</title>
  <effectiveTime value="{time}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <recordTarget><patientRole>
    <id root="{patient.oid}" extension="{patient.ins}"/>
    <patient>
      <name>{given}<family qualifier="BR">{patient.family_name}</family></name>
      <administrativeGenderCode code="{patient.sex}" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="{patient.birth_date:%Y%m%d}"/>
    </patient>
  </patientRole></recordTarget>
  <author>
    <time value="{time}"/>
    <assignedAuthor>
      <id root="1.2.250.1.71.4.2.1" extension="{author[2]}"/>
      <assignedPerson><name><prefix>Dr</prefix><given>{author[4]}</given>"""
        f"""<family>{author[3].title()}</family></name></assignedPerson>
      <representedOrganization><name>{author[8]}</name></representedOrganization>
    </assignedAuthor>
  </author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="1.2.250.1.71.4.2.2" extension="1999999990"/>
    <name>{author[8]}</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody>{body}</structuredBody></component>
</ClinicalDocument>
"""
    ).encode()


def _section(code: str, title: str, text: str) -> str:
    return (
        f'<component><section><code code="{code}" codeSystem="2.16.840.1.113883.6.1"/>'
        f"<title>{title}</title><text>{text}</text></section></component>"
    )


def _biology_report(patient: NewPatient) -> bytes:
    table = (
        '<table border="1"><caption>Bilan lipidique et glycémie</caption>'
        "<thead><tr><th>Analyse</th><th>Résultat</th><th>Unité</th>"
        "<th>Valeurs de référence</th></tr></thead><tbody>"
        "<tr><td>Glycémie à jeun</td><td>0,92</td><td>g/l</td><td>0,70 – 1,10</td></tr>"
        "<tr><td>Cholestérol total</td><td>2,05</td><td>g/l</td><td>&lt; 2,00</td></tr>"
        '<tr><td>Cholestérol LDL</td><td><content styleCode="Bold">1,42</content></td>'
        "<td>g/l</td><td>&lt; 1,60</td></tr>"
        "<tr><td>Triglycérides</td><td>0,88</td><td>g/l</td><td>&lt; 1,50</td></tr>"
        "</tbody></table>"
    )
    body = _section("18719-5", "Biochimie", table) + _section(
        "48767-8",
        "Commentaire du biologiste",
        "<paragraph>Cholestérol total discrètement au-dessus de la valeur de référence ; "
        "les autres résultats sont normaux.</paragraph>",
    )
    return _cda(
        patient, doc_id="DEMO-BIO-1", code="11502-2", display="CR d'examens biologiques",
        title="Compte rendu d'examens de biologie médicale", time="20261105083000+0100",
        author=DEMO_BIOLOGIST, body=body,
    )  # fmt: skip


def _vaccination_note(patient: NewPatient) -> bytes:
    table = (
        "<table><thead><tr><th>Vaccin</th><th>Date</th><th>Dose</th><th>Lot</th></tr></thead>"
        "<tbody><tr><td>Grippe saisonnière</td><td>20/10/2026</td><td>annuelle</td>"
        "<td>FLU-2611</td></tr>"
        "<tr><td>Diphtérie, tétanos, poliomyélite</td><td>20/10/2026</td><td>rappel</td>"
        "<td>DTP-0457</td></tr></tbody></table>"
        "<paragraph>Prochain rappel diphtérie, tétanos, poliomyélite : "
        '<content styleCode="Bold">à 65 ans</content>.</paragraph>'
    )
    return _cda(
        patient, doc_id="DEMO-VAC-1", code="87273-9", display="Note de vaccination",
        title="Note de vaccination", time="20261020103000+0200", author=DEMO_ATTENDING,
        body=_section("11369-6", "Vaccinations", table),
    )  # fmt: skip


def _pending_result(patient: NewPatient) -> bytes:
    body = _section(
        "18719-5",
        "Biochimie",
        "<paragraph>Résultat en attente d'annonce par le médecin prescripteur.</paragraph>",
    )
    return _cda(
        patient, doc_id="DEMO-BIO-2", code="11502-2", display="CR d'examens biologiques",
        title="Compte rendu d'examens de biologie médicale (complément)",
        time="20261124090000+0100", author=DEMO_BIOLOGIST, body=body,
    )  # fmt: skip


def tiny_png(width: int = 16, height: int = 16) -> bytes:
    """A small valid greyscale PNG (a gradient), written by hand with zlib."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes((x * 255 // max(1, width - 1)) for x in range(width)) for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class _DemoDocument:
    unique_id: str
    title: str
    data: bytes
    mime_type: str
    filename: str
    class_code: str
    type_code: str
    author: tuple[str, ...]
    days_ago: int
    visibility: frozenset[str] = frozenset()
    format_code: str | None = None


def _demo_documents(patient: NewPatient) -> list[_DemoDocument]:
    cda_format = "urn:asip:ci-sis:2010"
    return [
        _DemoDocument(
            "demo-bio-1", "Compte rendu d'examens de biologie médicale", _biology_report(patient),
            "text/xml", "cr-biologie.xml", "10", "11502-2", DEMO_BIOLOGIST, 26,
            format_code=cda_format,
        ),
        _DemoDocument(
            "demo-vac-1", "Note de vaccination", _vaccination_note(patient), "text/xml",
            "note-vaccination.xml", "10", "87273-9", DEMO_ATTENDING, 42, format_code=cda_format,
        ),
        _DemoDocument(
            "demo-letter-1", "Courrier du cardiologue",
            minimal_pdf("Courrier du Dr Claire Martin, cardiologue"), "application/pdf",
            "courrier-cardiologue.pdf", "10", "11488-4", DEMO_CONSULTED, 12,
        ),
        _DemoDocument(
            "demo-image-1", "Échographie cardiaque (image)", tiny_png(), "image/png",
            "echographie.png", "31", "18748-4", DEMO_CONSULTED, 12,
        ),
        _DemoDocument(
            "demo-bio-2", "Compte rendu d'examens de biologie médicale (complément)",
            _pending_result(patient), "text/xml", "cr-biologie-complement.xml", "10", "11502-2",
            DEMO_BIOLOGIST, 7, visibility=frozenset({INVISIBLE_PATIENT}), format_code=cda_format,
        ),
    ]  # fmt: skip


async def seed_record(
    storage: Storage, settings: Settings, record: PatientRecord, patient: NewPatient
) -> list[str]:
    """The first demo patient's record: documents of several categories (one hidden from the
    patient until announced, one masked from professionals), an attending physician, a
    professional authorised at a consultation who has looked, a blocked one. Idempotent."""
    now = datetime.now(UTC)
    account_id = record.account_id
    me = Caller.patient(account_id, "demo")
    added = 0
    async with transaction(storage.sessions) as session:
        existing = set(
            (
                await session.execute(
                    select(Document.unique_id).where(
                        Document.account_id == account_id, Document.unique_id.like("demo-%")
                    )
                )
            ).scalars()
        )
        for doc in _demo_documents(patient):
            if doc.unique_id in existing:
                continue
            at = now - timedelta(days=doc.days_ago)
            blob = await store_blob(session, storage, account_id, doc.data)
            await deposit_document(
                session,
                account_id=account_id,
                document=NewDocument(
                    blob_id=blob.id,
                    source="xdm" if doc.mime_type == "text/xml" else "attachment",
                    title=doc.title,
                    mime_type=doc.mime_type,
                    size=len(doc.data),
                    sha1=hashlib.sha1(doc.data).hexdigest(),
                    filename=doc.filename,
                    unique_id=doc.unique_id,
                    patient_id=f"{patient.ins}^^^&{patient.oid}&ISO",
                    class_code=doc.class_code,
                    type_code=doc.type_code,
                    format_code=doc.format_code,
                    author_person=f"Dr {doc.author[4]} {doc.author[3]}",
                    author_institution=doc.author[8],
                    creation_time=at - timedelta(hours=2),
                    visibility=doc.visibility,
                    author_professional_id=doc.author[2],
                ),
                deposited_by=f"ps:{doc.author[2]}",
                at=at,
            )
            added += 1
    async with transaction(storage.sessions) as session:
        uploads = await list_documents(
            session, me, account_id, DocumentQuery(search=DEMO_MASKED_UPLOAD, limit=5)
        )
        if not any(d.title == DEMO_MASKED_UPLOAD for d in uploads.documents):
            data = b"Notes personnelles sur mon suivi psychologique (document de demonstration).\n"
            sniffed = sniff(data, "carnet.txt")
            out = await upload_document(
                session, storage, me, account_id,
                Upload(data, sniffed.mime_type, "carnet.txt", DEMO_MASKED_UPLOAD),
                settings=settings.records, now=now - timedelta(days=3),
            )  # fmt: skip
            if out.document is not None:
                await mask_document(session, me, account_id, out.document.id, now=now)
                added += 1
    async with transaction(storage.sessions) as session:
        _, views = await list_professionals(session, me, account_id, now=now)
        standing = {v.professional_id: v for v in views}
        attending = next((v for v in views if v.attending_physician), None)
        if attending is None:
            await set_attending_physician(session, me, account_id, DEMO_ATTENDING[2], now=now)
        consulted = standing.get(DEMO_CONSULTED[2])
        if consulted is None or consulted.state == "none":
            cardiologist = Caller.professional(DEMO_CONSULTED[2], DEMO_CONSULTED[5])
            await authorise_professional(
                session, cardiologist, account_id, DEMO_CONSULTED[2], via="consultation",
                now=now - timedelta(days=12),
            )  # fmt: skip
            letter = (
                await session.execute(
                    select(Document.id).where(
                        Document.account_id == account_id,
                        Document.unique_id == "demo-letter-1",
                    )
                )
            ).scalar_one_or_none()
            if letter is not None:  # she reads her letter again: a last access
                await get_document(
                    session, cardiologist, account_id, letter, operation=Operation.VIEW, now=now
                )
        blocked = standing.get(DEMO_BLOCKED[2])
        if blocked is None or blocked.state != "blocked":
            await block_professional(
                session, me, account_id, DEMO_BLOCKED[2], now=now - timedelta(days=30)
            )
    shown = f"{record.address}: {added} document(s) added" if added else record.address
    return [
        f"record of {shown}: documents of every category (one hidden from the patient until "
        "announced, one masked from professionals); attending physician Dr Jean Dupont, "
        "Dr Claire Martin authorised at a consultation, Dr Hugo Petit blocked",
        "  log in on the web and look at /documents, /professionnels and /urgence",
    ]
