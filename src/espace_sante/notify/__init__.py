"""Notices to patients' personal inboxes: something new is waiting in their space.

In charge of: counting what arrived for an account (inside the delivery's transaction), batching
it so that a burst makes one notice, composing the French notice — which never carries a sender,
a subject, a diagnosis or any other health data — and queueing it for the outbound delivery.
Not in charge of: delivering it (``mta``'s outbound queue), the patient's notification settings
page (``webmail``).
"""

from espace_sante.notify.dispatch import dispatch_due
from espace_sante.notify.pending import record_arrival, record_arrival_sync

__all__ = ["dispatch_due", "record_arrival", "record_arrival_sync"]
