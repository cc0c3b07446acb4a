"""Who is logged in, and whose space they are in: what the pages get in
``request.state.account``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebAccount:
    """The space of an authenticated request.

    ``account_id``/``address``/``display_name`` are the space's holder: the logged-in patient, or
    the dependant a guardian switched to. ``guardian`` is then the logged-in guardian (their own
    account), else None. Mail and record pages act on the space; account pages (password,
    sessions) act on :attr:`person`.
    """

    account_id: int
    address: str
    display_name: str
    guardian: WebAccount | None = None

    @property
    def person(self) -> WebAccount:
        """The logged-in person (the guardian when they act for a dependant)."""
        return self.guardian or self
