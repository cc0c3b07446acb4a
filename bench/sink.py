"""A bare aiosmtpd server that requires STARTTLS and writes each message to a file, fsync'd before
250: the floor cost of an SMTP server in Python on this machine, with none of our checks.

Run: ``python bench/sink.py PORT CERT KEY DIR``; prints ``ready`` when it listens.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class FsyncHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.dir_fd = os.open(directory, os.O_RDONLY)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        await asyncio.to_thread(self._store, data)
        return "250 2.0.0 stored"

    def _store(self, data: bytes) -> None:
        path = self.directory / uuid.uuid4().hex
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.fsync(self.dir_fd)


async def main(port: int, cert: str, key: str, directory: Path) -> None:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cert, key)
    handler = FsyncHandler(directory)

    def factory() -> Any:
        return SMTP(
            handler,
            tls_context=tls,
            require_starttls=True,
            data_size_limit=30_000_000,
            decode_data=False,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])))
