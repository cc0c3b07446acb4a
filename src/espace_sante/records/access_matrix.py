"""Stand-in: replaced by the record-pure branch's access_matrix.py at merge.

Which document types each profession may read (the arrêté of 26 October 2023). This stand-in
only keeps the API: doctors (profession code 10) read every type; other professions every type
whose class is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from espace_sante.records.codes import class_for_type


@dataclass(frozen=True)
class AccessMatrix:
    doctors: frozenset[str] = frozenset({"10"})

    def may_read(self, profession_code: str, type_code: str | None) -> bool:
        """May a professional of ``profession_code`` read a document of ``type_code``?"""
        if profession_code in self.doctors:
            return True
        return class_for_type(type_code) is not None


@cache
def load_access_matrix() -> AccessMatrix:
    """The access matrix (loaded once)."""
    return AccessMatrix()
