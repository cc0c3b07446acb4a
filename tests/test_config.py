"""Configuration: defaults, the TOML file, ESPACE_* overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from espace_sante.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_file_loads_and_matches_the_defaults() -> None:
    settings = load_settings(REPO / "config" / "espace-sante.toml", environ={})
    assert settings.smtp.inbound_port == 2525
    assert settings.mssante.max_message_size == 25 * 1024 * 1024
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("/var/espace-sante.db")
    assert (settings.imap.login_timeout, settings.imap.max_unauthenticated_per_address) == (60, 10)
    assert (settings.mail_login.password_checks, settings.mail_login.password_check_queue) == (
        2,
        32,
    )
    assert [str(n) for n in settings.imap.per_address_exempt_networks] == ["127.0.0.0/8", "::1/128"]


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('data_dir = "/srv/a"\n[smtp]\ninbound_port = 2600\n')
    env = {
        "ESPACE_DATA_DIR": "/srv/b",
        "ESPACE_SMTP_INBOUND_PORT": "2700",
        "ESPACE_MSSANTE_ACCEPT_TEST_INS": "false",
        "ESPACE_DATABASE_URL": "postgresql+asyncpg://u@h/db",
    }
    s = load_settings(cfg, environ=env)
    assert str(s.data_dir) == "/srv/b"
    assert s.smtp.inbound_port == 2700
    assert s.mssante.accept_test_ins is False
    assert s.effective_database_url == "postgresql+asyncpg://u@h/db"


def test_espace_config_points_at_another_file(tmp_path: Path) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text("[smtp]\nworkers = 2\n")
    assert load_settings(environ={"ESPACE_CONFIG": str(cfg)}).smtp.workers == 2
    with pytest.raises(ConfigError, match="ESPACE_CONFIG"):
        load_settings(environ={"ESPACE_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("[smtp]\ninbound_port = 'x'\n", {}, "smtp.inbound_port"),
        ("", {"ESPACE_SMTP_INBOUND_PORT": "abc"}, "ESPACE_SMTP_INBOUND_PORT"),
        ("", {"ESPACE_SMTP_INBOUND_PORT": "70000"}, "smtp.inbound_port"),
        ("", {"ESPACE_MSSANTE_ACCEPT_TEST_INS": "maybe"}, "ESPACE_MSSANTE_ACCEPT_TEST_INS"),
        ("[smtp]\nnope = 1\n", {}, "smtp.nope"),
        ("typo_key = 1\n", {}, "typo_key"),
        ("smtp = 3\n", {}, "smtp"),
        ("", {"ESPACE_DATABASE_URL": "mysql://x"}, "database_url"),
        ("", {"ESPACE_MSSANTE_PATIENT_DOMAIN": "not a domain"}, "mssante.patient_domain"),
        ("[smtp]\ntrust_ca_file = '/nonexistent/ca.pem'\n", {}, "smtp.trust_ca_file"),
        ("[smtp]\ncert_file = '/x.pem'\n", {}, "smtp.cert_file"),
        ("log_level = 'LOUD'\n", {}, "log_level"),
        ("[imap]\nlogin_timeout = 3600\n", {}, "imap.login_timeout"),
        ("", {"ESPACE_IMAP_MAX_UNAUTHENTICATED_PER_ADDRESS": "0"}, "max_unauthenticated"),
        ("[mail_login]\npassword_checks = 0\n", {}, "mail_login.password_checks"),
        ("[imap]\nper_address_exempt = '10.0.0.0/8, nope'\n", {}, "imap.per_address_exempt"),
        ("", {"ESPACE_MAIL_LOGIN_PASSWORD_CHECK_QUEUE": "-1"}, "password_check_queue"),
        ("this is = not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_configuration_names_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], key: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ=env)
    assert key in str(info.value)
