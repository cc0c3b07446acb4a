"""Patient web login: activation with a provisional code, password, then a one-time code.

Every step takes the database session of the caller's write transaction and the current time, and
records its audit entries there; failures count in ``accounts.throttle`` (the same per-account
lock as IMAP and submission logins, rules in ``policy.login``). The web pages (``webmail``) only
gather form fields and show the outcome.

Codes are hashed with argon2id: the provisional activation code (12 letters, ~59 bits, single use,
expiring after days) and the one-time login code (6 digits, expiring after minutes, void after a
few wrong tries, bound to the browser session that gave the right password).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts import passwords, throttle
from espace_sante.accounts.sms import SmsGateway
from espace_sante.config import Settings
from espace_sante.policy import addresses, ins
from espace_sante.storage import outbox
from espace_sante.storage.schema import (
    Account,
    ActivationCode,
    LoginCode,
    Patient,
    WebCredential,
)

log = logging.getLogger("espace_sante.web.login")

ACTIVATION_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no I, L, O, 0, 1
ACTIVATION_LETTERS = 12
LOGIN_CODE_DIGITS = 6
#: Codes one pending session may be sent (the first and two resends): SMS cost bounds abuse.
MAX_CODES_PER_SESSION = 3
MAX_IDENTIFIER = 254
CHANNELS = ("email", "sms")

_hasher = PasswordHasher()


class LoginRefused(Exception):
    """A step failed; ``reason`` is for code and tests, ``message`` is French for the patient."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
LOCKED = (
    "Trop de tentatives infructueuses : votre compte est verrouillé pendant quelques minutes. "
    "Réessayez plus tard."
)
SPACE_CLOSED = (
    "Votre espace santé est fermé ou vous vous y êtes opposé : la connexion est impossible."
)


@dataclass(frozen=True)
class SentCode:
    channel: str
    #: The destination, partly masked, to show on the code page ("06 •• •• •• 78").
    masked_destination: str


# -- identifiers --------------------------------------------------------------------------------


def clean_field(value: str, max_length: int) -> str:
    """A form field as we compare it: NFKC, trimmed; control characters (CR/LF…) refused."""
    text = unicodedata.normalize("NFKC", value).strip()
    if len(text) > max_length or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise LoginRefused("malformed", "Ce champ contient des caractères non autorisés.")
    return text


async def find_account(db: AsyncSession, identifier: str) -> Account | None:
    """The patient account named by an INS matricule, a patient address or a personal e-mail."""
    text = clean_field(identifier, MAX_IDENTIFIER)
    if not text:
        return None
    if "@" not in text:
        matricule = ins.normalise_matricule(text)
        if not ins.check_matricule(matricule).accepted:
            return None
        query = select(Account).join(Patient, Patient.account_id == Account.id)
        return (await db.execute(query.where(Patient.ins == matricule))).scalar_one_or_none()
    if addresses.parse_mailbox(text) is None:
        return None
    lowered = text.lower()
    by_address = (
        await db.execute(select(Account).where(Account.address == lowered))
    ).scalar_one_or_none()
    if by_address is not None:
        return by_address if by_address.kind == "patient" else None
    matches = (
        (
            await db.execute(
                select(Account)
                .join(WebCredential, WebCredential.account_id == Account.id)
                .where(func.lower(Account.personal_email) == lowered, Account.kind == "patient")
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    return matches[0] if len(matches) == 1 else None  # shared e-mail: log in with the INS


# -- activation ---------------------------------------------------------------------------------


def normalise_activation_code(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch not in "- ")


async def issue_activation_code(
    db: AsyncSession, account_id: int, *, now: datetime, valid_days: int, actor: str = "cli"
) -> str:
    """A new provisional code for ``account_id`` (earlier unused codes are voided); returns it,
    grouped by four (``ABCD-EFGH-JKMN``), for printing once."""
    letters = "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(ACTIVATION_LETTERS))
    await db.execute(
        update(ActivationCode)
        .where(ActivationCode.account_id == account_id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    )
    db.add(
        ActivationCode(
            account_id=account_id,
            code_hash=await asyncio.to_thread(_hasher.hash, letters),
            created_at=now,
            expires_at=now + timedelta(days=valid_days),
        )
    )
    await audit.append(
        db, account_id=account_id, actor=actor, action="web.activation_code.issued", at=now
    )
    return "-".join(letters[i : i + 4] for i in range(0, ACTIVATION_LETTERS, 4))


async def check_activation_code(
    db: AsyncSession, identifier: str, code: str, *, now: datetime, remote: str
) -> int:
    """The account id if ``code`` is its live provisional code; raises LoginRefused otherwise."""
    refused = LoginRefused("bad_activation", "Identifiant ou code provisoire incorrect.")
    account = await find_account(db, identifier)
    if account is None:
        await _audit_unknown(db, "activation", remote, now)
        raise refused
    if await throttle.is_locked(db, account.id, now):
        await _audit_refused_locked(db, account.id, "web-activation", remote, now)
        raise LoginRefused("locked", LOCKED)
    if account.status in ("opposed", "closed"):
        raise LoginRefused("closed", SPACE_CLOSED)
    candidate = normalise_activation_code(code)
    row = (
        await db.execute(
            select(ActivationCode)
            .where(ActivationCode.account_id == account.id, ActivationCode.used_at.is_(None))
            .order_by(ActivationCode.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    good = (
        row is not None
        and len(candidate) == ACTIVATION_LETTERS
        and await asyncio.to_thread(_verify, row.code_hash, candidate)
    )
    if row is not None and good and _aware(row.expires_at) <= now:
        await audit.append(
            db,
            account_id=account.id,
            actor="anonymous",
            action="web.activation.expired_code",
            detail={"remote": remote},
            at=now,
        )
        raise LoginRefused(
            "expired",
            "Ce code provisoire a expiré. Demandez-en un nouveau à votre établissement.",
        )
    if not good:
        await throttle.record_failure(
            db, account.id, service="web-activation", remote=remote, now=now
        )
        raise refused
    return account.id


async def complete_activation(
    db: AsyncSession,
    account_id: int,
    *,
    password: str,
    personal_email: str | None,
    mobile_phone: str | None,
    channel: str,
    now: datetime,
    remote: str,
) -> None:
    """Set the password and contact details, use up the provisional code. The caller validated
    the fields (:func:`activation_problems`)."""
    account = await db.get(Account, account_id, with_for_update=True)
    assert account is not None
    await db.execute(
        update(ActivationCode)
        .where(ActivationCode.account_id == account_id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    )
    digest = await passwords.hash_password(password)
    credential = await db.get(WebCredential, account_id, with_for_update=True)
    if credential is None:
        credential = WebCredential(
            account_id=account_id,
            password_hash=digest,
            code_channel=channel,
            activated_at=now,
            password_changed_at=now,
        )
        db.add(credential)
    credential.password_hash = digest
    credential.password_changed_at = now
    credential.mobile_phone = mobile_phone
    credential.code_channel = channel
    if personal_email is not None:
        account.personal_email = personal_email
    if account.status == "created":  # activating earlier than the six weeks
        account.status = "active"
        account.status_changed_at = now
    await throttle.record_success(db, account_id)
    await audit.append(
        db,
        account_id=account_id,
        actor=account.address,
        action="web.activated",
        detail={"channel": channel, "remote": remote},
        at=now,
    )


def normalise_phone(text: str) -> str | None:
    """A mobile number in E.164 (French 06/07 numbers become +336…/+337…), or None."""
    digits = re.sub(r"[ .\-()]", "", text)
    if re.fullmatch(r"0[67]\d{8}", digits):
        return "+33" + digits[1:]
    if re.fullmatch(r"\+[1-9]\d{7,14}", digits):
        return digits
    return None


@dataclass(frozen=True)
class ActivationForm:
    password: str
    personal_email: str | None
    mobile_phone: str | None
    channel: str


def activation_problems(
    *,
    password: str,
    confirmation: str,
    personal_email: str,
    mobile_phone: str,
    channel: str,
    personal: tuple[str, ...],
) -> tuple[ActivationForm | None, dict[str, str]]:
    """Validate the activation form: the cleaned values, or French messages per field."""
    errors: dict[str, str] = {}
    problems = passwords.strength_problems(password, personal)
    if problems:
        errors["password"] = " ".join(problems)
    elif password != confirmation:
        errors["confirmation"] = "Les deux mots de passe ne sont pas identiques."
    email_value: str | None = None
    try:
        email_text = clean_field(personal_email, 254)
    except LoginRefused as exc:
        errors["personal_email"] = exc.message
        email_text = ""
    if email_text:
        if addresses.parse_mailbox(email_text) is None or not email_text.isascii():
            errors["personal_email"] = "Adresse électronique invalide (exemple : nom@exemple.fr)."
        else:
            email_value = email_text.lower()
    phone_value: str | None = None
    try:
        phone_text = clean_field(mobile_phone, 30)
    except LoginRefused as exc:
        errors["mobile_phone"] = exc.message
        phone_text = ""
    if phone_text:
        phone_value = normalise_phone(phone_text)
        if phone_value is None:
            errors["mobile_phone"] = (
                "Numéro de mobile invalide (exemple : 06 12 34 56 78 ou +33 6 12 34 56 78)."
            )
    if channel not in CHANNELS:
        errors["channel"] = "Choisissez comment recevoir vos codes de connexion."
    elif channel == "sms" and phone_value is None and "mobile_phone" not in errors:
        errors["mobile_phone"] = "Indiquez un numéro de mobile pour recevoir vos codes par SMS."
    elif channel == "email" and email_value is None and "personal_email" not in errors:
        errors["personal_email"] = (
            "Indiquez une adresse électronique pour recevoir vos codes par courriel."
        )
    if errors:
        return None, errors
    return ActivationForm(password, email_value, phone_value, channel), {}


# -- password and one-time code -----------------------------------------------------------------


async def check_password(
    db: AsyncSession, identifier: str, password: str, *, now: datetime, remote: str
) -> int:
    """The account id if ``password`` is right for ``identifier``; raises LoginRefused otherwise
    (a failure counts toward the lock; a locked account is refused even with the right one)."""
    account = await find_account(db, identifier)
    credential = await db.get(WebCredential, account.id) if account is not None else None
    good = await passwords.verify_password(
        credential.password_hash if credential else None, password
    )
    if account is None or credential is None:
        await _audit_unknown(db, "password", remote, now)
        raise LoginRefused("bad_credentials", BAD_CREDENTIALS)
    if await throttle.is_locked(db, account.id, now):
        await _audit_refused_locked(db, account.id, "web-password", remote, now)
        raise LoginRefused("locked", LOCKED)
    if not good:
        state = await throttle.record_failure(
            db, account.id, service="web-password", remote=remote, now=now
        )
        if state.locked_until is not None and state.locked_until > now:
            raise LoginRefused("locked", LOCKED)
        raise LoginRefused("bad_credentials", BAD_CREDENTIALS)
    if account.status in ("opposed", "closed"):
        raise LoginRefused("closed", SPACE_CLOSED)
    return account.id


async def send_login_code(
    db: AsyncSession,
    account_id: int,
    web_session_id: int,
    *,
    now: datetime,
    settings: Settings,
    sms: SmsGateway,
    purpose: str = "login",
) -> SentCode:
    """Make a one-time code for the pending session and send it by the account's channel (SMS
    through the gateway, e-mail through the outbound queue in this transaction). ``purpose`` is
    ``login`` or ``reset`` (a forgotten password): it changes the wording and the audit."""
    account = await db.get(Account, account_id)
    credential = await db.get(WebCredential, account_id)
    assert account is not None and credential is not None
    already = (
        await db.execute(
            select(func.count())
            .select_from(LoginCode)
            .where(LoginCode.web_session_id == web_session_id)
        )
    ).scalar_one()
    if already >= MAX_CODES_PER_SESSION:
        raise LoginRefused(
            "too_many_codes",
            "Vous avez demandé trop de codes : reconnectez-vous dans quelques minutes.",
        )
    code = f"{secrets.randbelow(10**LOGIN_CODE_DIGITS):0{LOGIN_CODE_DIGITS}d}"
    await db.execute(  # an older code of this session is void
        update(LoginCode)
        .where(LoginCode.web_session_id == web_session_id, LoginCode.used_at.is_(None))
        .values(used_at=now)
    )
    channel = credential.code_channel
    if channel == "sms" and not credential.mobile_phone:
        channel = "email"
    if channel == "email" and not account.personal_email:
        channel = "sms"
    db.add(
        LoginCode(
            account_id=account_id,
            web_session_id=web_session_id,
            code_hash=await asyncio.to_thread(_hasher.hash, code),
            channel=channel,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.web.login_code_minutes),
            attempts=0,
        )
    )
    minutes = settings.web.login_code_minutes
    what = "de connexion" if purpose == "login" else "pour changer de mot de passe"
    if channel == "sms":
        assert credential.mobile_phone
        await sms.send(
            credential.mobile_phone,
            f"espace santé : votre code {what} est {code}. Il est valable {minutes} "
            "minutes. Ne le communiquez à personne.",
        )
        destination = _mask_phone(credential.mobile_phone)
    else:
        assert account.personal_email
        raw = login_code_mail(settings, account.personal_email, code, now, purpose=purpose)
        await outbox.enqueue(
            db,
            kind="login_code",
            mail_from=settings.mssante.postmaster,
            recipients=[account.personal_email],
            raw=raw,
            account_id=account_id,
            at=now,
        )
        destination = _mask_email(account.personal_email)
    if settings.web.dev_show_codes_in_log:
        log.info("development: %s code for %s is %s", purpose, account.address, code)
    await audit.append(
        db,
        account_id=account_id,
        actor=account.address,
        action="web.login.code_sent" if purpose == "login" else "web.password.reset_code_sent",
        detail={"channel": channel},
        at=now,
    )
    return SentCode(channel, destination)


async def check_login_code(
    db: AsyncSession,
    account_id: int,
    web_session_id: int,
    code: str,
    *,
    now: datetime,
    remote: str,
    max_attempts: int,
    purpose: str = "login",
) -> None:
    """Accept the session's live one-time code, or raise LoginRefused (``bad_code``, ``expired``,
    ``exhausted``: the login must start again, ``locked``). A ``reset`` code (``purpose``) is
    audited as such, not as a login."""
    if await throttle.is_locked(db, account_id, now):
        await _audit_refused_locked(db, account_id, "web-code", remote, now)
        raise LoginRefused("locked", LOCKED)
    row = (
        await db.execute(
            select(LoginCode)
            .where(LoginCode.web_session_id == web_session_id, LoginCode.used_at.is_(None))
            .order_by(LoginCode.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.account_id != account_id:
        raise LoginRefused("exhausted", "Ce code n'est plus valable : reconnectez-vous.")
    if _aware(row.expires_at) <= now:
        row.used_at = now
        await audit.append(
            db,
            account_id=account_id,
            actor="anonymous",
            action="web.login.code_expired",
            detail={"remote": remote},
            at=now,
        )
        raise LoginRefused(
            "expired", "Ce code a expiré : reconnectez-vous pour en recevoir un autre."
        )
    candidate = unicodedata.normalize("NFKC", code).replace(" ", "")
    good = (
        len(candidate) == LOGIN_CODE_DIGITS
        and candidate.isascii()
        and candidate.isdigit()
        and await asyncio.to_thread(_verify, row.code_hash, candidate)
    )
    if good:
        row.used_at = now
        await throttle.record_success(db, account_id)
        account = await db.get(Account, account_id)
        assert account is not None
        await audit.append(
            db,
            account_id=account_id,
            actor=account.address,
            action="login.succeeded" if purpose == "login" else "web.password.reset_code_ok",
            detail={"service": "web", "channel": row.channel, "remote": remote},
            at=now,
        )
        return
    row.attempts += 1
    state = await throttle.record_failure(
        db, account_id, service="web-code" if purpose == "login" else "web-reset", remote=remote,
        now=now,
    )  # fmt: skip
    if state.locked_until is not None and state.locked_until > now:
        row.used_at = now
        raise LoginRefused("locked", LOCKED)
    if row.attempts >= max_attempts:
        row.used_at = now
        raise LoginRefused(
            "exhausted", "Trop d'essais avec ce code : reconnectez-vous pour en recevoir un autre."
        )
    left = max_attempts - row.attempts
    raise LoginRefused(
        "bad_code",
        f"Code incorrect. Il vous reste {left} essai{'s' if left > 1 else ''}.",
    )


def login_code_mail(
    settings: Settings, to: str, code: str, now: datetime, purpose: str = "login"
) -> bytes:
    """The French e-mail carrying a login (or password reset) code (no health data)."""
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = f"espace santé <{settings.mssante.postmaster}>"
    msg["To"] = to
    what = "de connexion" if purpose == "login" else "pour changer de mot de passe"
    msg["Subject"] = (
        f"Votre code {what} sur espace santé"
        if purpose != "login"
        else ("Votre code de connexion à espace santé")
    )
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = email.utils.make_msgid(domain=settings.mssante.hostname)
    msg["Auto-Submitted"] = "auto-generated"
    minutes = settings.web.login_code_minutes
    msg.set_content(
        "Bonjour,\n\n"
        f"Votre code {what} {'à' if purpose == 'login' else 'sur'} espace santé est : {code}\n\n"
        f"Il est valable {minutes} minutes et ne peut servir qu'une fois.\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message et pensez à "
        "changer votre mot de passe.\n\n"
        "Ne communiquez jamais ce code, même à une personne qui se présente comme un agent "
        "d'espace santé.\n"
    )
    return msg.as_bytes()


async def audit_logout(
    db: AsyncSession, account_id: int, address: str, *, now: datetime, reason: str, remote: str
) -> None:
    """Record the end of a web session (logout or expiry)."""
    action = "web.logout" if reason == "logout" else "web.session.expired"
    await audit.append(
        db,
        account_id=account_id,
        actor=address if reason == "logout" else "gateway",
        action=action,
        detail={"reason": reason, "remote": remote},
        at=now,
    )


async def _audit_unknown(db: AsyncSession, step: str, remote: str, now: datetime) -> None:
    await audit.append(
        db,
        account_id=audit.SYSTEM_ACCOUNT,
        actor="anonymous",
        action="web.login.unknown_identifier",
        detail={"step": step, "remote": remote},
        at=now,
    )


async def _audit_refused_locked(
    db: AsyncSession, account_id: int, service: str, remote: str, now: datetime
) -> None:
    await audit.append(
        db,
        account_id=account_id,
        actor="anonymous",
        action="login.refused_locked",
        detail={"service": service, "remote": remote},
        at=now,
    )


def _verify(digest: str, candidate: str) -> bool:
    try:
        return _hasher.verify(digest, candidate)
    except (VerificationError, InvalidHashError):
        return False


def _mask_phone(phone: str) -> str:
    return phone[:3] + "•" * (len(phone) - 5) + phone[-2:]


def _mask_email(addr: str) -> str:
    local, _, domain = addr.partition("@")
    return f"{local[:1]}•••@{domain}"


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
