"""The IMAP commands, one module per command family (as mox keeps them): each module holds a
mixin over ``core.SessionCore`` and its ``HANDLERS`` table; ``session.ImapSession`` joins them.
"""
