"""Fixtures of the SMTP tests: a seeded trust space and a gateway listening on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from espace_sante.config import Settings
from espace_sante.mta.server import InboundListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.seed import CARDIO, DOCTOR, PHARMACY, UNLISTED_DOCTOR, Seeded, seed_trust_space

__all__ = ["CARDIO", "DOCTOR", "PHARMACY", "UNLISTED_DOCTOR", "Seeded", "seed_trust_space"]


@pytest.fixture
async def gateway(
    settings: Settings, storage: Storage, seeded: Seeded
) -> AsyncIterator[InboundListener]:
    listener = InboundListener(settings, storage)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop(grace=10)


@pytest.fixture
def client_tls(pki: DevPki) -> ssl.SSLContext:
    """What an operator's MTA uses: our CA to verify us, its client certificate to be known."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return ctx


@pytest.fixture
def strict_settings(settings: Settings, pki: DevPki) -> Settings:
    """Settings that require a client certificate from the (development) trust-space CA."""
    return replace(settings, smtp=replace(settings.smtp, trust_ca_file=str(pki.ca_cert)))
