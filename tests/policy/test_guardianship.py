"""Who may act for a dependant: majority, revocation, an earlier end, the guardian's own state."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from espace_sante.policy.guardianship import GuardianshipFacts, is_minor, majority_date, may_act

BORN = date(2012, 6, 30)


@pytest.mark.parametrize(
    ("birth", "majority"),
    [(date(2012, 6, 30), date(2030, 6, 30)), (date(2012, 2, 29), date(2030, 3, 1))],
)
def test_majority_date(birth: date, majority: date) -> None:
    assert majority_date(birth) == majority
    assert is_minor(birth, majority - timedelta(days=1))
    assert not is_minor(birth, majority)


@pytest.mark.parametrize(
    ("ends_on", "revoked", "guardian_active", "today", "allowed"),
    [
        (None, False, True, date(2026, 11, 25), True),
        (None, False, True, date(2030, 6, 29), True),  # the eve of the 18th birthday
        (None, False, True, date(2030, 6, 30), False),  # majority: the young adult takes over
        (date(2027, 1, 1), False, True, date(2026, 12, 31), True),
        (date(2027, 1, 1), False, True, date(2027, 1, 1), False),  # an earlier end by decision
        (date(2040, 1, 1), False, True, date(2031, 1, 1), False),  # never past majority
        (None, True, True, date(2026, 11, 25), False),  # revoked
        (None, False, False, date(2026, 11, 25), False),  # the guardian's account is closed
    ],
)
def test_may_act(
    ends_on: date | None, revoked: bool, guardian_active: bool, today: date, allowed: bool
) -> None:
    facts = GuardianshipFacts(BORN, ends_on, revoked, guardian_active)
    assert may_act(facts, today) is allowed
