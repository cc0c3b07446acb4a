"""The pure parts of the login: password rules, phone numbers, identifiers, the per-address
limiter, and the [web] settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from espace_sante.accounts import passwords, weblogin
from espace_sante.config import ConfigError, load_settings
from espace_sante.web.ratelimit import AttemptLimiter


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Tisane-Verveine-2026", True),
        ("correct horse Battery", True),  # spaces count as special characters
        ("Été-à-la-mer-2026", True),
        ("Court-1a", False),
        ("sansmajusculesnichiffres", False),
        ("Motdepasse123", False),  # common, whatever the case
        ("motdepasse123", False),  # common, two kinds only
        ("Aa1!Aa1!Aa1!", False),  # five distinct characters needed
        ("A" * 100 + "b1!", False),
        ("Bonjour\x00Monde-2026", False),
        ("x" * 129 + "A1!", False),
    ],
)
def test_password_rules(password: str, ok: bool) -> None:
    assert (passwords.strength_problems(password) == []) is ok


def test_password_must_not_contain_personal_data() -> None:
    problems = passwords.strength_problems("Legrand-2026-Santé", ("LEGRAND", "Marie"))
    assert any("votre nom" in p for p in problems)
    assert passwords.strength_problems("Legrand-2026-Santé", ("Paul",)) == []


async def test_password_hash_round_trip_and_unknown_account() -> None:
    digest = await passwords.hash_password("Tisane-Verveine-2026")
    assert digest.startswith("$argon2id$")
    assert await passwords.verify_password(digest, "Tisane-Verveine-2026")
    assert not await passwords.verify_password(digest, "Tisane-Verveine-2027")
    assert not await passwords.verify_password(None, "anything")
    assert not await passwords.verify_password(digest, "x" * 10_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("07.12.34.56.78", "+33712345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+44 7700 900123", "+447700900123"),
        ("01 23 45 67 89", None),  # a landline gets no SMS
        ("06 12 34", None),
        ("+0612345678", None),
        ("06123456789012345678", None),
        ("", None),
    ],
)
def test_phone_numbers(text: str, expected: str | None) -> None:
    assert weblogin.normalise_phone(text) == expected


@given(st.text(max_size=40))
def test_phone_normalisation_never_lets_odd_characters_through(text: str) -> None:
    phone = weblogin.normalise_phone(text)
    assert phone is None or (phone.startswith("+") and phone[1:].isdigit())


@given(st.text(max_size=300))
def test_clean_field_refuses_controls_and_keeps_the_rest(text: str) -> None:
    try:
        cleaned = weblogin.clean_field(text, 254)
    except weblogin.LoginRefused:
        return
    assert "\r" not in cleaned and "\n" not in cleaned and "\x00" not in cleaned
    assert len(cleaned) <= 254


def test_activation_code_normalisation() -> None:
    assert weblogin.normalise_activation_code(" abcd-efgh jkmn ") == "ABCDEFGHJKMN"
    assert weblogin.normalise_activation_code("ＡＢＣＤ") == "ABCD"  # full-width letters


def test_attempt_limiter_slides() -> None:
    limiter = AttemptLimiter(3, timedelta(minutes=10))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert [limiter.allow("a", t0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", t0)
    assert not limiter.allow("a", t0 + timedelta(minutes=9))
    assert limiter.allow("a", t0 + timedelta(minutes=10))


def test_web_settings_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[web]\nsession_idle_minutes = 30\ncookie_secure = false\n")
    settings = load_settings(config, environ={"ESPACE_WEB_PORT": "8080"})
    assert settings.web.session_idle_minutes == 30 and settings.web.port == 8080
    assert settings.sms_file == settings.data_dir / "sms-dev.log"
    assert load_settings(tmp_path / "c.toml", environ={}).web.cookie_secure is False


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"ESPACE_WEB_SESSION_IDLE_MINUTES": "0"}, "web.session_idle_minutes"),
        ({"ESPACE_WEB_PORT": "70000"}, "web.port"),
        ({"ESPACE_WEB_BASE_URL": "ftp://x"}, "web.base_url"),
        ({"ESPACE_WEB_BASE_URL": "https://x.example/"}, "web.base_url"),
        (
            {"ESPACE_WEB_COOKIE_SECURE": "false", "ESPACE_WEB_BASE_URL": "http://sante.example"},
            "web.cookie_secure",
        ),
        (
            {"ESPACE_WEB_COOKIE_SECURE": "false", "ESPACE_WEB_LISTEN_HOST": "0.0.0.0"},
            "web.cookie_secure",
        ),
        ({"ESPACE_WEB_MAX_BODY_BYTES": "10"}, "web.max_body_bytes"),
        ({"ESPACE_WEB_SMS_GATEWAY": "pigeon"}, "web.sms_gateway"),
        ({"ESPACE_WEB_LOGIN_CODE_ATTEMPTS": "0"}, "web.login_code_attempts"),
    ],
)
def test_bad_web_settings_name_the_key(tmp_path: Path, env: dict[str, str], key: str) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(empty, environ=env)
