"""A hostile IMAP client, run as its own process by test_search_load: it logs in, selects INBOX
and loops the commands given (one a line of a file, ``tag`` prefixed) until told to stop by the
end of its standard input; then it prints, as JSON, how many rounds it made, its longest command
and each command's tagged answers (first ten characters after the tag).

    python hostile_imap.py PORT CAFILE USER PASSWORD COMMANDS_FILE
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import sys
import time


def main() -> None:
    port, cafile, user, password, commands_file = sys.argv[1:6]
    with open(commands_file, "rb") as f:
        commands = f.read().split(b"\n")
    tls = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=120)
    answers: dict[int, set[str]] = {}
    rounds = 0
    longest = 0.0
    with tls.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        stream = sock.makefile("rb")
        stream.readline()

        def command(tag: bytes, line: bytes) -> bytes:
            sock.sendall(tag + b" " + line + b"\r\n")
            while True:
                reply = stream.readline()
                if not reply or reply.startswith(tag + b" "):
                    return reply

        command(b"l", f"LOGIN {user} {password}".encode())
        command(b"s", b"SELECT INBOX")
        print("ready", flush=True)
        while not select.select([sys.stdin], [], [], 0)[0]:  # until stdin closes
            for index, line in enumerate(commands):
                started = time.monotonic()
                status = command(b"h%d" % index, line).split(b" ", 1)[-1][:10]
                longest = max(longest, time.monotonic() - started)
                answers.setdefault(index, set()).add(status.decode())
            rounds += 1
    summary = {"rounds": rounds, "longest": longest}
    print(json.dumps({**summary, "answers": {i: sorted(a) for i, a in answers.items()}}))


if __name__ == "__main__":
    main()
