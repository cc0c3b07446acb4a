"""Group commit: concurrent deliveries share transactions, yet each gets its own outcome, UIDs
stay unique and increasing, and a delivery that cannot be written does not fail the others."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from espace_sante.mta.delivery import Delivering, DeliveryOutcome, PreparedMessage
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.store_queries import inbox

from .conftest import Seeded


def _message(seeded: Seeded, n: int) -> tuple[bytes, email.message.EmailMessage]:
    raw = clinician_message(
        sender="dr.dupont@medecin.mssante.fr",
        patient_ins=seeded.active.ins,
        with_xdm=False,
        message_id=f"<group-{n}@medecin.mssante.fr>",
        subject=f"message {n}",
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return raw, parsed


async def _deliver(d: Delivering, seeded: Seeded, n: int) -> DeliveryOutcome:
    raw, parsed = _message(seeded, n)
    return await d.deliver(
        raw=raw,
        parsed=parsed,
        envelope_sender="dr.dupont@medecin.mssante.fr",
        recipients=[seeded.active],
        received_at=datetime.now(UTC),
    )


async def test_concurrent_deliveries_are_grouped_and_each_stored(
    storage: Storage, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = Delivering(storage)
    transactions: dict[int, Session] = {}  # kept alive, so that no id is reused
    original = Delivering._write

    def write(
        self: Delivering, session: Session, p: PreparedMessage, at: datetime
    ) -> DeliveryOutcome:
        transactions[id(session)] = session
        return original(self, session, p, at)

    monkeypatch.setattr(Delivering, "_write", write)
    outcomes = await asyncio.gather(*(_deliver(d, seeded, n) for n in range(40)))
    assert all(o.delivered == [seeded.active.address] for o in outcomes)
    messages = await inbox(storage, seeded.active.account_id)
    uids = [m.uid for m in messages]
    assert len(uids) == 40 and uids == sorted(set(uids))
    assert sorted(m.subject for m in messages) == sorted(f"message {n}" for n in range(40))
    assert len(transactions) < 40  # some transactions carried several deliveries


async def test_a_failing_delivery_does_not_fail_its_group(
    storage: Storage, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = Delivering(storage)
    original = Delivering._write

    def write(
        self: Delivering, session: Session, p: PreparedMessage, at: datetime
    ) -> DeliveryOutcome:
        if p.subject == "message 3":
            raise RuntimeError("disk on fire")
        return original(self, session, p, at)

    monkeypatch.setattr(Delivering, "_write", write)
    results = await asyncio.gather(
        *(_deliver(d, seeded, n) for n in range(8)), return_exceptions=True
    )
    failed = [n for n, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [3]
    subjects = sorted(m.subject for m in await inbox(storage, seeded.active.account_id))
    assert subjects == sorted(f"message {n}" for n in range(8) if n != 3)
    # the failed message's blob was removed: only the stored messages' blobs remain
    blob_dir = Path(storage.settings.data_dir) / "blobs"
    stored_files = [p for p in blob_dir.rglob("*") if p.is_file()]
    assert len(stored_files) == 7 * 2  # each message and its PDF


async def test_the_same_message_twice_in_one_group_is_stored_once(
    storage: Storage, seeded: Seeded
) -> None:
    d = Delivering(storage)
    first, second = await asyncio.gather(_deliver(d, seeded, 1), _deliver(d, seeded, 1))
    assert sorted([len(first.delivered), len(second.delivered)]) == [0, 1]
    assert len(await inbox(storage, seeded.active.account_id)) == 1
