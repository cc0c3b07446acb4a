"""The message store (folders, UIDs, flags, modseq) and, next, the IMAP server.

In charge of: where each message lives for IMAP (``store``) and the IMAP metadata computed once at
delivery (``imapmeta``). Not in charge of: deciding what may be delivered (``policy``, ``mta``).
"""
