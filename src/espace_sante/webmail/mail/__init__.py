"""The mail pages of the patient webmail: conversations, folders, message lists, message view,
reply.

In charge of: talking to our own IMAP server (aioimaplib, XOAUTH2 token) to read, search and
move messages; rendering them safely (HTML sanitised with nh3, remote content blocked); building
a patient's reply with stdlib ``email`` and handing it to our SMTP submission server
(aiosmtplib, XOAUTH2 token).
Not in charge of: login, sessions, CSRF checking or the app factory (the ``web`` shell), nor of
enforcing the MSSanté rules — the submission server does that for every client; these pages only
avoid offering what would be refused.
"""
