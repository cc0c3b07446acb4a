"""Changing the web password (logged in) and resetting a forgotten one (with a one-time code).

In charge of: checking the current password (counted by ``accounts.throttle`` like any login),
the strength rules of activation (``accounts.passwords``), storing the new hash, ending the
account's other web sessions, and the audit trail. A reset sends its code the way a login code
goes (``weblogin.send_login_code``: SMS or e-mail as the patient chose), anchored to a web session
at stage ``reset`` that no browser ever holds, and answers alike whether the identifier exists.
Not in charge of: forms and pages (``webmail.login_pages``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts import passwords, throttle, weblogin, websessions
from espace_sante.accounts.sms import SmsGateway
from espace_sante.accounts.weblogin import LOCKED, LoginRefused
from espace_sante.config import Settings
from espace_sante.storage.schema import Account, LoginCode, Patient, WebCredential, WebSession

#: Reset codes one account may be sent in :data:`RESET_WINDOW` (SMS cost, mailbox flooding).
MAX_RESET_CODES = 3
RESET_WINDOW = timedelta(minutes=15)
#: The one answer to every refused reset code: it must not tell whether the identifier exists.
BAD_RESET_CODE = (
    "Ce code n'est pas valable (incorrect, expiré ou déjà utilisé). Vérifiez l'identifiant et le "
    "code, ou demandez un nouveau code."
)
BAD_CURRENT = "Le mot de passe actuel est incorrect."


class PasswordProblems(Exception):
    """The new password breaks the rules; ``errors`` maps form fields to French messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


async def personal_terms(db: AsyncSession, account_id: int) -> tuple[str, ...]:
    """What a password of this account must not contain (address, INS, names, e-mail)."""
    account = await db.get(Account, account_id)
    assert account is not None
    patient = await db.get(Patient, account_id)
    terms: tuple[str, ...] = (account.address.split("@")[0],)
    if patient is not None:
        terms += (patient.ins, patient.family_name, *patient.given_names.split())
    if account.personal_email:
        terms += (account.personal_email.split("@")[0],)
    return terms


def new_password_problems(
    password: str, confirmation: str, personal: tuple[str, ...]
) -> dict[str, str]:
    """The activation rules, field by field (``password``, ``confirmation``)."""
    problems = passwords.strength_problems(password, personal)
    if problems:
        return {"password": " ".join(problems)}
    if password != confirmation:
        return {"confirmation": "Les deux mots de passe ne sont pas identiques."}
    return {}


async def _store(db: AsyncSession, account_id: int, password: str, now: datetime) -> None:
    credential = await db.get(WebCredential, account_id, with_for_update=True)
    assert credential is not None
    credential.password_hash = await passwords.hash_password(password)
    credential.password_changed_at = now


async def change_password(
    db: AsyncSession,
    account_id: int,
    session_id: int,
    *,
    current: str,
    new: str,
    confirmation: str,
    now: datetime,
    remote: str,
) -> int:
    """Replace the password of a logged-in patient; ends their other web sessions (returns how
    many). Raises LoginRefused (``bad_current``, ``locked``) or PasswordProblems."""
    if await throttle.is_locked(db, account_id, now):
        raise LoginRefused("locked", LOCKED)
    credential = await db.get(WebCredential, account_id)
    good = await passwords.verify_password(
        credential.password_hash if credential else None, current
    )
    if not good or credential is None:
        state = await throttle.record_failure(
            db, account_id, service="web-password-change", remote=remote, now=now
        )
        if state.locked_until is not None and state.locked_until > now:
            raise LoginRefused("locked", LOCKED)
        raise LoginRefused("bad_current", BAD_CURRENT)
    errors = new_password_problems(new, confirmation, await personal_terms(db, account_id))
    if not errors and passwords.normalise(new) == passwords.normalise(current):
        errors = {"password": "Le nouveau mot de passe doit être différent de l'actuel."}
    if errors:
        raise PasswordProblems(errors)
    await _store(db, account_id, new, now)
    ended = await websessions.end_all(db, account_id, "password", now=now, keep=session_id)
    await throttle.record_success(db, account_id)
    account = await db.get(Account, account_id)
    assert account is not None
    await audit.append(
        db,
        account_id=account_id,
        actor=account.address,
        action="web.password.changed",
        detail={"remote": remote, "sessions_ended": ended},
        at=now,
    )
    return ended


async def request_reset(
    db: AsyncSession,
    identifier: str,
    *,
    now: datetime,
    remote: str,
    settings: Settings,
    sms: SmsGateway,
) -> bool:
    """Send a reset code to the account of ``identifier`` when there is one that may have it
    (activated, open, not locked, under :data:`MAX_RESET_CODES`); returns whether a code left —
    for tests and logs only: the page says the same either way. Audited either way."""
    try:
        account = await weblogin.find_account(db, identifier)
    except LoginRefused:
        account = None
    credential = await db.get(WebCredential, account.id) if account is not None else None
    if account is None or credential is None:
        await passwords.hash_password("x")  # the time a real code's hash takes
        await audit.append(
            db, account_id=audit.SYSTEM_ACCOUNT, actor="anonymous",
            action="web.password.reset_unknown", detail={"remote": remote}, at=now,
        )  # fmt: skip
        return False
    why = ""
    if account.status in ("opposed", "closed"):
        why = "closed"
    elif await throttle.is_locked(db, account.id, now):
        why = "locked"
    else:
        recent = (
            await db.execute(
                select(func.count())
                .select_from(LoginCode)
                .join(WebSession, WebSession.id == LoginCode.web_session_id)
                .where(
                    LoginCode.account_id == account.id,
                    WebSession.stage == "reset",
                    LoginCode.created_at > now - RESET_WINDOW,
                )
            )
        ).scalar_one()
        if recent >= MAX_RESET_CODES:
            why = "too_many_codes"
    if why:
        await passwords.hash_password("x")
        await audit.append(
            db, account_id=account.id, actor="anonymous", action="web.password.reset_refused",
            detail={"reason": why, "remote": remote}, at=now,
        )  # fmt: skip
        return False
    # one live reset at a time: an earlier request's code stops working
    await websessions.end_all(db, account.id, "replaced", now=now, stage="reset")
    session_id, _ = await websessions.create(db, account.id, "reset", now=now, remote=remote)
    sent = await weblogin.send_login_code(
        db, account.id, session_id, now=now, settings=settings, sms=sms, purpose="reset"
    )
    await audit.append(
        db, account_id=account.id, actor="anonymous", action="web.password.reset_requested",
        detail={"channel": sent.channel, "remote": remote}, at=now,
    )  # fmt: skip
    return True


async def complete_reset(
    db: AsyncSession,
    identifier: str,
    code: str,
    *,
    new: str,
    confirmation: str,
    now: datetime,
    remote: str,
    max_attempts: int,
) -> int:
    """Set a new password with a reset code; ends every web session of the account. Raises
    LoginRefused (always with :data:`BAD_RESET_CODE`) or PasswordProblems — the latter only
    once the code is known good, and then the caller must roll back so the code stays usable."""
    refused = LoginRefused("bad_reset_code", BAD_RESET_CODE)
    try:
        account = await weblogin.find_account(db, identifier)
    except LoginRefused:
        account = None
    anchor = None
    if account is not None:
        anchor = (
            await db.execute(
                select(WebSession.id)
                .where(
                    WebSession.account_id == account.id,
                    WebSession.stage == "reset",
                    WebSession.ended_at.is_(None),
                    WebSession.created_at > now - websessions.PENDING_LIFETIME,
                )
                .order_by(WebSession.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if account is None or anchor is None:
        await passwords.verify_password(None, code)  # the time a code check takes
        if account is not None:
            await throttle.record_failure(
                db, account.id, service="web-reset", remote=remote, now=now
            )
        raise refused
    try:
        await weblogin.check_login_code(
            db, account.id, anchor, code, now=now, remote=remote, max_attempts=max_attempts,
            purpose="reset",
        )  # fmt: skip
    except LoginRefused as exc:
        if exc.reason != "bad_code":
            await websessions.end(db, anchor, exc.reason, now=now)
        raise refused from exc
    errors = new_password_problems(new, confirmation, await personal_terms(db, account.id))
    if errors:
        raise PasswordProblems(errors)
    await _store(db, account.id, new, now)
    ended = await websessions.end_all(db, account.id, "password_reset", now=now)
    await audit.append(
        db, account_id=account.id, actor=account.address, action="web.password.reset",
        detail={"remote": remote, "sessions_ended": ended}, at=now,
    )  # fmt: skip
    return account.id
