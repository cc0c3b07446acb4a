"""IMAP sequence sets (RFC 9051 §9 ``sequence-set``): ``1``, ``2:4``, ``7:*``, ``*``, ``1,3:5``,
and ``$`` (SEARCHRES, the saved search result).

A set is parsed once into ranges where ``*`` stays symbolic, then resolved against the mailbox's
largest number (message count or highest UID) when the command runs: ``*`` means that number,
and ``n:m`` is the same range as ``m:n``. An empty mailbox resolves every set to nothing.
Resolve once per command, not once per message: :meth:`SequenceSet.spans` gives merged spans
whose membership test is a bisection, so a set of many ranges costs log(ranges) a message.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

STAR = -1  # stands for "*" until resolved
MAX_NUMBER = 2**32 - 1  # nz-number is a 32-bit unsigned integer
MAX_RANGES = 10_000  # more comma-separated parts than any client sends

_NUMBER = re.compile(r"[1-9][0-9]{0,9}")


class SequenceSetError(ValueError):
    """Not a valid sequence set."""


@dataclass(frozen=True)
class SequenceSet:
    """Ranges as written; ``saved`` for ``$`` (the result of the last SEARCH ... SAVE)."""

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """Parse the wire form, refusing anything RFC 9051 does not allow."""
        if text == "$":
            return cls(saved=True)
        parts = text.split(",")
        if len(parts) > MAX_RANGES:
            raise SequenceSetError(f"more than {MAX_RANGES} ranges")
        ranges = []
        for part in parts:
            low, sep, high = part.partition(":")
            first = _number(low)
            ranges.append((first, _number(high) if sep else first))
        return cls(tuple(ranges))

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, inclusive ranges within 1..largest (empty when largest is 0).

        A range entirely above ``largest`` contributes nothing; one that straddles it is cut.
        """
        if self.saved:
            raise SequenceSetError("$ must be resolved by the session")
        if largest <= 0:
            return []
        spans = []
        for a, b in self.ranges:
            a = largest if a == STAR else a
            b = largest if b == STAR else b
            low, high = min(a, b), max(a, b)
            if low > largest:
                continue
            spans.append((low, min(high, largest)))
        return merge(spans)

    def spans(self, largest: int) -> Spans:
        """The resolved set (see :meth:`resolve`), for membership tests."""
        return Spans(self.resolve(largest))

    def numbers(self, largest: int) -> Iterator[int]:
        """Each number of the resolved set, in increasing order."""
        for low, high in self.resolve(largest):
            yield from range(low, high + 1)

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(_fmt(a) if a == b else f"{_fmt(a)}:{_fmt(b)}" for a, b in self.ranges)


class Spans:
    """Sorted, disjoint, inclusive ranges (as :func:`merge` returns them); ``n in spans`` is a
    bisection over the ranges' starts."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, merged: Iterable[tuple[int, int]]) -> None:
        merged = list(merged)
        self._starts = [low for low, _ in merged]
        self._ends = [high for _, high in merged]

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        index = bisect_right(self._starts, number) - 1
        return index >= 0 and number <= self._ends[index]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends, strict=True)


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort inclusive ranges and merge those that overlap or touch."""
    out: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if out and low <= out[-1][1] + 1:
            if high > out[-1][1]:
                out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out


def compress(numbers: Iterable[int]) -> str:
    """The shortest sequence set listing ``numbers`` (for UIDPLUS and ESEARCH answers)."""
    spans = merge((n, n) for n in numbers)
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in spans)


def _number(text: str) -> int:
    if text == "*":
        return STAR
    if not _NUMBER.fullmatch(text) or int(text) > MAX_NUMBER:
        raise SequenceSetError(f"invalid number in sequence set: {text[:20]!r}")
    return int(text)


def _fmt(n: int) -> str:
    return "*" if n == STAR else str(n)
