"""Who acts on a record from a web request: the patient, or a guardian in a dependant's space."""

from __future__ import annotations

from starlette.requests import Request

from espace_sante.records.access import Caller
from espace_sante.web.auth import WebAccount


def space_of(request: Request) -> WebAccount:
    """The space of the request (the security middleware has checked the login)."""
    account = request.state.account
    assert isinstance(account, WebAccount)
    return account


def caller_for(request: Request) -> Caller:
    """The record's caller for the logged-in person in the request's space."""
    space = space_of(request)
    if space.guardian is not None:
        return Caller.guardian(space.guardian.account_id, space.guardian.address)
    return Caller.patient(space.account_id, space.address)
