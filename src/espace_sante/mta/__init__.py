"""SMTP: the inbound MX that receives clinicians' mail from other MSSanté operators.

In charge of: the protocol edge (aiosmtpd, STARTTLS, enhanced status codes), gathering the facts
``policy`` needs and acting on its verdicts, MIME parsing, XDM extraction, and the one-transaction
delivery into ``mailbox`` and ``records``. Later: submission, the outbound queue, DSN and MDN.
Not in charge of: the rules themselves (``policy``) or how rows and blobs are kept (``storage``).
"""
