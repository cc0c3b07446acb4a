"""The IMAP server of the mailbox store (RFC 9051, RFC 3501 compatible).

In charge of: the IMAP protocol over the store that the gateway fills — parsing commands
(``parser``), sequence sets (``seqset``), sessions and responses.
Not in charge of: who may log in (``accounts``), what a message is made of (``mailbox.imapmeta``).
"""
