"""The outbound queue's delivery: from ``outbound_queue`` rows to other operators' MTAs.

In charge of: claiming due rows safely when several processes share the database
(:mod:`.queue`), finding where a domain's mail goes (:mod:`.routing`: the configured routing table,
else DNS MX), delivering with STARTTLS required and the peer's certificate verified against the
trust-space CA (:mod:`.client`), retries with exponential back-off, and the delivery status
notification (RFC 3464, :mod:`.dsn`) when a reply cannot be delivered (:mod:`.worker`).

Not in charge of: what is queued (``storage.outbox.enqueue`` and its callers) nor the MSSanté
rules on who may write to whom (checked before queueing, by the submission server).
"""
