"""The append-only, hash-chained activity log.

In charge of: recording who did what to whose data, in the same transaction as the action, and
detecting tampering (``verify``). Each account has its own chain (account 0 is the system's), so
chains shard with the account and concurrent writers only queue per account.
Not in charge of: deciding what is allowed (``policy``) or showing the history (``webmail``).
"""

from espace_sante.audit.log import (
    SYSTEM_ACCOUNT,
    AuditEvent,
    AuditProblem,
    append,
    append_many,
    append_many_sync,
    verify,
)

__all__ = [
    "SYSTEM_ACCOUNT",
    "AuditEvent",
    "AuditProblem",
    "append",
    "append_many",
    "append_many_sync",
    "verify",
]
