"""The access matrix: the loader agrees with the file cell by cell, and the principles hold."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from espace_sante.records import codes
from espace_sante.records.access_matrix import (
    AccessMatrix,
    AccessMatrixError,
    load_access_matrix,
    parse_access_matrix,
)

RESIDENCE_CERTIFICATE = "ATTEST-RESID"
HEALTH_PROFESSIONS = (
    "10",
    "21",
    "40",
    "50",
    "60",
    "70",
    "80",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "91",
    "92",
    "94",
    "95",
    "96",
    "98",
    "26",
    "28",
)


def _file_text() -> str:
    return resources.files("espace_sante.records").joinpath("data/access_matrix.csv").read_text()


def _rows() -> tuple[list[str], list[list[str]]]:
    lines = [line for line in _file_text().splitlines() if line and not line.startswith("#")]
    reader = csv.reader(lines)
    header = next(reader)
    return header[1:], list(reader)


COLUMNS, ROWS = _rows()
MATRIX = load_access_matrix()


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_loader_agrees_with_the_file(row: list[str]) -> None:
    type_code, cells = row[0], row[1:]
    assert len(cells) == len(COLUMNS)
    for column, cell in zip(COLUMNS, cells, strict=True):
        assert cell in ("0", "1")
        assert MATRIX.may_read(column, type_code) is (cell == "1"), column
        assert (type_code in MATRIX.readable_types(column)) is (cell == "1"), column


def test_one_row_per_type_code_and_every_column() -> None:
    assert set(MATRIX.readers) == {t.code for t in codes.all_type_codes()}
    assert set(MATRIX.professions) == set(HEALTH_PROFESSIONS) | {"social", "autre"}
    assert len(ROWS) == len(MATRIX.readers)
    assert tuple(COLUMNS) == MATRIX.professions


def test_version_is_exposed_and_cached() -> None:
    assert MATRIX.version == "2023-10-26-v1"
    assert load_access_matrix() is MATRIX


def test_doctors_read_everything_but_the_residence_certificate() -> None:
    everything = set(MATRIX.readers)
    assert MATRIX.readable_types("10") == everything - {RESIDENCE_CERTIFICATE}
    assert not MATRIX.may_read("10", RESIDENCE_CERTIFICATE)


@pytest.mark.parametrize(
    "column", [p for p in HEALTH_PROFESSIONS if p != "10"] + ["social", "autre"]
)
def test_every_other_profession_reads_a_strict_subset_of_doctors(column: str) -> None:
    assert MATRIX.readable_types(column) < MATRIX.readable_types("10")
    assert not MATRIX.may_read(column, RESIDENCE_CERTIFICATE)


def test_pharmacists_and_nurses_read_more_than_other_professions() -> None:
    for core in ("21", "60"):
        assert len(MATRIX.readable_types(core)) > len(MATRIX.readable_types("94"))
        assert len(MATRIX.readable_types(core)) > len(MATRIX.readable_types("84"))


@pytest.mark.parametrize("column", HEALTH_PROFESSIONS)
def test_social_reads_the_least(column: str) -> None:
    social = MATRIX.readable_types("social")
    assert social < MATRIX.readable_types(column)
    assert social, "social professionals still read their own sector's documents"
    assert MATRIX.may_read("social", "28653-4")
    assert not MATRIX.may_read("social", "11502-2")


def test_profession_specific_reads() -> None:
    assert MATRIX.may_read("86", "11502-2") and not MATRIX.may_read("94", "11502-2")
    assert MATRIX.may_read("98", "18748-4") and not MATRIX.may_read("95", "18748-4")
    assert MATRIX.may_read("70", "PRESC-KINE") and not MATRIX.may_read("91", "PRESC-KINE")
    assert MATRIX.may_read("50", "15508-5") and not MATRIX.may_read("21", "15508-5")


def test_unknown_profession_reads_as_autre() -> None:
    assert MATRIX.column_for("99") == "autre"
    assert MATRIX.column_for(None) == "autre"
    assert MATRIX.readable_types("99") == MATRIX.readable_types("autre")
    assert MATRIX.column_for(" 21 ") == "21"


@pytest.mark.parametrize("type_code", [None, "", "99999-9"])
def test_unknown_type_is_for_doctors_only(type_code: str | None) -> None:
    assert MATRIX.may_read("10", type_code)
    for column in MATRIX.professions:
        if column != "10":
            assert not MATRIX.may_read(column, type_code)


def test_matrix_is_a_frozen_fact() -> None:
    assert isinstance(MATRIX, AccessMatrix)
    with pytest.raises(AttributeError):
        MATRIX.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        MATRIX.readers["X"] = frozenset()  # type: ignore[index]


GOOD = "# version: t1\ntype_code,10,social,autre\nA,1,0,0\nB,1,1,1\n"


def test_small_file_parses() -> None:
    m = parse_access_matrix(GOOD)
    assert m.version == "t1"
    assert m.readable_types("social") == {"B"}
    assert m.may_read("10", "A")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "C,1,2,0\n", "line 5: cell '2'"),
        (GOOD + "C,1,0\n", "line 5: 3 fields, expected 4"),
        (GOOD + "A,1,0,0\n", "line 5: duplicate type code"),
        (GOOD + ",1,0,0\n", "line 5: empty type code"),
        ("# version: t1\ncode,10,social,autre\n", "line 2: the header must start"),
        ("# version: t1\ntype_code,10,autre\n", "line 2: missing column 'social'"),
        ("# version: t1\ntype_code,10,10,social,autre\n", "line 2: empty or repeated"),
        ("# version: t1\n# version: t2\ntype_code,10,social,autre\n", "line 2: second version"),
        ("type_code,10,social,autre\nA,1,0,0\n", "no '# version:' line"),
        ("# version: t1\n", "no header line"),
    ],
)
def test_malformed_files_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(AccessMatrixError, match=message):
        parse_access_matrix(text)
