"""Logging a mail client in (IMAP, SMTP submission): app passwords with throttling, tokens.

One place for the rules both servers apply: only active accounts log in; a locked account is
refused even with the right secret; at most a few password checks run at once in the process,
the others are refused as busy (:func:`configure_password_checks`); each failed password counts
towards the lock and is audited (``accounts.throttle``); a success clears the count. The
protocol (SASL framing, replies, the delay before answering a failure) stays with each server.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from espace_sante import audit
from espace_sante.accounts import guardians, password_checks, throttle
from espace_sante.accounts.app_passwords import account_by_address, mark_used, verify_app_password
from espace_sante.accounts.tokens import TokenError, TokenSigner
from espace_sante.policy import login
from espace_sante.storage.engine import transaction


@dataclass(frozen=True)
class MailLogin:
    """Who logged in."""

    account_id: int
    address: str
    kind: str  # patient | professional | operator
    #: The guardian who logged in to act for this (dependant's) account, if any.
    guardian_id: int | None = None


@dataclass(frozen=True)
class PasswordOutcome:
    """The result of a password login: ``login`` on success; otherwise whether the account is
    locked and how long to wait before answering."""

    login: MailLogin | None
    locked: bool = False
    failures: int = 1
    #: The password was right but the account may not act for the one it asked for.
    forbidden: bool = False
    #: Too many password checks under way (``accounts.password_checks``): not checked, not
    #: counted as a failure; the client should try again later.
    busy: bool = False

    @property
    def failure_delay(self) -> float:
        return login.failure_delay(self.failures)


async def password_login(
    sessions: async_sessionmaker[AsyncSession],
    user: str,
    password: str,
    *,
    service: str,
    remote: str,
    acting_for: str | None = None,
) -> PasswordOutcome:
    """Check ``user``'s app password, counting and auditing a failure.

    The argon2 check runs in the process's bounded pool (``accounts.password_checks``); when it
    is full the outcome is ``busy`` at once. It runs in a read session, so it never holds the
    database's write lock; the outcome is then recorded in one short write transaction. With
    ``acting_for`` (the SASL authorization identity), a guardian who logged in with their own
    password acts for that dependant if ``accounts.guardians`` allows it, audited on the
    dependant's chain.
    """
    async with sessions() as session:
        account = await account_by_address(session, user)
        if account is None or account.status != "active":
            return PasswordOutcome(None)
        if await throttle.is_locked(session, account.id):
            return PasswordOutcome(None, locked=True)
        try:
            matched = await verify_app_password(session, account.id, password)
        except password_checks.Busy:
            return PasswordOutcome(None, busy=True)
    async with transaction(sessions) as session:
        if matched is None:
            state = await throttle.record_failure(
                session, account.id, service=service, remote=remote
            )
            return PasswordOutcome(None, failures=state.failures)
        await mark_used(session, matched)
        await throttle.record_success(session, account.id)
        if acting_for is None or acting_for.strip().lower() == account.address:
            return PasswordOutcome(MailLogin(account.id, account.address, account.kind))
        dependant = await guardians.may_act_for(session, account, acting_for)
        if dependant is None:
            return PasswordOutcome(None, forbidden=True)
        await audit.append(
            session, account_id=dependant.id, actor=f"account:{account.id}",
            action="mailbox.guardian_login", detail={"service": service},
        )  # fmt: skip
        return PasswordOutcome(
            MailLogin(dependant.id, dependant.address, dependant.kind, guardian_id=account.id)
        )


def configure_password_checks(workers: int, queue: int) -> None:
    """Size the process's pool of password checks, shared by every mail listener: ``workers``
    checks at once, ``queue`` more waiting (``[mail_login]`` settings)."""
    password_checks.configure(workers, queue)


async def token_login(
    sessions: async_sessionmaker[AsyncSession],
    signer: TokenSigner | None,
    user: str,
    token: str,
    *,
    service: str,
) -> MailLogin:
    """The account a token (XOAUTH2 / OAUTHBEARER) logs in; raises :class:`TokenError`."""
    if signer is None:
        raise TokenError("tokens are not configured")
    claims = signer.verify(token, service)
    if user and user.strip().lower() != claims.address:
        raise TokenError("token issued for another account")
    async with sessions() as session:
        account = await account_by_address(session, claims.address)
        if account is None or account.id != claims.account_id:
            raise TokenError("unknown account")
        if account.status != "active" or await throttle.is_locked(session, account.id):
            raise TokenError("account not available")
        return MailLogin(account.id, account.address, account.kind)


def parse_bearer_response(mechanism: str, decoded: bytes) -> tuple[str, str]:
    """(user, token) of a decoded XOAUTH2 or OAUTHBEARER (RFC 7628) initial response; raises
    ValueError when it is malformed. The user may be empty for OAUTHBEARER."""
    text = decoded.decode("utf-8", "replace")
    fields = text.split("\x01")
    if mechanism == "XOAUTH2":
        if not fields[0].startswith("user="):
            raise ValueError("malformed XOAUTH2 response")
        user = fields[0][5:]
    else:
        gs2 = fields[0].split(",")
        if len(gs2) < 2 or gs2[0] not in ("n", "y"):
            raise ValueError("malformed OAUTHBEARER response")
        user = gs2[1][2:] if gs2[1].startswith("a=") else ""
    auth = next((f[5:] for f in fields[1:] if f.startswith("auth=")), None)
    if auth is None or not auth.lower().startswith("bearer "):
        raise ValueError(f"malformed {mechanism} response")
    return user, auth[7:].strip()
