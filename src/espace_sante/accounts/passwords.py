"""Patient web passwords: the strength rules (French messages) and argon2id hashing.

Passwords are normalised to Unicode NFKC before hashing and checking, so the same password typed
on two keyboards (composed or decomposed accents, full-width digits) is the same password.
"""

from __future__ import annotations

import asyncio
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
#: A few passwords everybody tries first; the length rule already excludes most of the others.
COMMON = frozenset(
    {
        "motdepasse123",
        "motdepasse1234",
        "azertyuiop123",
        "azertyuiop1234",
        "123456789abc",
        "password1234",
        "qwertyuiop123",
        "bonjour123456",
        "soleil123456",
    }
)

_hasher = PasswordHasher()  # argon2id
#: A hash of nothing, checked when the account is unknown so both answers take the same time.
_DUMMY_HASH = _hasher.hash("espace-sante: no such account")


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def strength_problems(password: str, personal: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with ``password`` (French, for the form), or an empty list.

    ``personal`` holds what must not appear in it (INS, e-mail local part, names).
    """
    pw = normalise(password)
    problems = []
    if len(pw) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit comporter au moins {MIN_LENGTH} caractères.")
    if len(pw) > MAX_LENGTH:
        problems.append(f"Le mot de passe doit comporter au plus {MAX_LENGTH} caractères.")
    if any(unicodedata.category(ch).startswith("C") for ch in pw):
        problems.append("Le mot de passe ne doit pas contenir de caractère de contrôle.")
    kinds = sum(
        (
            any(ch.islower() for ch in pw),
            any(ch.isupper() for ch in pw),
            any(ch.isdigit() for ch in pw),
            any(not ch.isalnum() for ch in pw),
        )
    )
    if kinds < 3:
        problems.append(
            "Le mot de passe doit mêler au moins trois types de caractères parmi : minuscules, "
            "majuscules, chiffres et caractères spéciaux."
        )
    lowered = pw.casefold()
    if len(set(lowered)) < 5:
        problems.append("Le mot de passe est trop répétitif.")
    if lowered in COMMON:
        problems.append("Ce mot de passe est trop courant.")
    for item in personal:
        item = item.casefold().strip()
        if len(item) >= 4 and item in lowered:
            problems.append(
                "Le mot de passe ne doit pas contenir votre identifiant, votre adresse "
                "ou votre nom."
            )
            break
    return problems


async def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (computed in a thread)."""
    return await asyncio.to_thread(_hasher.hash, normalise(password))


async def verify_password(digest: str | None, password: str) -> bool:
    """Whether ``password`` matches ``digest``; with ``digest`` None, spend the same time and
    answer False (an unknown account must not answer faster)."""
    candidate = normalise(password)
    if len(candidate) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, digest or _DUMMY_HASH, candidate, digest is not None)


def _verify(digest: str, candidate: str, real: bool) -> bool:
    try:
        return _hasher.verify(digest, candidate) and real
    except (VerificationError, InvalidHashError):
        return False
