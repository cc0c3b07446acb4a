"""Who is logged in: what the pages get in ``request.state.account``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebAccount:
    """The patient of an authenticated request."""

    account_id: int
    address: str
    display_name: str
