"""Where a person can be reached outside their space: the fact-getters notices use.

The personal e-mail address is on the account; the mobile phone is the one the patient gave at
activation for their login codes (``web_credentials``), E.164.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.storage.schema import WebCredential


async def mobile_phone(session: AsyncSession, account_id: int) -> str | None:
    """The account's mobile phone (E.164), or None when it gave none."""
    phone = (
        await session.execute(
            select(WebCredential.mobile_phone).where(WebCredential.account_id == account_id)
        )
    ).scalar_one_or_none()
    return phone or None
