"""The MSSanté rules as pure functions: facts in, verdict out.

In charge of: INS/NIR validation, patient addresses, the trust space (who may write to a patient),
the recipient's space status, size, the conversation state machine, and the SMTP reply code with a
French/English reason carried by every verdict.
Not in charge of: gathering the facts (database, network) or acting on verdicts — adapters in
``mta`` and ``accounts`` do that. Nothing here does I/O, so every rule is testable as a table.
"""

from espace_sante.policy.verdicts import ACCEPT, Verdict

__all__ = ["ACCEPT", "Verdict"]
