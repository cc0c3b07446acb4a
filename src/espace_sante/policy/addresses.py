"""Envelope addresses and patient addresses (``<INS matricule>@<patient domain>``)."""

from __future__ import annotations

from dataclasses import dataclass

from espace_sante.policy import ins
from espace_sante.policy.verdicts import ACCEPT, MALFORMED_ADDRESS, NOT_PATIENT_DOMAIN, Verdict

_FORBIDDEN_IN_LOCAL = frozenset(' \t\r\n<>()[]\\,;:"@')


@dataclass(frozen=True)
class Mailbox:
    local: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


def parse_mailbox(addr: str) -> Mailbox | None:
    """A bare envelope address, or None when malformed. The domain is lower-cased; the local
    part is kept as given (it may be UTF-8 under SMTPUTF8)."""
    if not isinstance(addr, str) or not addr or len(addr) > 254:
        return None
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or len(local) > 64:
        return None
    if any(ch in _FORBIDDEN_IN_LOCAL or not ch.isprintable() for ch in local):
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    domain = domain.lower()
    if domain.startswith("[") and domain.endswith("]"):
        return None  # address literals are not part of the trust space
    labels = domain.split(".")
    if len(labels) < 2 or any(not _valid_label(label) for label in labels):
        return None
    return Mailbox(local, domain)


def _valid_label(label: str) -> bool:
    if not 1 <= len(label) <= 63 or label.startswith("-") or label.endswith("-"):
        return False
    return all(ch.isalnum() or ch == "-" for ch in label)


def patient_address(matricule: str, patient_domain: str) -> str:
    return f"{ins.normalise_matricule(matricule)}@{patient_domain.lower()}"


def classify_recipient(addr: str, patient_domain: str) -> tuple[Verdict, str | None]:
    """For RCPT TO: (ACCEPT, matricule) for a well-formed patient address of our domain;
    NOT_PATIENT_DOMAIN for another domain; MALFORMED_ADDRESS or BAD_INS_KEY otherwise."""
    mailbox = parse_mailbox(addr)
    if mailbox is None:
        return MALFORMED_ADDRESS, None
    if mailbox.domain != patient_domain.lower():
        return NOT_PATIENT_DOMAIN, None
    matricule = mailbox.local.upper()
    verdict = ins.check_matricule(matricule)
    if not verdict.accepted:
        return verdict, None
    return ACCEPT, matricule
