"""Who may act for a dependant (a minor's space): pure rules; ``accounts.guardians`` stores it.

A guardian (parent or legal representative) reads and manages a minor's space with their own
login, never with a shared password. The access ends at the dependant's majority (18 in France);
the young adult then activates their own access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MAJORITY_AGE = 18


@dataclass(frozen=True)
class GuardianshipFacts:
    dependant_birth_date: date
    ends_on: date | None  # an earlier end set by a decision, else the majority
    revoked: bool
    guardian_active: bool  # the guardian's own account is usable


def majority_date(birth_date: date) -> date:
    """The day the dependant turns 18 (29 February births come of age on 1 March)."""
    try:
        return birth_date.replace(year=birth_date.year + MAJORITY_AGE)
    except ValueError:
        return date(birth_date.year + MAJORITY_AGE, 3, 1)


def is_minor(birth_date: date, today: date) -> bool:
    return today < majority_date(birth_date)


def may_act(facts: GuardianshipFacts, today: date) -> bool:
    """Whether the guardian may act for the dependant today."""
    if facts.revoked or not facts.guardian_active:
        return False
    end = majority_date(facts.dependant_birth_date)
    if facts.ends_on is not None:
        end = min(end, facts.ends_on)
    return today < end
