"""Who may send into the inbound MX, to whom, and how large."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from espace_sante.policy.verdicts import (
    ACCEPT,
    MESSAGE_TOO_LARGE,
    SENDER_DOMAIN_NOT_TRUSTED,
    SENDER_NOT_IN_DIRECTORY,
    SENDER_NOT_PROFESSIONAL,
    SPACE_CLOSED,
    SPACE_NOT_ACTIVE,
    SPACE_OPPOSED,
    UNKNOWN_PATIENT,
    Verdict,
)


@dataclass(frozen=True)
class SenderFacts:
    address: str
    domain_allowed: bool
    in_directory: bool
    is_patient_domain: bool


def check_sender(f: SenderFacts) -> Verdict:
    """Only a professional of the trust space (allow-listed domain, address in the directory)
    may write to a patient through the MX; a patient address never may."""
    if f.is_patient_domain:
        return SENDER_NOT_PROFESSIONAL
    if not f.domain_allowed:
        return SENDER_DOMAIN_NOT_TRUSTED
    if not f.in_directory:
        return SENDER_NOT_IN_DIRECTORY
    return ACCEPT


class SpaceStatus(StrEnum):
    CREATED = "created"
    ACTIVE = "active"
    OPPOSED = "opposed"
    CLOSED = "closed"


@dataclass(frozen=True)
class RecipientFacts:
    exists: bool
    status: SpaceStatus | None


def check_recipient(f: RecipientFacts) -> Verdict:
    if not f.exists or f.status is None:
        return UNKNOWN_PATIENT
    return {
        SpaceStatus.ACTIVE: ACCEPT,
        SpaceStatus.CLOSED: SPACE_CLOSED,
        SpaceStatus.OPPOSED: SPACE_OPPOSED,
        SpaceStatus.CREATED: SPACE_NOT_ACTIVE,
    }[f.status]


def check_size(size: int, limit: int) -> Verdict:
    return MESSAGE_TOO_LARGE if size > limit else ACCEPT
