"""TLS for the SMTP listeners: the development CA made on first run, and server contexts.

The development CA signs a server certificate for our host names and a client certificate that
plays a trust-space operator's MTA in tests and demos. In production the operator configures its
own server certificate (``smtp.cert_file``/``smtp.key_file``) and the trust-space CA bundle
(``smtp.trust_ca_file``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from espace_sante.config import Settings


@dataclass(frozen=True)
class DevPki:
    """Paths of the development CA and the certificates it issued."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.root / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"


def ensure_dev_pki(root: Path, hostnames: list[str]) -> tuple[DevPki, bool]:
    """Create the development CA, server and client certificates if missing (idempotent)."""
    pki = DevPki(root)
    if pki.ca_cert.exists() and pki.server_cert.exists() and pki.client_cert.exists():
        return pki, False
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "espace-sante development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "espace-sante development CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.ca_key, ca_key)
    _write_cert(pki.ca_cert, ca_cert)
    _issue(pki.server_cert, pki.server_key, ca_cert, ca_key, hostnames[0], hostnames, server=True)
    _issue(
        pki.client_cert,
        pki.client_key,
        ca_cert,
        ca_key,
        "mta.operateur-test.mssante.fr",
        ["mta.operateur-test.mssante.fr"],
        server=False,
    )
    return pki, True


def _issue(
    cert_path: Path,
    key_path: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    names: list[str],
    *,
    server: bool,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                if server
                else [ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_context(settings: Settings) -> ssl.SSLContext:
    """The inbound listener's TLS context: TLS 1.2 minimum, client certificates checked against
    the trust-space CA when one is configured (a missing one is refused at MAIL FROM)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.smtp.cert_file:
        ctx.load_cert_chain(settings.smtp.cert_file, settings.smtp.key_file)
    else:
        pki = DevPki(settings.pki_dir)
        if not pki.server_cert.exists():
            raise FileNotFoundError(
                f"no server certificate at {pki.server_cert}: run `espace-sante init`"
            )
        ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    if settings.smtp.trust_ca_file:
        ctx.load_verify_locations(cafile=settings.smtp.trust_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def mail_client_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of the listeners that mail clients use (IMAP, submission): our
    certificate, TLS 1.2 minimum, no client certificate asked."""
    ctx = server_context(settings)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def default_hostnames(settings: Settings) -> list[str]:
    names = [settings.mssante.hostname, "localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(names))
