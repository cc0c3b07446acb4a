"""A private Postfix instance playing a clinician's operator (domain ``medecin.mssante.fr``):

- its smtpd (TLS required, client certificate asked) takes the clinician's outgoing mail and
  relays mail for the patient domain to our gateway, over TLS verified against the trust-space
  CA (``smtp_tls_security_level = secure``) with the operator's client certificate;
- the same smtpd receives mail for ``medecin.mssante.fr`` (the patient's replies coming from our
  outbound queue) into maildirs.

Needs root and Debian's postfix package. Started and stopped by the tests (``postfix -c DIR``).
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from espace_sante.mta.tls import DevPki

POSTFIX = "/usr/sbin/postfix"
OPERATOR_DOMAIN = "medecin.mssante.fr"
VMAIL_UID = 5000


def available() -> str | None:
    """Why Postfix cannot be used here, or None."""
    if not Path(POSTFIX).exists():
        return "Debian's postfix package is not installed"
    if os.geteuid() != 0:
        return "running a private Postfix needs root"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostfixPeer:
    def __init__(self, pki: DevPki, gateway_port: int, mailboxes: list[str]) -> None:
        # Postfix's unprivileged processes must reach the queue: not under pytest's 0700 tmp.
        self.root = Path(tempfile.mkdtemp(prefix="espace-postfix-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.maildirs = self.root / "maildir"
        for sub in ("queue", "data", "maildir", "tls"):
            (self.root / sub).mkdir()
        shutil.chown(self.maildirs, VMAIL_UID, VMAIL_UID)
        shutil.chown(self.root / "data", "postfix", "postfix")
        tls = self.root / "tls"
        for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key"):
            shutil.copy(pki.root / name, tls / name)
        (self.root / "vmailbox").write_text(
            "".join(f"{m.lower()} {m.split('@')[0].lower()}/\n" for m in mailboxes)
        )
        (self.root / "transport").write_text(
            f"patient.mssante.fr smtp:[localhost]:{gateway_port}\n"
        )
        (self.root / "main.cf").write_text(
            f"""
compatibility_level = 3.6
queue_directory = {self.root}/queue
data_directory = {self.root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mta.{OPERATOR_DOMAIN}
mydestination =
mynetworks = 127.0.0.0/8
maillog_file = {self.root}/maillog
maillog_file_prefixes = {self.root}
message_size_limit = 30000000
virtual_mailbox_limit = 0
virtual_mailbox_domains = {OPERATOR_DOMAIN}
virtual_mailbox_base = {self.maildirs}
virtual_mailbox_maps = texthash:{self.root}/vmailbox
virtual_uid_maps = static:{VMAIL_UID}
virtual_gid_maps = static:{VMAIL_UID}
# server side: TLS required, a client certificate asked and verified against the trust space
smtpd_tls_cert_file = {tls}/server.crt
smtpd_tls_key_file = {tls}/server.key
smtpd_tls_CAfile = {tls}/ca.crt
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_received_header = yes
smtpd_tls_mandatory_protocols = >=TLSv1.2
# client side, towards our gateway: verified TLS with the operator's client certificate
transport_maps = texthash:{self.root}/transport
smtp_host_lookup = native
smtp_tls_security_level = secure
smtp_tls_secure_cert_match = nexthop
smtp_tls_CAfile = {tls}/ca.crt
smtp_tls_cert_file = {tls}/client.crt
smtp_tls_key_file = {tls}/client.key
smtp_tls_mandatory_protocols = >=TLSv1.2
# nothing else leaves this instance
default_transport = error:test instance relays to the gateway only
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        )
        master = []
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            fields = line.split()
            if fields[:2] == ["smtp", "inet"]:
                line = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            elif len(fields) >= 8 and not line[0].isspace() and fields[4] == "y":
                fields[4] = "n"  # no chroot: the private queue is not a prepared jail
                line = " ".join(fields)
            master.append(line)
        (self.root / "master.cf").write_text("\n".join(master) + "\n")
        self._postfix("check")

    def start(self) -> None:
        self._postfix("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Postfix did not start: {self.log()[-2000:]}")

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.root), "stop"], capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(0.1)
            except OSError:
                return

    def flush(self) -> None:
        """Ask the queue manager to retry deferred mail now."""
        subprocess.run([POSTFIX, "-c", str(self.root), "flush"], capture_output=True)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def delivered(self, mailbox: str) -> list[EmailMessage]:
        """Messages in ``mailbox``'s maildir (new/), oldest first."""
        new = self.maildirs / mailbox.split("@")[0].lower() / "new"
        if not new.is_dir():
            return []
        found = []
        for path in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            found.append(msg)
        return found

    def _postfix(self, command: str) -> None:
        done = subprocess.run(
            [POSTFIX, "-c", str(self.root), command], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"postfix {command}: {done.stderr}{self.log()[-2000:]}")
