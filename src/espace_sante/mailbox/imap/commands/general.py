"""Commands of any state and session settings: CAPABILITY, NOOP, LOGOUT, CHECK, IDLE,
ENABLE, ID, NAMESPACE.
"""

from __future__ import annotations

import asyncio

from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    Logout,
    SessionCore,
    no_args,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ConnectionDropped,
)

IDLE_POLL_SECONDS = 1.0


class GeneralCommands(SessionCore):
    """The commands that are about the session rather than messages."""

    async def cmd_capability(self, c: Command) -> None:
        no_args(c)
        await self._send(f"* CAPABILITY {self._capabilities()}")
        await self._send(f"{c.tag} OK CAPABILITY completed")

    async def cmd_noop(self, c: Command) -> None:
        no_args(c)
        await self._done(c)

    async def cmd_logout(self, c: Command) -> None:
        no_args(c)
        await self._send("* BYE logging out")
        await self._send(f"{c.tag} OK LOGOUT completed")
        raise Logout

    async def cmd_check(self, c: Command) -> None:
        no_args(c)
        self._require_selected()
        await self._done(c)

    async def cmd_idle(self, c: Command) -> None:
        """Report changes as they happen until the client sends DONE (RFC 2177)."""
        self._require_auth()
        no_args(c)
        await self._send("+ idling")
        done = asyncio.ensure_future(self.reader.readline())
        deadline = asyncio.get_running_loop().time() + self.idle_timeout
        try:
            while True:
                if asyncio.get_running_loop().time() > deadline:
                    await self._send("* BYE Autologout; idle for too long")
                    raise Logout
                finished, _ = await asyncio.wait({done}, timeout=IDLE_POLL_SECONDS)
                if finished:
                    line = done.result()
                    if not line:
                        raise ConnectionDropped
                    if line.strip().upper() != b"DONE":
                        raise Bad("expected DONE")
                    break
                await self._sync(expunges=True)
        finally:
            if not done.done():
                done.cancel()
        await self._done(c, "IDLE terminated")

    async def cmd_enable(self, c: Command) -> None:
        self._require_auth()
        if not c.args or not all(isinstance(a, Atom) for a in c.args):
            raise Bad("ENABLE takes capability names")
        # RFC 9051 §7.2.1: ENABLED lists the extensions that are on once the command is done,
        # also when an earlier command had turned them on (as Dovecot: a client that enabled
        # CONDSTORE by a FETCH MODSEQ still reads it as enabled), each once; unknown ones are
        # ignored (RFC 5161 §3.1).
        enabled: list[str] = []
        for a in c.args:
            assert isinstance(a, Atom)
            if a.upper == "CONDSTORE" and "CONDSTORE" not in enabled:
                await self._enable_condstore()  # HIGHESTMODSEQ first, if newly on and selected
                enabled.append("CONDSTORE")
            elif a.upper == "IMAP4REV2" and "IMAP4rev2" not in enabled:
                self.rev2 = True
                enabled.append("IMAP4rev2")
        await self._send("* ENABLED" + "".join(f" {name}" for name in enabled))
        await self._send(f"{c.tag} OK ENABLE completed")

    async def cmd_id(self, c: Command) -> None:
        await self._send('* ID ("name" "espace-sante" "vendor" "espace-sante")')
        await self._send(f"{c.tag} OK ID completed")

    async def cmd_namespace(self, c: Command) -> None:
        no_args(c)
        self._require_auth()
        await self._send('* NAMESPACE (("" "/")) NIL NIL')
        await self._send(f"{c.tag} OK NAMESPACE completed")


HANDLERS: dict[str, Handler[GeneralCommands]] = {
    "CAPABILITY": GeneralCommands.cmd_capability,
    "NOOP": GeneralCommands.cmd_noop,
    "LOGOUT": GeneralCommands.cmd_logout,
    "CHECK": GeneralCommands.cmd_check,
    "IDLE": GeneralCommands.cmd_idle,
    "ENABLE": GeneralCommands.cmd_enable,
    "ID": GeneralCommands.cmd_id,
    "NAMESPACE": GeneralCommands.cmd_namespace,
}
