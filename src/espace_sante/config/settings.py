"""Settings dataclasses and their loader.

Every key of the TOML file has an environment variable: top-level keys are ``ESPACE_<KEY>``
(``ESPACE_DATA_DIR``, ``ESPACE_DATABASE_URL``), keys of a section are ``ESPACE_<SECTION>_<KEY>``
(``ESPACE_SMTP_INBOUND_PORT``). The environment wins over the file, the file over the defaults.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_FILE = Path("config/espace-sante.toml")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A configuration value is missing, unknown or invalid; the message names the key."""


@dataclass(frozen=True)
class MssanteSettings:
    """The trust-space rules that vary between operators and environments."""

    patient_domain: str = "patient.mssante.fr"
    #: Accept the test (.10) and demo (.11) INS OIDs besides INS-NIR (.8) and INS-NIA (.9).
    accept_test_ins: bool = True
    #: Largest message accepted, headers and attachments included (MSSanté: 25 MB).
    max_message_size: int = 25 * 1024 * 1024
    #: Our own host name, used in the SMTP greeting and in Received headers.
    hostname: str = "mx.espace-sante.localhost"
    #: Where error notices (XDM integration failures) are sent from.
    postmaster: str = "postmaster@espace-sante.localhost"
    #: Profession codes (directory ``profession_code``) to which a patient may write first,
    #: comma-separated. 21 = pharmacien.
    patient_initiated_professions: str = "21"

    @property
    def patient_initiated_profession_set(self) -> frozenset[str]:
        """:attr:`patient_initiated_professions` as a set of codes."""
        return frozenset(c.strip() for c in self.patient_initiated_professions.split(",") if c)


@dataclass(frozen=True)
class SmtpSettings:
    """The inbound MX listener."""

    listen_host: str = "127.0.0.1"
    inbound_port: int = 2525
    #: PEM bundle of the trust-space CA; when set, clients must present a certificate
    #: chaining to it.
    trust_ca_file: str = ""
    #: Server certificate and key (PEM); empty means the development certificate made by ``init``.
    cert_file: str = ""
    key_file: str = ""
    #: Number of worker processes sharing the listening socket (1 = in the serving process).
    workers: int = 1
    #: Seconds a client may stay silent before the session is closed.
    idle_timeout: int = 300
    #: Largest number of recipients in one transaction.
    max_recipients: int = 100


@dataclass(frozen=True)
class ImapSettings:
    """The IMAP listeners (STARTTLS port and implicit-TLS port)."""

    listen_host: str = "127.0.0.1"
    port: int = 1430
    tls_port: int = 9930
    #: Seconds of client silence before logging out (RFC 9051 §5.4: at least 30 minutes).
    idle_timeout: int = 1800
    #: Seconds a connection has to log in, from its greeting; then ``* BYE`` and closed.
    login_timeout: int = 60
    #: Connections not yet logged in at once from one client address; one more is greeted
    #: with ``* BYE`` and closed.
    max_unauthenticated_per_address: int = 10
    #: Client networks that cap does not apply to, comma-separated (the webmail's own
    #: connections come from the web process's address).
    per_address_exempt: str = "127.0.0.0/8, ::1"

    @property
    def per_address_exempt_networks(self) -> tuple[IPNetwork, ...]:
        """:attr:`per_address_exempt` parsed."""
        return parse_networks(self.per_address_exempt, "imap.per_address_exempt")


@dataclass(frozen=True)
class MailLoginSettings:
    """Password checks of mail clients' logins (IMAP LOGIN/AUTHENTICATE, submission AUTH), one
    pool per process shared by both servers: each argon2id check holds 64 MiB."""

    #: Password checks running at once.
    password_checks: int = 2
    #: Logins waiting for a check; beyond it a login is refused at once as temporarily
    #: unavailable (IMAP ``NO [UNAVAILABLE]``, SMTP ``454 4.7.0``).
    password_check_queue: int = 32


@dataclass(frozen=True)
class NotifySettings:
    """Notices to patients' personal inboxes (never any health data)."""

    #: Seconds after the first new item before the notice goes: what else arrives meanwhile joins
    #: it (ten messages in a minute make one notice).
    batch_seconds: int = 60
    #: The sender of notices (a no-reply address of the operator).
    sender: str = "ne-pas-repondre@espace-sante.localhost"
    #: Seconds between two looks for due notices and read receipts.
    poll_seconds: int = 5


@dataclass(frozen=True)
class WebSettings:
    """The web front (patient webmail and login pages)."""

    listen_host: str = "127.0.0.1"
    port: int = 8000
    #: The address patients type, used in links of the mails we send (no trailing slash).
    base_url: str = "http://127.0.0.1:8000"
    #: Minutes without a request after which a session ends.
    session_idle_minutes: int = 15
    #: Hours after which a session ends however active it is.
    session_max_hours: int = 12
    #: Send cookies with the Secure attribute. Turning it off is allowed only for a development
    #: front served over plain HTTP on the loopback interface.
    cookie_secure: bool = True
    #: Largest request body accepted, in bytes (larger: 413): a 5 MB upload and its form.
    max_body_bytes: int = 6 * 1024 * 1024
    #: Minutes a one-time login code stays valid, and wrong tries before it is void.
    login_code_minutes: int = 10
    login_code_attempts: int = 5
    #: Days a provisional activation code (printed by ``patient add``) stays valid.
    activation_code_days: int = 30
    #: SMS gateway: "file" (development: appends each SMS to ``sms_file``).
    sms_gateway: str = "file"
    #: Development SMS file, relative to data_dir unless absolute.
    sms_file: str = "sms-dev.log"
    #: Log one-time codes in clear at INFO (development only; never in production).
    dev_show_codes_in_log: bool = False


@dataclass(frozen=True)
class SubmissionSettings:
    """The SMTP submission listeners (RFC 6409) of the webmail and of mail apps."""

    listen_host: str = "127.0.0.1"
    #: STARTTLS port (production: 587); AUTH is offered only once TLS is on.
    port: int = 5870
    #: Implicit-TLS port (production: 465, RFC 8314).
    tls_port: int = 4650
    #: Seconds of client silence before the session is closed.
    idle_timeout: int = 300
    #: Largest number of recipients in one transaction.
    max_recipients: int = 50


@dataclass(frozen=True)
class OutboundSettings:
    """The outbound queue's delivery to other operators' MTAs."""

    #: Run the delivery worker in each ``serve`` process.
    enabled: bool = True
    #: Routing table that overrides DNS MX: ``"domain=host:port, *=host:port"`` (``*`` is every
    #: other domain). Empty: MX records from DNS, port 25.
    routes: str = ""
    #: PEM bundle that peers' server certificates must chain to (the trust-space CA). Empty: the
    #: development CA made by ``init``.
    trust_ca_file: str = ""
    #: Our client certificate and key presented to peers. Empty: the development server
    #: certificate (it carries the clientAuth usage).
    client_cert_file: str = ""
    client_key_file: str = ""
    #: Deliveries in progress at once, in total and per destination domain.
    max_concurrency: int = 16
    per_domain_concurrency: int = 4
    #: Seconds between two looks at the queue when it has nothing due.
    poll_interval: float = 5.0
    #: Retry back-off: first delay, doubled at each attempt, capped (seconds).
    retry_base: float = 300.0
    retry_max: float = 14400.0
    #: Seconds after which an undelivered message is given up and a DSN is sent (5 days).
    max_lifetime: float = 432000.0
    #: Seconds a worker holds a claimed row; past it another worker may take the row over.
    lease: float = 600.0
    #: Seconds allowed to connect and for each SMTP command.
    timeout: float = 60.0


@dataclass(frozen=True)
class RecordsSettings:
    """The record (DMP): emergency access and patient uploads."""

    #: Minutes a break-glass or SAMU emergency access lasts once opened.
    break_glass_minutes: int = 60
    #: Largest document a patient may upload, in bytes (Mon espace santé: 5 MB).
    upload_max_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    data_dir: Path = Path("./var")
    database_url: str = ""
    log_level: str = "INFO"
    mssante: MssanteSettings = field(default_factory=MssanteSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    mail_login: MailLoginSettings = field(default_factory=MailLoginSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    web: WebSettings = field(default_factory=WebSettings)
    submission: SubmissionSettings = field(default_factory=SubmissionSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'espace-sante.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "keys" / "master.key"

    @property
    def sms_file(self) -> Path:
        """Where the development SMS gateway appends its messages."""
        path = Path(self.web.sms_file)
        return path if path.is_absolute() else self.data_dir / path


_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (``ESPACE_CONFIG`` or ``config/espace-sante.toml`` when present), apply
    ``ESPACE_*`` overrides and validate. Raises ConfigError naming the offending key."""
    env = os.environ if environ is None else environ
    if path is None:
        explicit = env.get("ESPACE_CONFIG")
        if explicit:
            path = Path(explicit)
            if not path.is_file():
                raise ConfigError(f"ESPACE_CONFIG: no such configuration file: {path}")
        elif DEFAULT_CONFIG_FILE.is_file():
            path = DEFAULT_CONFIG_FILE
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
    settings = _build(Settings, raw, env, prefix="")
    _validate(settings)
    return settings


def _build(cls: type, raw: Mapping[str, Any], env: Mapping[str, str], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown configuration key")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            section = raw.get(f.name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"{key}: expected a [{key}] table")
            values[f.name] = _build(typing.cast(type, hint), section, env, prefix=f"{key}.")
            continue
        env_name = "ESPACE_" + key.replace(".", "_").upper()
        if env_name in env:
            values[f.name] = _coerce(hint, env[env_name], f"{key} ({env_name})", from_env=True)
        elif f.name in raw:
            values[f.name] = _coerce(hint, raw[f.name], key, from_env=False)
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, from_env: bool) -> Any:
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if from_env and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise ConfigError(f"{key}: expected a non-empty path, got {value!r}")
    raise ConfigError(f"{key}: unsupported setting type {hint!r}")  # pragma: no cover


def _validate(s: Settings) -> None:
    if s.log_level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"log_level: expected one of {sorted(_LOG_LEVELS)}, got {s.log_level!r}")
    url = s.database_url
    if url and not (
        url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")
    ):
        raise ConfigError(
            "database_url (ESPACE_DATABASE_URL): expected sqlite+aiosqlite://… or "
            f"postgresql+asyncpg://…, got {url!r}"
        )
    if not 1 <= s.smtp.inbound_port <= 65535:
        raise ConfigError(f"smtp.inbound_port: expected 1..65535, got {s.smtp.inbound_port}")
    if not 1 <= s.smtp.workers <= 64:
        raise ConfigError(f"smtp.workers: expected 1..64, got {s.smtp.workers}")
    if s.smtp.idle_timeout < 1:
        raise ConfigError(
            f"smtp.idle_timeout: expected a positive number of seconds, got {s.smtp.idle_timeout}"
        )
    if not 1 <= s.smtp.max_recipients <= 10000:
        raise ConfigError(f"smtp.max_recipients: expected 1..10000, got {s.smtp.max_recipients}")
    for key, port in (("imap.port", s.imap.port), ("imap.tls_port", s.imap.tls_port)):
        if not 0 <= port <= 65535:  # 0: any free port (tests)
            raise ConfigError(f"{key}: expected 1..65535, got {port}")
    if s.imap.idle_timeout < 60:
        raise ConfigError(
            f"imap.idle_timeout: expected at least 60 seconds, got {s.imap.idle_timeout}"
        )
    if not 1 <= s.imap.login_timeout <= s.imap.idle_timeout:
        raise ConfigError(
            f"imap.login_timeout: expected 1..{s.imap.idle_timeout} seconds (imap.idle_timeout), "
            f"got {s.imap.login_timeout}"
        )
    if not 1 <= s.imap.max_unauthenticated_per_address <= 100000:
        raise ConfigError(
            "imap.max_unauthenticated_per_address: expected 1..100000, "
            f"got {s.imap.max_unauthenticated_per_address}"
        )
    s.imap.per_address_exempt_networks  # noqa: B018 (raises ConfigError when malformed)
    if not 1 <= s.mail_login.password_checks <= 64:
        raise ConfigError(
            f"mail_login.password_checks: expected 1..64, got {s.mail_login.password_checks}"
        )
    if not 0 <= s.mail_login.password_check_queue <= 10000:
        raise ConfigError(
            "mail_login.password_check_queue: expected 0..10000, "
            f"got {s.mail_login.password_check_queue}"
        )
    if s.smtp.trust_ca_file and not Path(s.smtp.trust_ca_file).is_file():
        raise ConfigError(f"smtp.trust_ca_file: no such file: {s.smtp.trust_ca_file}")
    if bool(s.smtp.cert_file) != bool(s.smtp.key_file):
        raise ConfigError("smtp.cert_file and smtp.key_file: set both or neither")
    if not 1024 <= s.mssante.max_message_size <= 1024 * 1024 * 1024:
        raise ConfigError(
            f"mssante.max_message_size: expected 1 KiB..1 GiB, got {s.mssante.max_message_size}"
        )
    if not 1 <= s.notify.batch_seconds <= 86400:
        raise ConfigError(f"notify.batch_seconds: expected 1..86400, got {s.notify.batch_seconds}")
    if not 1 <= s.notify.poll_seconds <= 3600:
        raise ConfigError(f"notify.poll_seconds: expected 1..3600, got {s.notify.poll_seconds}")
    if s.notify.sender.count("@") != 1 or any(c in s.notify.sender for c in " <>\r\n"):
        raise ConfigError(f"notify.sender: not an e-mail address: {s.notify.sender!r}")
    _validate_web(s.web)
    if not 1 <= s.records.break_glass_minutes <= 24 * 60:
        raise ConfigError(
            f"records.break_glass_minutes: expected 1..1440, got {s.records.break_glass_minutes}"
        )
    if not 1024 <= s.records.upload_max_bytes <= 1024 * 1024 * 1024:
        raise ConfigError(
            f"records.upload_max_bytes: expected 1 KiB..1 GiB, got {s.records.upload_max_bytes}"
        )
    _validate_submission_and_outbound(s)
    domain = s.mssante.patient_domain
    if not domain or "@" in domain or " " in domain or "." not in domain:
        raise ConfigError(f"mssante.patient_domain: not a domain name: {domain!r}")


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _validate_web(w: WebSettings) -> None:
    if not 0 <= w.port <= 65535:  # 0: any free port (tests)
        raise ConfigError(f"web.port: expected 1..65535, got {w.port}")
    scheme, sep, rest = w.base_url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if sep else ""
    if scheme not in ("http", "https") or not host or w.base_url.endswith("/"):
        raise ConfigError(
            f"web.base_url: expected http(s)://host[:port] without a trailing slash, "
            f"got {w.base_url!r}"
        )
    if not 1 <= w.session_idle_minutes <= 24 * 60:
        raise ConfigError(
            f"web.session_idle_minutes: expected 1..1440, got {w.session_idle_minutes}"
        )
    if not 1 <= w.session_max_hours <= 24 * 30:
        raise ConfigError(f"web.session_max_hours: expected 1..720, got {w.session_max_hours}")
    if not w.cookie_secure and (
        scheme != "http" or host not in _LOOPBACK_HOSTS or w.listen_host not in _LOOPBACK_HOSTS
    ):
        raise ConfigError(
            "web.cookie_secure: may be false only for a development front on http://127.0.0.1 "
            "(web.base_url and web.listen_host on the loopback interface)"
        )
    if not 4096 <= w.max_body_bytes <= 1024 * 1024 * 1024:
        raise ConfigError(f"web.max_body_bytes: expected 4 KiB..1 GiB, got {w.max_body_bytes}")
    if not 1 <= w.login_code_minutes <= 60:
        raise ConfigError(f"web.login_code_minutes: expected 1..60, got {w.login_code_minutes}")
    if not 1 <= w.login_code_attempts <= 10:
        raise ConfigError(f"web.login_code_attempts: expected 1..10, got {w.login_code_attempts}")
    if not 1 <= w.activation_code_days <= 365:
        raise ConfigError(
            f"web.activation_code_days: expected 1..365, got {w.activation_code_days}"
        )
    if w.sms_gateway not in ("file",):
        raise ConfigError(f'web.sms_gateway: expected "file", got {w.sms_gateway!r}')
    if not w.sms_file:
        raise ConfigError("web.sms_file: expected a file name")


def parse_routes(text: str, key: str = "outbound.routes") -> dict[str, tuple[str, int]]:
    """``"domain=host:port, *=host:port"`` as ``{domain: (host, port)}``; ConfigError naming
    ``key`` on a bad entry. ``[::1]:25`` spells an IPv6 host."""
    routes: dict[str, tuple[str, int]] = {}
    for entry in (e.strip() for e in text.replace(";", ",").split(",")):
        if not entry:
            continue
        domain, sep, target = (part.strip() for part in entry.partition("="))
        host, _, port_text = target.rpartition(":")
        host = host.strip("[]")
        if (
            not sep
            or not domain
            or " " in domain
            or not host
            or not port_text.isdigit()
            or not 1 <= int(port_text) <= 65535
        ):
            raise ConfigError(f"{key}: expected domain=host:port, got {entry!r}")
        routes[domain.lower()] = (host, int(port_text))
    return routes


def parse_networks(text: str, key: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1"`` as networks (an address alone is a network of one); ConfigError
    naming ``key`` on a bad entry."""
    networks: list[IPNetwork] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(f"{key}: not an address or network: {entry!r}") from exc
    return tuple(networks)


def _validate_submission_and_outbound(s: Settings) -> None:
    sub = s.submission
    for key, port in (("submission.port", sub.port), ("submission.tls_port", sub.tls_port)):
        if not 0 <= port <= 65535:  # 0: any free port (tests)
            raise ConfigError(f"{key}: expected 1..65535, got {port}")
    if sub.idle_timeout < 1:
        raise ConfigError(f"submission.idle_timeout: expected >= 1 second, got {sub.idle_timeout}")
    if not 1 <= sub.max_recipients <= 1000:
        raise ConfigError(f"submission.max_recipients: expected 1..1000, got {sub.max_recipients}")
    out = s.outbound
    parse_routes(out.routes)
    for key, path in (
        ("outbound.trust_ca_file", out.trust_ca_file),
        ("outbound.client_cert_file", out.client_cert_file),
        ("outbound.client_key_file", out.client_key_file),
    ):
        if path and not Path(path).is_file():
            raise ConfigError(f"{key}: no such file: {path}")
    if bool(out.client_cert_file) != bool(out.client_key_file):
        raise ConfigError(
            "outbound.client_cert_file and outbound.client_key_file: set both or neither"
        )
    if not 1 <= out.max_concurrency <= 1000:
        raise ConfigError(f"outbound.max_concurrency: expected 1..1000, got {out.max_concurrency}")
    if not 1 <= out.per_domain_concurrency <= out.max_concurrency:
        raise ConfigError(
            "outbound.per_domain_concurrency: expected 1..max_concurrency, "
            f"got {out.per_domain_concurrency}"
        )
    for key, value in (
        ("outbound.poll_interval", out.poll_interval),
        ("outbound.retry_base", out.retry_base),
        ("outbound.retry_max", out.retry_max),
        ("outbound.max_lifetime", out.max_lifetime),
        ("outbound.lease", out.lease),
        ("outbound.timeout", out.timeout),
    ):
        if not value > 0:
            raise ConfigError(f"{key}: expected a positive number of seconds, got {value}")
    if out.retry_max < out.retry_base:
        raise ConfigError(f"outbound.retry_max: must be >= retry_base ({out.retry_base})")
    if out.lease <= out.timeout:
        raise ConfigError(f"outbound.lease: must exceed outbound.timeout ({out.timeout})")
