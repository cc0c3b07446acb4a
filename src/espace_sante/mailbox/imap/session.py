"""One IMAP connection: the read-parse-dispatch loop over the state machine of RFC 9051 §3
(not authenticated, authenticated, selected, logout).

Implemented: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (PLAIN, XOAUTH2,
OAUTHBEARER; SASL-IR), ID, ENABLE, NAMESPACE, LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, STATUS, SELECT, EXAMINE, CHECK, FETCH, STORE (UNCHANGEDSINCE), EXPUNGE, COPY, MOVE,
SEARCH, SORT (and their UID forms, with UIDPLUS answers), APPEND and MULTIAPPEND, IDLE, CLOSE,
UNSELECT — each in its family's module under ``commands``.
Changes made by other sessions or the gateway are reported at the end of each command and
during IDLE. Anything else is answered ``BAD`` and the session goes on. Only what works is
advertised.
"""

from __future__ import annotations

import asyncio
import logging

from espace_sante.mailbox.imap.commands import (
    auth,
    fetching,
    folders,
    general,
    searching,
    selecting,
    writing,
)
from espace_sante.mailbox.imap.core import NO_EXPUNGE_DURING, Bad, Handler, Logout, No
from espace_sante.mailbox.imap.errors import log_failure
from espace_sante.mailbox.imap.mailstore import MessageExpunged
from espace_sante.mailbox.imap.parser import (
    ConnectionDropped,
    LiteralTooLarge,
    ParseError,
    parse_command,
    read_command,
)
from espace_sante.mailbox.imap.seqset import SequenceSetError
from espace_sante.mailbox.imap.slices import in_pool

log = logging.getLogger(__name__)
PARSE_INLINE = 4096  # longer commands are parsed off the event loop


class ImapSession(
    auth.AuthCommands,
    folders.FolderCommands,
    selecting.SelectCommands,
    fetching.FetchCommands,
    writing.WriteCommands,
    searching.SearchCommands,
    general.GeneralCommands,
):
    """Serves one connection until LOGOUT, an idle timeout or the client leaving."""

    async def run(self) -> None:
        await self._send(f"* OK [CAPABILITY {self._capabilities()}] {self.hostname} ready")
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(
                        read_command(self.reader, self.limits, self._continue),
                        timeout=self.idle_timeout,
                    )
                except TimeoutError:
                    await self._send("* BYE Autologout; idle for too long")
                    return
                except LiteralTooLarge as exc:
                    await self._send(f"{exc.tag or '*'} BAD [TOOBIG] {exc.reason}")
                    if exc.must_close:
                        await self._send("* BYE Too much data")
                        return
                    continue
                except ParseError as exc:
                    log.info("imap: BAD from %s: %s", self.remote, exc.reason)
                    await self._send(f"{exc.tag or '*'} BAD {exc.reason}")
                    continue
                await self._handle(raw)
        except (Logout, ConnectionDropped, ConnectionError):
            return
        finally:
            if not self.writer.is_closing():
                self.writer.close()

    async def _handle(self, raw: bytes) -> None:
        try:
            if len(raw) > PARSE_INLINE:  # 64 KB of short tokens take ~0.3 s: not on the loop
                command = await in_pool(parse_command, raw, self.limits)
            else:
                command = parse_command(raw, self.limits)
        except ParseError as exc:
            await self._send(f"{exc.tag or '*'} BAD {exc.reason}")
            return
        handler = _HANDLERS.get(command.name)
        if handler is None:
            await self._send(f"{command.tag} BAD unknown or unsupported command {command.name}")
            return
        try:
            await handler(self, command)
        except Bad as exc:
            await self._send(f"{command.tag} BAD {exc}")
        except No as exc:
            await self._send(f"{command.tag} NO {exc}")
        except (ParseError, SequenceSetError) as exc:
            await self._send(f"{command.tag} BAD {exc}")
        except MessageExpunged:  # RFC 9051 §7.1: shown still, but expunged by another session
            await self._sync(expunges=command.name not in NO_EXPUNGE_DURING)  # a UID command may
            await self._send(f"{command.tag} NO [EXPUNGEISSUED] some messages no longer exist")
        except (Logout, ConnectionDropped, ConnectionError):
            raise
        except Exception as exc:
            log_failure(log, f"imap: {command.name} failed for account {self.account_id}", exc)
            await self._send(f"{command.tag} NO [SERVERBUG] internal error, try again later")


_HANDLERS: dict[str, Handler[ImapSession]] = {
    **auth.HANDLERS,
    **folders.HANDLERS,
    **selecting.HANDLERS,
    **fetching.HANDLERS,
    **writing.HANDLERS,
    **searching.HANDLERS,
    **general.HANDLERS,
}
