"""The append-only, hash-chained activity log, and the patient's activity history built on it.

In charge of: recording who did what to whose data, in the same transaction as the action, and
detecting tampering (``verify``, ``verify_account``). Each account has its own chain (account 0 is
the system's), so chains shard with the account and concurrent writers only queue per account.
Reading an account's entries for its history (``read_entries``), describing them in French
(``activity``) and exporting them (``export``).
Not in charge of: deciding what is allowed (``policy``) or rendering the history page (``portal``).
"""

from espace_sante.audit.history import ChainStatus, read_entries, verify_account
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
    "ChainStatus",
    "append",
    "append_many",
    "append_many_sync",
    "read_entries",
    "verify",
    "verify_account",
]
