"""Import of the national MSSanté directory (``Extraction_Correspondance_MSSante``)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from espace_sante.accounts.directory import (
    BATCH_SIZE,
    DirectoryFormatError,
    Rejection,
    find_professional,
    import_directory,
)
from espace_sante.cli.reference_cmds import directory
from espace_sante.storage.schema import Professional
from fixtures.directory_extraction import HEADER, write_large_extraction

Sessions = async_sessionmaker[AsyncSession]


def doctor(address: str, **overrides: str) -> dict[str, str]:
    """A PER mailbox row, keyed by header name."""
    row = {
        "Type de BAL": "PER",
        "Adresse BAL": address,
        "Type Identifiant PP": "8",
        "Identifiant PP": "10001234567",
        "Identification nationale PP": "810001234567",
        "Type identifiant structure": "3",
        "Identification Structure": "R10000012345678",
        "Civilité d'exercice": "DR",
        "Nom d'exercice": "DUPONT",
        "Prénom d'exercice": "Jeanne",
        "Catégorie profession": "C",
        "Libellé de catégorie profession": "Civil",
        "Code Profession": "10",
        "Libellé Profession": "Médecin",
        "Code savoir-faire": "SM54",
        "Libellé savoir-faire": "Médecine générale (SM)",
        "Dématérialisation": "true",
        "Raison Sociale structure BAL": "CABINET DU DR DUPONT",
        "L4NUMEROVOIE structure BAL": "12",
        "NL4TYPEVOIE structure BAL": "R",
        "L4LIBELLEVOIE structure BAL": "DE LA PAIX",
        "L6LIGNEACHEMINEMENT structure BAL": "75014 PARIS",
        "Code postal structure BAL": "75014",
        "Département structure BAL": "75",
        "Pays structure BAL": "99000",
    }
    row.update(overrides)
    return row


def organisation(address: str, **overrides: str) -> dict[str, str]:
    """An ORG mailbox row (a service of a hospital: no person)."""
    row = {
        "Type de BAL": "ORG",
        "Adresse BAL": address,
        "Type identifiant structure": "1",
        "Identification Structure": "1750000000",
        "Service de rattachement": "Cardiologie",
        "Raison Sociale structure BAL": "CENTRE HOSPITALIER DE DEMO",
        "L6LIGNEACHEMINEMENT structure BAL": "69003 LYON CEDEX 03",
        "Code postal structure BAL": "69003",
    }
    row.update(overrides)
    return row


def extraction(
    rows: Sequence[Mapping[str, str] | bytes | str],
    *,
    header: Sequence[str] = HEADER,
    bom: bool = False,
    eol: str = "\n",
    trailing_sep: bool = False,
) -> bytes:
    """A file shaped like the ANS extraction. A row given as str/bytes is written as is."""
    sep_end = "|" if trailing_sep else ""
    out = [("|".join(header) + sep_end + eol).encode()]
    for row in rows:
        if isinstance(row, bytes):
            out.append(row + eol.encode())
        elif isinstance(row, str):
            out.append((row + eol).encode())
        else:
            unknown = set(row) - set(header)
            assert not unknown, unknown
            out.append(("|".join(row.get(h, "") for h in header) + sep_end + eol).encode())
    return (b"\xef\xbb\xbf" if bom else b"") + b"".join(out)


def write(tmp_path: Path, data: bytes, name: str = "Extraction_Correspondance_MSSante.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def stored(sessions: Sessions) -> dict[str, Professional]:
    async with sessions() as session:
        return {p.address: p for p in (await session.execute(select(Professional))).scalars()}


# -- format -------------------------------------------------------------------------------------


async def test_imports_the_real_format(sessions: Sessions, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        extraction(
            [
                doctor("Jeanne.DUPONT@Medecin.MSSante.fr"),
                organisation("cardiologie@ch-demo.mssante.fr", **{"Code postal structure BAL": ""}),
                {"Type de BAL": "APP", "Adresse BAL": "lgc@editeur.mssante.fr"},
            ]
        ),
    )
    report = await import_directory(sessions, path)
    assert (report.imported, report.updated, report.unchanged, report.rejected) == (3, 0, 0, [])

    rows = await stored(sessions)
    assert set(rows) == {
        "jeanne.dupont@medecin.mssante.fr",
        "cardiologie@ch-demo.mssante.fr",
        "lgc@editeur.mssante.fr",
    }
    doc = rows["jeanne.dupont@medecin.mssante.fr"]
    assert (doc.mailbox_type, doc.national_id, doc.family_name, doc.given_name) == (
        "PER",
        "810001234567",
        "DUPONT",
        "Jeanne",
    )
    assert (doc.profession_code, doc.profession_label, doc.specialty_label) == (
        "10",
        "Médecin",
        "Médecine générale (SM)",
    )
    assert (doc.organisation, doc.postal_code, doc.city) == (
        "CABINET DU DR DUPONT",
        "75014",
        "PARIS",
    )
    org = rows["cardiologie@ch-demo.mssante.fr"]
    # the postal code is taken from the routing line when its own column is empty
    assert (org.mailbox_type, org.postal_code, org.city) == ("ORG", "69003", "LYON CEDEX 03")
    assert org.family_name == ""
    assert rows["lgc@editeur.mssante.fr"].mailbox_type == "APP"

    async with sessions() as session:
        found = await find_professional(session, "JEANNE.Dupont@medecin.mssante.FR")
        assert found is not None and found.family_name == "DUPONT"
        assert await find_professional(session, "nobody@medecin.mssante.fr") is None


async def test_header_by_name_reordered_extra_columns_bom_crlf(
    sessions: Sessions, tmp_path: Path
) -> None:
    # Columns in another order, spelt as in older documentation, with new columns the importer
    # does not know, a BOM, CRLF line ends and a trailing separator on every line.
    header = [
        "Colonne ajoutée en 2030",
        "L6LIGNEACHEMINEMENT",
        "code postal",
        "Libellé profession",
        "Code profession",
        "Raison Sociale structure BAL",
        "Libelle savoir-faire",
        "Prenom d’exercice",
        "NOM D'EXERCICE",
        "Identification nationale PP",
        "Adresse BAL",
        "Type  BAL",
        "Autre",
    ]
    row = {
        "Colonne ajoutée en 2030": "x",
        "L6LIGNEACHEMINEMENT": "13005 MARSEILLE",
        "code postal": "13005",
        "Libellé profession": "Pharmacien",
        "Code profession": "21",
        "Raison Sociale structure BAL": "PHARMACIE DU PORT",
        "Libelle savoir-faire": "",
        "Prenom d’exercice": "Paul",
        "NOM D'EXERCICE": "MARTIN",
        "Identification nationale PP": "810009876543",
        "Adresse BAL": "paul.martin@pharmacien.mssante.fr",
        "Type  BAL": "per",
        "Autre": "",
    }
    data = extraction([row], header=header, bom=True, eol="\r\n", trailing_sep=True)
    report = await import_directory(sessions, write(tmp_path, data))
    assert report.rejected == []
    assert report.imported == 1
    p = (await stored(sessions))["paul.martin@pharmacien.mssante.fr"]
    assert (p.mailbox_type, p.given_name, p.family_name, p.profession_code) == (
        "PER",
        "Paul",
        "MARTIN",
        "21",
    )
    assert (p.profession_label, p.organisation, p.postal_code, p.city) == (
        "Pharmacien",
        "PHARMACIE DU PORT",
        "13005",
        "MARSEILLE",
    )


@pytest.mark.parametrize("missing", ["Adresse BAL", "Nom d'exercice", "Type de BAL"])
async def test_a_missing_column_aborts_before_writing(
    sessions: Sessions, tmp_path: Path, missing: str
) -> None:
    header = [h for h in HEADER if h != missing]
    data = extraction([{"Type de BAL": "PER"} if missing != "Type de BAL" else {}], header=header)
    with pytest.raises(DirectoryFormatError) as err:
        await import_directory(sessions, write(tmp_path, data))
    assert repr(missing) in str(err.value)
    assert await stored(sessions) == {}


async def test_an_empty_file_or_a_binary_header_is_refused(
    sessions: Sessions, tmp_path: Path
) -> None:
    with pytest.raises(DirectoryFormatError, match="empty"):
        await import_directory(sessions, write(tmp_path, b""))
    with pytest.raises(DirectoryFormatError, match="UTF-8"):
        await import_directory(sessions, write(tmp_path, b"\xff\xfe|\x00\n"))


async def test_bad_rows_are_reported_with_their_line_and_the_rest_imported(
    sessions: Sessions, tmp_path: Path
) -> None:
    good = "|".join(doctor("ok.1@medecin.mssante.fr").get(h, "") for h in HEADER)
    rows: list[Mapping[str, str] | bytes | str] = [
        doctor("ok.1@medecin.mssante.fr"),  # line 2
        doctor("pas une adresse"),  # 3
        doctor("double@@medecin.mssante.fr"),  # 4
        good + "|en trop",  # 5: an extra non-empty field
        "|".join(good.split("|")[:20]),  # 6: a truncated row
        "Dupont Médecin".encode("latin-1") + b"|" + b"|" * 30,  # 7: not UTF-8
        doctor("OK.1@medecin.mssante.fr", **{"Nom d'exercice": "AUTRE"}),  # 8: duplicate
        doctor("ok.2@medecin.mssante.fr", **{"Type de BAL": "XYZ"}),  # 9: unknown type
        doctor(""),  # 10: no address
        "",  # 11: blank line, ignored
        doctor("ok.3@medecin.mssante.fr"),  # 12
        doctor("ok.4@medecin.mssante.fr") | {"Pays structure BAL": ""},  # 13
    ]
    report = await import_directory(sessions, write(tmp_path, extraction(rows)))
    assert report.imported == 3
    by_line = {r.line_no: r.reason for r in report.rejected}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "malformed address 'pas une adresse'" in by_line[3]
    assert "malformed address" in by_line[4]
    assert by_line[5] == "32 fields, the header has 31"
    assert by_line[6] == "20 fields, the header has 31"
    assert "UTF-8" in by_line[7]
    assert by_line[8] == "duplicate address ok.1@medecin.mssante.fr (line 2 kept)"
    assert by_line[9] == "unknown Type de BAL 'XYZ'"
    assert by_line[10] == "empty address"
    rows_now = await stored(sessions)
    assert set(rows_now) == {
        "ok.1@medecin.mssante.fr",
        "ok.3@medecin.mssante.fr",
        "ok.4@medecin.mssante.fr",
    }
    assert rows_now["ok.1@medecin.mssante.fr"].family_name == "DUPONT"  # the first row won


async def test_over_long_values_are_cut_to_the_column(sessions: Sessions, tmp_path: Path) -> None:
    long_name = "CENTRE " * 60
    path = write(
        tmp_path,
        extraction(
            [organisation("long@ch.mssante.fr", **{"Raison Sociale structure BAL": long_name})]
        ),
    )
    assert (await import_directory(sessions, path)).imported == 1
    again = await import_directory(sessions, path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 1)
    org = (await stored(sessions))["long@ch.mssante.fr"]
    assert org.organisation == long_name.strip()[:200]


# -- re-import ----------------------------------------------------------------------------------


async def test_reimport_updates_in_place_and_counts(sessions: Sessions, tmp_path: Path) -> None:
    first = extraction(
        [
            doctor("a@medecin.mssante.fr"),
            doctor("b@medecin.mssante.fr"),
            doctor("c@medecin.mssante.fr"),
        ]
    )
    report = await import_directory(sessions, write(tmp_path, first, "day1.txt"))
    assert (report.imported, report.updated, report.unchanged, report.missing_from_file) == (
        3,
        0,
        0,
        0,
    )
    before = await stored(sessions)

    second = extraction(
        [
            doctor("b@medecin.mssante.fr"),  # unchanged
            doctor(
                "A@medecin.mssante.fr",
                **{"L6LIGNEACHEMINEMENT structure BAL": "75014 PARIS CEDEX 14"},
            ),
            doctor("d@medecin.mssante.fr"),  # new
            # c is gone
        ]
    )
    report = await import_directory(sessions, write(tmp_path, second, "day2.txt"))
    assert (report.imported, report.updated, report.unchanged) == (1, 1, 1)
    assert report.missing_from_file == 1 and report.pruned == 0 and report.rejected == []

    after = await stored(sessions)
    assert set(after) == {f"{x}@medecin.mssante.fr" for x in "abcd"}  # c is kept by default
    assert after["a@medecin.mssante.fr"].city == "PARIS CEDEX 14"
    assert after["a@medecin.mssante.fr"].updated_at > before["a@medecin.mssante.fr"].updated_at
    assert after["b@medecin.mssante.fr"].updated_at == before["b@medecin.mssante.fr"].updated_at
    assert after["c@medecin.mssante.fr"].updated_at == before["c@medecin.mssante.fr"].updated_at

    # the same file again changes nothing
    report = await import_directory(sessions, write(tmp_path, second, "day2.txt"))
    assert (report.imported, report.updated, report.unchanged, report.missing_from_file) == (
        0,
        0,
        3,
        1,
    )


async def test_prune_deletes_what_the_file_no_longer_lists(
    sessions: Sessions, tmp_path: Path
) -> None:
    first = extraction([doctor(f"{x}@medecin.mssante.fr") for x in "abcd"])
    await import_directory(sessions, write(tmp_path, first, "day1.txt"))
    second = extraction(
        [
            doctor("a@medecin.mssante.fr"),
            # b's row is malformed this time (unknown type): b is not deleted for that
            doctor("b@medecin.mssante.fr", **{"Type de BAL": "???"}),
        ]
    )
    report = await import_directory(sessions, write(tmp_path, second, "day2.txt"), prune=True)
    assert report.missing_from_file == 2 and report.pruned == 2
    assert report.rejected == [Rejection(3, "unknown Type de BAL '???'")]
    assert set(await stored(sessions)) == {"a@medecin.mssante.fr", "b@medecin.mssante.fr"}


async def test_zip_as_distributed_by_the_ans_and_progress(
    sessions: Sessions, tmp_path: Path
) -> None:
    data = extraction([doctor(f"z{i}@medecin.mssante.fr") for i in range(12_000)])
    path = tmp_path / "Extraction_Correspondance_MSSante_202608261013.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Extraction_Correspondance_MSSante_202608261013.txt", data)
    seen: list[int] = []
    report = await import_directory(sessions, path, progress=seen.append)
    assert report.imported == 12_000
    assert sum(seen) == len(data) and len(seen) >= 3  # one call per batch at least


async def test_a_zip_with_several_files_is_refused(sessions: Sessions, tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", extraction([]))
        archive.writestr("b.txt", extraction([]))
    with pytest.raises(DirectoryFormatError, match="one file"):
        await import_directory(sessions, path)


# -- volume -------------------------------------------------------------------------------------


async def test_a_file_of_several_batches_then_its_next_day_version(
    sessions: Sessions, tmp_path: Path
) -> None:
    """Rows across several write batches (and a partial last one) are all imported; re-importing
    the next day's file, where 1 % of the rows changed, updates exactly those. The real file's
    volume (300,000 rows) and its timings are in ``bench/directory_import.py``."""
    count = 3 * BATCH_SIZE + 7
    path = tmp_path / "large.txt"
    write_large_extraction(path, count)

    report = await import_directory(sessions, path)
    assert (report.imported, report.updated, report.unchanged, report.rejected) == (count, 0, 0, [])

    second_path = tmp_path / "large2.txt"
    with path.open(encoding="utf-8") as src, second_path.open("w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n and n % 100 == 0:
                line = line.replace("|Prénom|", "|Prénoms|")
            dst.write(line)
    report = await import_directory(sessions, second_path)
    changed = sum(1 for n in range(1, count + 1) if n % 100 == 0 and (n - 1) % 6 != 0)
    assert (report.imported, report.updated, report.unchanged) == (0, changed, count - changed)

    async with sessions() as session:
        total = (await session.execute(select(func.count()).select_from(Professional))).scalar()
    assert total == count


# -- command line -------------------------------------------------------------------------------


def test_cli_directory_import(cli_env: dict[str, str], tmp_path: Path) -> None:
    rows: list[Mapping[str, str] | bytes | str] = [
        doctor(f"d{i}@medecin.mssante.fr") for i in range(30)
    ]
    rows += [doctor(f"mauvaise adresse {i}") for i in range(25)]
    path = write(tmp_path, extraction(rows))
    runner = CliRunner()

    result = runner.invoke(directory, ["import", str(path)], env=cli_env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "imported 30, updated 0, unchanged 0, rejected 25"
    assert lines[1] == "  line 32: malformed address 'mauvaise adresse 0'"
    assert len([x for x in lines if x.startswith("  line ")]) == 20
    assert lines[-1] == "  … and 5 more"

    path = write(tmp_path, extraction(rows[:10]))
    result = runner.invoke(directory, ["import", str(path)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "imported 0, updated 0, unchanged 10, rejected 0",
        "20 mailboxes are no longer in the file (kept; --prune deletes them)",
    ]
    result = runner.invoke(directory, ["import", "--prune", str(path)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "pruned 20 mailboxes no longer in the file" in result.output

    broken = write(tmp_path, extraction([], header=HEADER[2:]), "broken.txt")
    result = runner.invoke(directory, ["import", str(broken)], env=cli_env)
    assert result.exit_code == 1
    assert "missing columns in the header: 'Type de BAL', 'Adresse BAL'" in result.output
