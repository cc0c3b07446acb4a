"""The ``espace-sante`` command, run as a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.mssante import valid_nir

REPO = Path(__file__).resolve().parents[2]

#: The commands whose work is the database's run on both; the others on SQLite (conftest).
both_databases = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "espace_sante", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ESPACE_")}
    e["ESPACE_DATA_DIR"] = str(tmp_path / "var")
    if backend == "postgresql":
        e["ESPACE_DATABASE_URL"] = request.getfixturevalue("pg_database")
        import asyncio

        from conftest import _truncate_all

        asyncio.run(_truncate_all(e["ESPACE_DATABASE_URL"]))
        # the schema is already migrated by pg_database; init must still be idempotent
    return e


@both_databases
def test_init_is_idempotent_and_makes_everything(env: dict[str, str], tmp_path: Path) -> None:
    first = cli(env, "init")
    assert first.returncode == 0, first.stderr
    var = tmp_path / "var"
    for path in ("keys/master.key", "pki/ca.crt", "pki/server.crt", "pki/client.key"):
        assert (var / path).exists(), path
    key = (var / "keys/master.key").read_bytes()
    second = cli(env, "init")
    assert second.returncode == 0, second.stderr
    assert "kept" in second.stdout
    assert (var / "keys/master.key").read_bytes() == key


def test_patient_add_prints_the_address_and_refuses_bad_input(env: dict[str, str]) -> None:
    assert cli(env, "init").returncode == 0
    ins = valid_nir("2800175123456")
    base = [
        "patient",
        "add",
        "--oid",
        "1.2.250.1.213.1.4.11",
        "--family-name",
        "Durand",
        "--given-names",
        "Anne Marie",
        "--birth-date",
        "1980-01-15",
        "--sex",
        "F",
        "--birthplace",
        "75112",
        "--email",
        "anne@example.org",
    ]
    ok = cli(env, *base, "--ins", ins)
    assert ok.returncode == 0, ok.stderr
    address_line, code_line = ok.stdout.strip().splitlines()
    assert address_line == f"{ins}@patient.mssante.fr"
    assert re.match(r"provisional activation code: [A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4} ", code_line)
    reissued = cli(env, "patient", "activation-code", address_line)
    assert reissued.returncode == 0, reissued.stderr
    assert reissued.stdout.split()[3] != code_line.split()[3]
    unknown = cli(env, "patient", "activation-code", "nobody@patient.mssante.fr")
    assert unknown.returncode == 1 and "no patient" in unknown.stderr
    again = cli(env, *base, "--ins", ins)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_key = cli(env, *base, "--ins", ins[:13] + f"{(int(ins[13:]) + 1) % 97:02d}")
    assert bad_key.returncode == 1 and "--ins" in bad_key.stderr
    bad_oid = cli(env, *base[:2], "--oid", "1.2.3", *base[4:], "--ins", valid_nir("1750269123123"))
    assert bad_oid.returncode == 1 and "--oid" in bad_oid.stderr
    bad_date = cli(env, *base, "--ins", valid_nir("1750269123123"), "--birth-date", "15/01/1980")
    assert bad_date.returncode == 2


def test_commands_refuse_an_uninitialised_data_dir(env: dict[str, str]) -> None:
    if "ESPACE_DATABASE_URL" in env:
        pytest.skip("PostgreSQL database is migrated by the fixture")
    result = cli(env, "serve", timeout=30)
    assert result.returncode == 1
    assert "espace-sante init" in result.stderr


def test_bad_configuration_stops_start_up_naming_the_key(env: dict[str, str]) -> None:
    env = {**env, "ESPACE_SMTP_INBOUND_PORT": "not-a-port"}
    result = cli(env, "serve", timeout=30)
    assert result.returncode == 2
    assert "ESPACE_SMTP_INBOUND_PORT" in result.stderr


@both_databases
def test_demo_seeds_once_and_audit_verifies(env: dict[str, str]) -> None:
    assert cli(env, "init").returncode == 0
    first = cli(env, "demo")
    assert first.returncode == 0, first.stderr
    assert "@patient.mssante.fr" in first.stdout
    assert "demo messages delivered" in first.stdout
    assert re.search(r"web \(http://\S+\): identifier \d{15} .*password Sante-", first.stdout)
    assert "sms-dev.log" in first.stdout
    second = cli(env, "demo")
    assert second.returncode == 0, second.stderr
    assert "demo messages delivered" not in second.stdout
    verify = cli(env, "audit", "verify")
    assert verify.returncode == 0, verify.stderr


def test_app_password_add_list_revoke(env: dict[str, str]) -> None:
    assert cli(env, "init").returncode == 0
    ins = valid_nir("1750269123123")
    added = cli(
        env,
        *[
            "patient",
            "add",
            "--oid",
            "1.2.250.1.213.1.4.11",
            "--family-name",
            "Petit",
            "--given-names",
            "Paul",
        ],
        *["--birth-date", "1975-02-03", "--sex", "M", "--birthplace", "69123", "--ins"],
        ins,
    )
    assert added.returncode == 0, added.stderr
    address = added.stdout.splitlines()[0]
    made = cli(env, "app-password", "add", address, "--label", "Téléphone")
    assert made.returncode == 0, made.stderr
    header, secret = made.stdout.strip().splitlines()
    assert header.startswith("app password 1 (Téléphone)")
    assert len(secret) == 19
    listed = cli(env, "app-password", "list", address)
    assert listed.returncode == 0 and "Téléphone" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout
    assert cli(env, "app-password", "revoke", address, "1").stdout.strip() == "revoked"
    assert cli(env, "app-password", "revoke", address, "1").stdout.strip() == "already revoked"
    assert "revoked 20" in cli(env, "app-password", "list", address).stdout
    unknown = cli(env, "app-password", "add", "nobody@patient.mssante.fr")
    assert unknown.returncode != 0 and "no account" in unknown.stderr
    bad_id = cli(env, "app-password", "revoke", address, "99")
    assert bad_id.returncode != 0 and "no app password 99" in bad_id.stderr


def test_guardian_add_list_revoke(env: dict[str, str]) -> None:
    assert cli(env, "init").returncode == 0
    common = ["--oid", "1.2.250.1.213.1.4.11", "--sex", "F", "--birthplace", "69123"]
    people = {}
    for name, prefix, born in (("parent", "2800175123456", "1980-01-15"),
                               ("child", "2150675123999", "2015-06-01")):  # fmt: skip
        made = cli(env, "patient", "add", *common, "--family-name", "Petit", "--given-names",
                   name, "--birth-date", born, "--ins", valid_nir(prefix))  # fmt: skip
        assert made.returncode == 0, made.stderr
        people[name] = made.stdout.strip().splitlines()[0]
    added = cli(env, "guardian", "add", people["child"], people["parent"])
    assert added.returncode == 0, added.stderr
    assert "until the majority" in added.stdout
    listed = cli(env, "guardian", "list", people["parent"]).stdout
    assert people["child"] in listed and "in force" in listed
    adult = cli(env, "guardian", "add", people["parent"], people["child"])
    assert adult.returncode == 1 and "not a minor" in adult.stderr
    assert cli(env, "guardian", "revoke", people["child"], people["parent"]).stdout.strip() == (
        "revoked"
    )
    assert "revoked" in cli(env, "guardian", "list", people["child"]).stdout


def test_serve_names_the_key_of_a_port_in_use(env: dict[str, str]) -> None:
    import socket

    assert cli(env, "init").returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with socket.socket() as free:  # the others on free ports (0: any, where allowed)
            free.bind(("127.0.0.1", 0))
            smtp_port = free.getsockname()[1]
        ports = {
            "ESPACE_SMTP_INBOUND_PORT": str(smtp_port),
            "ESPACE_IMAP_PORT": "0",
            "ESPACE_SUBMISSION_PORT": "0",
            "ESPACE_SUBMISSION_TLS_PORT": "0",
            "ESPACE_WEB_PORT": "0",
            "ESPACE_IMAP_TLS_PORT": str(port),
        }
        result = cli({**env, **ports}, "serve", timeout=60)
    assert result.returncode == 1
    assert f"imap.tls_port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
