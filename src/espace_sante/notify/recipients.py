"""Who receives an account's notices: its holder and the guardians acting for it today.

Only an active space gets notices. For a dependant the guardians in force receive them too
(``accounts.guardians.guardians_in_force``), each address or phone once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.accounts.contacts import mobile_phone
from espace_sante.accounts.guardians import guardians_in_force
from espace_sante.storage.schema import Account


async def _people(session: AsyncSession, account_id: int) -> list[Account]:
    account = await session.get(Account, account_id)
    if account is None or account.status != "active":
        return []
    return [account, *await guardians_in_force(session, account.id)]


async def notice_addresses(session: AsyncSession, account_id: int) -> list[str]:
    """The personal e-mail addresses the account's notices go to (lower-cased, each once)."""
    people = await _people(session, account_id)
    return list(dict.fromkeys(p.personal_email.lower() for p in people if p.personal_email))


async def notice_phones(session: AsyncSession, account_id: int) -> list[str]:
    """The mobile phones (E.164) of the same people, each once."""
    phones = [await mobile_phone(session, p.id) for p in await _people(session, account_id)]
    return list(dict.fromkeys(p for p in phones if p))
