"""The record's access matrix: which profession may read which document type.

In charge of: loading the packaged table ``records/data/access_matrix.csv`` (profession ×
type code, arrêté of 26 October 2023 — see the file's header for what is inferred) into a
frozen :class:`AccessMatrix` that the pure access policy takes as a fact.
Not in charge of: the rest of the access decision (authorisation, blocking, masking, the
attending physician, emergencies), which belongs to ``policy``.

Rules of the lookup:
- a profession code not in the table reads as the ``autre`` column;
- a document with no type code, or a type code not in the table, is readable by doctors
  (profession 10) only: the safe default while the table lags behind new codes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_COLUMN",
    "DOCTOR",
    "SOCIAL_COLUMN",
    "AccessMatrix",
    "AccessMatrixError",
    "load_access_matrix",
    "parse_access_matrix",
]

DOCTOR: Final = "10"
"""TRE_G15 profession code of doctors (médecin)."""
SOCIAL_COLUMN: Final = "social"
"""Column of social and medico-social professionals."""
DEFAULT_COLUMN: Final = "autre"
"""Column used for any profession code the table does not list."""

_VERSION_PREFIX: Final = "# version:"


class AccessMatrixError(ValueError):
    """The access-matrix file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class AccessMatrix:
    """The matrix as plain facts: no I/O after loading.

    ``readers`` maps each type code to the frozenset of columns (profession codes, ``social``,
    ``autre``) that may read it.
    """

    version: str
    professions: tuple[str, ...]
    readers: MappingProxyType[str, frozenset[str]]

    def column_for(self, profession_code: str | None) -> str:
        """The column that applies to a profession code (``autre`` when not listed)."""
        code = (profession_code or "").strip()
        return code if code in self.professions else DEFAULT_COLUMN

    def may_read(self, profession_code: str | None, type_code: str | None) -> bool:
        """Whether this profession may read documents of this type (see the module's rules)."""
        column = self.column_for(profession_code)
        readers = self.readers.get((type_code or "").strip())
        if readers is None:
            return column == DOCTOR
        return column in readers

    def readable_types(self, profession_code: str | None) -> frozenset[str]:
        """Every listed type code this profession may read."""
        column = self.column_for(profession_code)
        return frozenset(t for t, cols in self.readers.items() if column in cols)


def parse_access_matrix(text: str) -> AccessMatrix:
    """Parse the CSV text of an access matrix; :class:`AccessMatrixError` names the bad line."""
    version: str | None = None
    header: list[str] | None = None
    readers: dict[str, frozenset[str]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.lower().startswith(_VERSION_PREFIX):
                if version is not None:
                    raise AccessMatrixError(f"line {lineno}: second version line")
                version = line[len(_VERSION_PREFIX) :].strip()
                if not version:
                    raise AccessMatrixError(f"line {lineno}: empty version")
            continue
        fields = [f.strip() for f in next(csv.reader(io.StringIO(line)))]
        if header is None:
            if not fields or fields[0] != "type_code":
                raise AccessMatrixError(f"line {lineno}: the header must start with type_code")
            columns = fields[1:]
            if len(set(columns)) != len(columns) or not all(columns):
                raise AccessMatrixError(f"line {lineno}: empty or repeated column")
            for needed in (DOCTOR, SOCIAL_COLUMN, DEFAULT_COLUMN):
                if needed not in columns:
                    raise AccessMatrixError(f"line {lineno}: missing column {needed!r}")
            header = columns
            continue
        if len(fields) != len(header) + 1:
            raise AccessMatrixError(
                f"line {lineno}: {len(fields)} fields, expected {len(header) + 1}"
            )
        type_code, cells = fields[0], fields[1:]
        if not type_code:
            raise AccessMatrixError(f"line {lineno}: empty type code")
        if type_code in readers:
            raise AccessMatrixError(f"line {lineno}: duplicate type code {type_code!r}")
        bad = [c for c in cells if c not in ("0", "1")]
        if bad:
            raise AccessMatrixError(f"line {lineno}: cell {bad[0]!r} is neither 0 nor 1")
        allowed = (col for col, v in zip(header, cells, strict=True) if v == "1")
        readers[type_code] = frozenset(allowed)
    if version is None:
        raise AccessMatrixError("no '# version:' line")
    if header is None:
        raise AccessMatrixError("no header line")
    return AccessMatrix(version, tuple(header), MappingProxyType(readers))


@cache
def load_access_matrix() -> AccessMatrix:
    """The packaged access matrix (read once, then cached)."""
    text = resources.files(__package__).joinpath("data/access_matrix.csv").read_text("utf-8")
    return parse_access_matrix(text)
