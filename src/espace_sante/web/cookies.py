"""Cookie names and attributes (RFC 6265bis): Secure, HttpOnly, SameSite=Strict, Path=/.

With ``[web] cookie_secure`` (production) the names carry the ``__Host-`` prefix, which browsers
accept only for Secure, host-only cookies with ``Path=/``: a sub-domain cannot plant them.
"""

from __future__ import annotations

from espace_sante.config import Settings

SESSION = "espace_session"
PRE_SESSION = "espace_pre"


def name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if settings.web.cookie_secure else base


def set_cookie_header(settings: Settings, base: str, value: str) -> str:
    """A ``Set-Cookie`` value for a session cookie (no Max-Age: gone when the browser closes)."""
    secure = "; Secure" if settings.web.cookie_secure else ""
    return f"{name(settings, base)}={value}; Path=/; HttpOnly; SameSite=Strict{secure}"


def clear_cookie_header(settings: Settings, base: str) -> str:
    secure = "; Secure" if settings.web.cookie_secure else ""
    return (
        f"{name(settings, base)}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
        f"HttpOnly; SameSite=Strict{secure}"
    )
