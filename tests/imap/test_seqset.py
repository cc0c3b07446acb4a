"""Sequence sets: parsing, resolution against the mailbox size, and compression."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from espace_sante.mailbox.imap.seqset import (
    MAX_NUMBER,
    SequenceSet,
    SequenceSetError,
    compress,
)


@pytest.mark.parametrize(
    ("text", "largest", "expected"),
    [
        ("1", 5, [1]),
        ("2:4", 5, [2, 3, 4]),
        ("4:2", 5, [2, 3, 4]),
        ("*", 5, [5]),
        ("3:*", 5, [3, 4, 5]),
        ("*:3", 5, [3, 4, 5]),
        ("1,3,5", 5, [1, 3, 5]),
        ("1:3,2:4", 5, [1, 2, 3, 4]),
        ("7", 5, []),  # beyond the mailbox
        ("4:9", 5, [4, 5]),  # straddles it
        ("9:*", 5, [5]),  # RFC 9051 §6.4.8: "n:*" with n > largest is largest
        ("*", 0, []),
        ("1:*", 0, []),
    ],
)
def test_resolution(text: str, largest: int, expected: list[int]) -> None:
    assert list(SequenceSet.parse(text).numbers(largest)) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0", "1:", ":1", "1,,2", "a", "1:2:3", "-1", "01", "4294967296", "1 2", "1;2", "**", "$$"],
)
def test_invalid_sets_are_refused(text: str) -> None:
    with pytest.raises(SequenceSetError):
        SequenceSet.parse(text)


def test_saved_result_marker() -> None:
    s = SequenceSet.parse("$")
    assert s.saved and str(s) == "$"
    with pytest.raises(SequenceSetError):
        s.resolve(3)


numbers = st.integers(min_value=1, max_value=300)
ends = st.one_of(numbers, st.just("*"))
ranges = st.lists(st.tuples(ends, st.one_of(st.none(), ends)), min_size=1, max_size=20)


def _text(parts: list[tuple[int | str, int | str | None]]) -> str:
    return ",".join(f"{a}" if b is None else f"{a}:{b}" for a, b in parts)


@given(ranges, st.integers(min_value=0, max_value=400))
def test_resolution_matches_a_brute_force_reading(
    parts: list[tuple[int | str, int | str | None]], largest: int
) -> None:
    def value(x: int | str) -> int:
        return largest if x == "*" else int(x)

    expected: set[int] = set()
    if largest:
        for a, b in parts:
            low, high = sorted((value(a), value(a if b is None else b)))
            expected |= {n for n in range(low, high + 1) if n <= largest}
    s = SequenceSet.parse(_text(parts))
    assert list(s.numbers(largest)) == sorted(expected)
    assert SequenceSet.parse(str(s)) == s


@given(st.sets(st.integers(min_value=1, max_value=MAX_NUMBER), max_size=50))
def test_compress_round_trips(values: set[int]) -> None:
    text = compress(values)
    if not values:
        assert text == ""
        return
    assert set(SequenceSet.parse(text).numbers(max(values))) == values
    assert len(text) <= len(",".join(map(str, sorted(values))))


@given(ranges, st.integers(min_value=0, max_value=400), st.integers(min_value=-5, max_value=405))
def test_spans_membership_is_the_resolved_set(
    parts: list[tuple[int | str, int | str | None]], largest: int, probe: int
) -> None:
    """``n in set.spans(largest)`` (a bisection, resolved once per command) answers as the
    resolved numbers do, for every number, in range or not."""
    parsed = SequenceSet.parse(_text(parts))
    assert (probe in parsed.spans(largest)) == (probe in set(parsed.numbers(largest)))
