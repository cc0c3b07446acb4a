"""Patients, guardians, professionals and operators; the directory of professionals, the
trust-space allow-list and the state of each patient's conversations.

In charge of: who exists, in what state, and the facts ``policy`` needs about them.
Not in charge of: the rules themselves (``policy``) or mail storage (``mailbox``).
"""
