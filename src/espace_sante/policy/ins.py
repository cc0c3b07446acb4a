"""The INS (Identifiant National de Santé): matricule syntax and key, and the accepted OIDs.

A matricule is 15 characters: 13 (a NIR, or a NIA built the same way) plus a 2-digit key equal
to ``97 − (number mod 97)``, with the Corsican departments ``2A``/``2B`` read as ``19``/``18``.
python-stdnum's ``stdnum.fr.nir`` implements exactly that check.
"""

from __future__ import annotations

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import nir

from espace_sante.policy.verdicts import ACCEPT, BAD_INS_KEY, MALFORMED_ADDRESS, Verdict

INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS_NIA_OID = "1.2.250.1.213.1.4.9"
TEST_NIR_OID = "1.2.250.1.213.1.4.10"
DEMO_NIR_OID = "1.2.250.1.213.1.4.11"

_ALLOWED_CHARS = frozenset("0123456789AB")


def accepted_oids(accept_test: bool) -> frozenset[str]:
    """The INS OIDs accepted; test and demo OIDs only when configured (never in production)."""
    oids = {INS_NIR_OID, INS_NIA_OID}
    if accept_test:
        oids |= {TEST_NIR_OID, DEMO_NIR_OID}
    return frozenset(oids)


def normalise_matricule(text: str) -> str:
    """Strip spaces and upper-case (``2a`` → ``2A``)."""
    return "".join(text.split()).upper()


def check_matricule(matricule: str) -> Verdict:
    """ACCEPT, MALFORMED_ADDRESS (length or characters) or BAD_INS_KEY."""
    if len(matricule) != 15 or not set(matricule) <= _ALLOWED_CHARS:
        return MALFORMED_ADDRESS
    try:
        nir.validate(matricule)
    except InvalidChecksum:
        return BAD_INS_KEY
    except (ValidationError, ValueError):
        return MALFORMED_ADDRESS
    return ACCEPT
