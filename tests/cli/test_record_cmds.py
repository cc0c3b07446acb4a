"""``espace-sante record …`` through click's CliRunner on an initialised data directory: the
attending physician, authorisations (by the patient, at a consultation), blocks, the lists of
professionals and documents, and uploads (sniffed, audited with the actor ``cli``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from espace_sante.cli.demo import minimal_pdf
from espace_sante.cli.main import main
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from fixtures.record_world import audit_actions
from fixtures.seed import Seeded, seed_trust_space
from portal.pro_fixtures import ATTENDING_ID, CARDIO_ID, NURSE_ID, STRANGER_ID, add_people


async def _seed(settings: Settings) -> Seeded:
    storage = Storage.open(settings)
    try:
        seeded = await seed_trust_space(storage)
        await add_people(storage)
        return seeded
    finally:
        await storage.close()


async def _audit(settings: Settings, account_id: int) -> list[tuple[str, str, dict]]:
    storage = Storage.open(settings)
    try:
        return await audit_actions(storage, account_id)
    finally:
        await storage.close()


class Cli:
    def __init__(self, settings: Settings) -> None:
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ESPACE_")}
        env["ESPACE_DATA_DIR"] = str(settings.data_dir)
        if settings.database_url:
            env["ESPACE_DATABASE_URL"] = settings.database_url
        self.runner = CliRunner(env=env)

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, ["record", *args], catch_exceptions=False)


@pytest.fixture
def seeded_cli(settings: Settings) -> tuple[Cli, Seeded]:
    return Cli(settings), asyncio.run(_seed(settings))


def test_professionals_attending_authorise_block(
    seeded_cli: tuple[Cli, Seeded], settings: Settings
) -> None:
    cli, seeded = seeded_cli
    address = seeded.active.address.upper()  # compared without case
    assert cli("professionals", address).output.strip() == "no professional"
    out = cli("attending-physician", address, ATTENDING_ID)
    assert out.exit_code == 0, out.output
    assert cli("authorise", address, NURSE_ID).exit_code == 0
    out = cli("authorise", address, CARDIO_ID, "--consultation")
    assert out.exit_code == 0 and "at a consultation" in out.output
    out = cli("block", address, STRANGER_ID)
    assert out.exit_code == 0 and "blocked" in out.output
    listed = cli("professionals", address).output.splitlines()
    assert listed[0].startswith(f"{ATTENDING_ID}\tLouise TRAITANT\tMédecin\tattending physician")
    rows = {line.split("\t")[0]: line.split("\t") for line in listed}
    assert rows[NURSE_ID][3] == "authorised (patient)"
    assert rows[CARDIO_ID][3] == "authorised (consultation)"
    assert rows[STRANGER_ID][3] == "blocked" and rows[STRANGER_ID][4] == "no access"
    # The attending physician cannot be blocked: the policy's reason, exit 1.
    refused = cli("block", address, ATTENDING_ID)
    assert refused.exit_code == 1
    assert "médecin traitant ne peut pas être bloqué" in refused.output
    # A blocked professional cannot be authorised.
    assert cli("authorise", address, STRANGER_ID).exit_code == 1
    cleared = cli("attending-physician", address, "--clear")
    assert cleared.exit_code == 0 and cleared.output.strip().endswith("none")
    assert "attending physician" not in cli("professionals", address).output
    actors = {
        (actor, action)
        for actor, action, _ in asyncio.run(_audit(settings, seeded.active.account_id))
    }
    assert ("cli", "authorisation.blocked") in actors
    assert ("cli", "attending_physician.set") in actors
    assert (f"ps:{CARDIO_ID}", "authorisation.granted") in actors


def test_bad_arguments_are_refused(seeded_cli: tuple[Cli, Seeded]) -> None:
    cli, seeded = seeded_cli
    address = seeded.active.address
    for args in (
        ("block", "nobody@patient.mssante.fr", NURSE_ID),
        ("block", address, "81abc"),
        ("block", address, "810999999999"),
        ("authorise", address, "1" * 10_000),
        ("attending-physician", address),
        ("attending-physician", address, ATTENDING_ID, "--clear"),
        ("professionals", "dr.dupont@medecin.mssante.fr"),  # a professional, not a patient
    ):
        out = cli(*args)
        assert out.exit_code in (1, 2), (args, out.output)
    assert cli("professionals", address).output.strip() == "no professional"


def test_upload_and_documents(
    seeded_cli: tuple[Cli, Seeded], settings: Settings, tmp_path: Path
) -> None:
    cli, seeded = seeded_cli
    address = seeded.active.address
    assert cli("documents", address).output.strip() == "no document"
    letter = tmp_path / "courrier.pdf"
    letter.write_bytes(minimal_pdf("Courrier"))
    out = cli("upload", address, str(letter), "--title", "Courrier du cardiologue")
    assert out.exit_code == 0, out.output
    note = tmp_path / "note.txt"
    note.write_text("Tension 12/8 le matin.\n", encoding="utf-8")
    out = cli("upload", address, str(note), "--title", "Mes mesures", "--category", "mes_documents")
    assert out.exit_code == 0, out.output
    rows = [line.split("\t") for line in cli("documents", address).output.splitlines()]
    assert [r[4] for r in rows] == ["Mes mesures", "Courrier du cardiologue"]
    assert all(r[1] == "mes_documents" and r[2] == "-" for r in rows)
    uploads = [
        (actor, detail)
        for actor, action, detail in asyncio.run(_audit(settings, seeded.active.account_id))
        if action == "document.uploaded"
    ]
    assert len(uploads) == 2 and all(actor == "cli" for actor, _ in uploads)
    # Refused by the sniffer or the options, with the reason.
    fake = tmp_path / "fausse.pdf"
    fake.write_bytes(b"PK\x03\x04 not a pdf")
    refused = cli("upload", address, str(fake), "--title", "Faux")
    assert refused.exit_code == 1 and "n'est pas accepté" in refused.output
    empty = tmp_path / "vide.txt"
    empty.write_bytes(b"")
    assert cli("upload", address, str(empty), "--title", "Vide").exit_code == 1
    bad = cli("upload", address, str(note), "--title", "X", "--category", "nope")
    assert bad.exit_code == 2
    assert len(cli("documents", address).output.splitlines()) == 2


async def _audit_count(settings: Settings) -> int:
    from sqlalchemy import func, select

    from espace_sante.storage.schema import AuditEntry, Document

    storage = Storage.open(settings)
    try:
        async with storage.sessions() as s:
            entries = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
            docs = (await s.execute(select(func.count()).select_from(Document))).scalar_one()
        return int(entries) * 1000 + int(docs)
    finally:
        await storage.close()


def test_the_demo_record_shows_every_journey_and_is_seeded_once(settings: Settings) -> None:
    cli = Cli(settings)
    first = cli.runner.invoke(main, ["demo"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "/documents, /professionnels and /urgence" in first.output
    address = next(
        line.split()[-1] for line in first.output.splitlines() if line.startswith("patient Marie")
    )
    docs = [line.split("\t") for line in cli("documents", address).output.splitlines()]
    categories = {d[1] for d in docs}
    assert {"biologie", "vaccination", "comptes_rendus", "imagerie"} <= categories
    assert any(d[2] == "MASQUE_PS" for d in docs)
    titles = [d[4] for d in docs]
    assert "Compte rendu d'examens de biologie médicale (complément)" not in titles  # hidden
    pros = {
        line.split("\t")[0]: line.split("\t")
        for line in cli("professionals", address).output.splitlines()
    }
    assert pros["810000000001"][3] == "attending physician"
    assert pros["810000000002"][3] == "authorised (consultation)"
    assert pros["810000000002"][4].startswith("last access ")
    assert pros["810000000003"][3] == "blocked"
    before = asyncio.run(_audit_count(settings))
    second = cli.runner.invoke(main, ["demo"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "document(s) added" not in second.output
    assert asyncio.run(_audit_count(settings)) == before  # nothing added, nothing audited
    verify = cli.runner.invoke(main, ["audit", "verify"], catch_exceptions=False)
    assert verify.exit_code == 0, verify.output
