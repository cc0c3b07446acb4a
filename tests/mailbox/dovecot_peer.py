"""A private Dovecot instance on loopback, over a maildir we fill: the reference IMAP server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def available() -> bool:
    return os.path.exists(DOVECOT)


class Dovecot:
    """A private Dovecot: ``users`` (name → password), plain IMAP on ``port`` and, when a
    certificate is given, implicit TLS on ``tls_port``; ``config`` is added to its
    configuration (e.g. a namespace with our "/" separator)."""

    def __init__(
        self,
        user: str = "patient",
        password: str = "secret",
        *,
        users: dict[str, str] | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        config: str = "",
    ) -> None:
        # Dovecot's auth and mail processes run as the dovecot user: the tree must be reachable by
        # it, which pytest's private (0700) temporary directories are not.
        self.root = Path(tempfile.mkdtemp(prefix="espace-dovecot-"))
        self.root.chmod(0o755)
        self.user = user
        self.password = password
        self.users = users or {user: password}
        self.cert, self.key = cert, key
        self.config = config
        self.port = _free_port()
        self.tls_port = _free_port() if cert else 0
        self.base = self.root / "run"
        self.home = self.root / "home"
        self.maildir = self.home / user / "Maildir"

    def add_messages(self, messages: list[bytes], user: str | None = None) -> None:
        maildir = self.home / (user or self.user) / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for index, raw in enumerate(messages):
            name = f"{1700000000 + index}.M{index}P1.test:2,"
            (maildir / "cur" / name).write_bytes(raw)
        for folder in (".Sent", ".Drafts", ".Trash", ".Archive"):  # Maildir++ subfolders
            for sub in ("cur", "new", "tmp"):
                (maildir / folder / sub).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        users = self.root / "users"
        # a password already written "{SCHEME}hash" is kept; anything else is plain text
        users.write_text(
            "".join(
                f"{u}:{p if p.startswith('{') else '{PLAIN}' + p}::::::\n"
                for u, p in self.users.items()
            )
        )
        conf = self.root / "dovecot.conf"
        conf.write_text(
            f"""
base_dir = {self.base}
state_dir = {self.root / "state"}
log_path = {self.root / "dovecot.log"}
listen = 127.0.0.1
protocols = imap
{self._ssl()}
disable_plaintext_auth = no
first_valid_uid = 100
mail_location = maildir:{self.home}/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={self.home}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
{self.config}
"""
        )
        (self.root / "state").mkdir(exist_ok=True)
        subprocess.run(["chown", "-R", "dovecot:dovecot", str(self.home)], check=False)
        # The daemon's children inherit stdout/stderr: a pipe here would never reach EOF.
        subprocess.run(
            [DOVECOT, "-c", str(conf)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start: " + self.log())

    def _ssl(self) -> str:
        if not self.cert or not self.key:
            return "ssl = no"
        return f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}"

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        pid_file = self.base / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
