"""Demo data: a few trust-space domains, professionals and patients, and their first messages.

Everything goes through the real code paths (patient creation, the delivery pipeline), so what a
newcomer sees after ``make run`` is what production would store.
"""

from __future__ import annotations

import email.utils
import secrets
from datetime import UTC, date, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy import select

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.accounts.patients import NewPatient, create_patient, find_patient_by_ins
from espace_sante.accounts.weblogin import complete_activation, issue_activation_code
from espace_sante.cli.context import open_storage
from espace_sante.config import Settings
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.mta.delivery import Delivering
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AllowedDomain, Professional

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
