"""Short-lived access tokens for our own mail servers (SASL XOAUTH2 / OAUTHBEARER).

The webmail logs a patient in, then talks IMAP and SMTP submission to our servers like any mail
client, with a token instead of a password. A token is ``<claims>.<signature>`` in base64url:
the claims say whose account (id and address), for which services, until when; the signature is
HMAC-SHA256 with a key derived (HKDF) from the master key, so every worker process can check it
and none is stored. Tokens expire after minutes; there is no revocation list, which is why they
must stay short-lived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from espace_sante.config import Settings
from espace_sante.storage.crypto import load_master_key

DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 3600
MAX_TOKEN_LENGTH = 2048
SERVICES = frozenset({"imap", "submission"})


class TokenError(ValueError):
    """The token cannot be used: malformed, forged, expired, or for another service."""


@dataclass(frozen=True)
class TokenClaims:
    account_id: int
    address: str
    services: frozenset[str]
    expires_at: int
    token_id: str


class TokenSigner:
    """Issues and checks access tokens with one derived key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSigner:
        master = load_master_key(settings.master_key_file)
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"espace-sante access tokens v1",
        ).derive(master)
        return cls(key)

    def issue(
        self,
        account_id: int,
        address: str,
        services: frozenset[str] = SERVICES,
        ttl: int = DEFAULT_TTL_SECONDS,
        now: float | None = None,
    ) -> str:
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl: 1..{MAX_TTL_SECONDS} seconds")
        if not services <= SERVICES:
            raise ValueError(f"unknown services: {sorted(services - SERVICES)}")
        claims = {
            "sub": account_id,
            "addr": address.lower(),
            "svc": sorted(services),
            "exp": int((now or time.time()) + ttl),
            "jti": secrets.token_urlsafe(12),
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._sign(body))}"

    def verify(self, token: str, service: str, now: float | None = None) -> TokenClaims:
        """The claims of a valid token for ``service``; raises :class:`TokenError` otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TokenError("malformed token")
        body, signature = token.split(".")
        try:
            given = _unb64(signature)
            claims = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("malformed token") from exc
        if not hmac.compare_digest(given, self._sign(body)):
            raise TokenError("bad signature")
        try:
            parsed = TokenClaims(
                account_id=int(claims["sub"]),
                address=str(claims["addr"]),
                services=frozenset(str(s) for s in claims["svc"]),
                expires_at=int(claims["exp"]),
                token_id=str(claims["jti"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenError("malformed claims") from exc
        if parsed.expires_at <= (now or time.time()):
            raise TokenError("expired token")
        if service not in parsed.services:
            raise TokenError(f"token not valid for {service}")
        return parsed

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(ch not in _B64_CHARS for ch in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
