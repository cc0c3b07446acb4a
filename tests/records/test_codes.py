"""Document codes and categories: the packaged table loads and the lookups agree with it."""

from __future__ import annotations

import csv
import re
from importlib import resources

import pytest

from espace_sante.records import codes

_WANTED_CLASSES = {"10", "11", "31", "42", "43", "44", "45", "52", "60", "90", "95"}
_FRENCH = re.compile(r"^[A-ZÉÈÀÂÎÔÇa-zéèêëàâîïôöûüçœ0-9' ,()\-.]+$")


def _rows() -> list[dict[str, str]]:
    text = resources.files("espace_sante.records").joinpath("data/type_codes.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = _rows()


def test_table_has_the_common_codes() -> None:
    present = {r["type_code"] for r in ROWS}
    for code in (
        "11488-4",
        "34133-9",
        "11490-0",
        "11502-2",
        "18748-4",
        "57833-6",
        "11369-6",
        "87273-9",
        "60591-5",
        "34794-8",
        "ATTEST-RESID",
    ):
        assert code in present
    assert {f"DOCPAT0{i}" for i in range(1, 10)} <= present
    assert len(ROWS) >= 40


@pytest.mark.parametrize("row", ROWS, ids=[r["type_code"] for r in ROWS])
def test_every_row_loads_and_agrees(row: dict[str, str]) -> None:
    code = row["type_code"]
    assert codes.type_label(code) == row["label_fr"]
    assert codes.class_for_type(code) == row["class_code"]
    assert row["class_code"] in codes.CLASS_CODES
    if row["class_code"] == "90":
        assert codes.category_of(row["class_code"], code).key == "mes_documents"
    else:
        assert codes.category_of(row["class_code"], code).key == row["category"]
    # the type decides even when the class given with it is another one
    if row["class_code"] != "90":
        assert codes.category_of("95", code).key == row["category"]
    assert _FRENCH.match(row["label_fr"]), row["label_fr"]


def test_every_listed_class_exists_with_a_label() -> None:
    assert set(codes.CLASS_CODES) == _WANTED_CLASSES
    assert codes.class_label("31") == "Imagerie médicale"
    assert codes.class_label("90") == "Document déposé par le patient"
    for code in _WANTED_CLASSES:
        assert codes.class_label(code).strip()


def test_categories_are_ordered_unique_and_cover_the_table() -> None:
    keys = [c.key for c in codes.CATEGORIES]
    assert len(keys) == len(set(keys))
    assert keys[0] == "ordonnances" and keys[-1] == "autres"
    for wanted in (
        "ordonnances",
        "biologie",
        "imagerie",
        "comptes_rendus",
        "vaccination",
        "synthese",
        "certificats",
        "remboursements",
        "mes_documents",
        "autres",
    ):
        assert wanted in keys
    assert {r["category"] for r in ROWS} <= set(keys)
    assert all(c.label_fr.strip() and c.label_fr[0].isupper() for c in codes.CATEGORIES)


def test_unknown_codes_fall_back() -> None:
    assert codes.type_label("99999-9") is None
    assert codes.type_label(None) is None
    assert codes.class_for_type("nope") is None
    assert codes.class_label("77") == "Document"
    assert codes.category_of(None, None).key == "autres"
    assert codes.category_of("77", "99999-9").key == "autres"
    # unknown type: the class decides
    assert codes.category_of("31", "99999-9").key == "imagerie"
    assert codes.category_of("42", None).key == "ordonnances"
    assert codes.category_of("90", None).key == "mes_documents"
    # nothing known but an image
    assert codes.category_of(None, None, "image/jpeg").key == "imagerie"
    assert codes.category_of(None, None, "application/pdf").key == "autres"


def test_codes_are_matched_after_trimming() -> None:
    assert codes.type_label(" 11502-2 ") == codes.type_label("11502-2")
    assert codes.category_of(" 10 ", " 11502-2").key == "biologie"


def test_specific_categories() -> None:
    assert codes.category_of("10", "11502-2").key == "biologie"
    assert codes.category_of("31", "18748-4").key == "imagerie"
    assert codes.category_of("10", "87273-9").key == "vaccination"
    assert codes.category_of("11", "60591-5").key == "synthese"
    assert codes.category_of("42", "57833-6").key == "ordonnances"
    assert codes.category_of("60", "REMB").key == "remboursements"


def test_upload_choices_are_patient_types() -> None:
    choices = codes.type_choices_for_upload()
    assert choices
    assert [c for c, _ in choices] == sorted(c for c, _ in choices)
    for code, label in choices:
        assert code.startswith("DOCPAT")
        assert codes.class_for_type(code) == "90"
        assert label == codes.type_label(code)
    assert "DOCPAT08" not in {c for c, _ in choices}


def test_malformed_table_is_refused_with_its_line() -> None:
    good = "# c\ntype_code,label_fr,class_code,category\n1-1,Un,10,autres\n"
    assert list(codes._parse_type_codes(good)) == ["1-1"]
    with pytest.raises(codes.CodeTableError, match="line 4: unknown class"):
        codes._parse_type_codes(good + "2-2,Deux,99,autres\n")
    with pytest.raises(codes.CodeTableError, match="line 4: unknown category"):
        codes._parse_type_codes(good + "2-2,Deux,10,divers\n")
    with pytest.raises(codes.CodeTableError, match="line 4: duplicate"):
        codes._parse_type_codes(good + "1-1,Un,10,autres\n")
    with pytest.raises(codes.CodeTableError, match="line 1: unexpected header"):
        codes._parse_type_codes("code,label\n")
