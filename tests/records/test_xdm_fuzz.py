"""Fuzzing the XDM reader: anything but XdmError is a bug."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espace_sante.records.xdm import XdmError, read_xdm
from fixtures import mssante

VALID = mssante.build_xdm_zip(mssante.valid_nir("2800175123456"), with_pdf_document=True)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    with contextlib.suppress(XdmError):
        read_xdm(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=40))
def test_mutated_valid_archives(seed: int, flips: int) -> None:
    rng = random.Random(seed)
    data = bytearray(VALID)
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    with contextlib.suppress(XdmError):
        read_xdm(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID)))
def test_truncated_archives(cut: int) -> None:
    with contextlib.suppress(XdmError):
        read_xdm(VALID[:cut])
