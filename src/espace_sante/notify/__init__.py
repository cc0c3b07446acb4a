"""Notices to patients' personal inboxes: something new is waiting in their space.

In charge of: counting what arrived for an account (inside the delivery's transaction), batching
it so that a burst makes one notice; the immediate notices of a professional's first access and
of every emergency access (queued in the access's transaction, with an SMS for emergencies when
the patient asked for it); the patient's notification settings, which decide what goes. Every
notice is French and never carries a sender, a subject, a name, a professional's identity, a
diagnosis or any other health data.
Not in charge of: delivering e-mail (``mta``'s outbound queue), the settings page (``portal``).
"""

from espace_sante.notify.access import QueuedAccessNotice, queue_access_notice, send_queued_sms
from espace_sante.notify.dispatch import dispatch_due
from espace_sante.notify.pending import record_arrival, record_arrival_sync
from espace_sante.notify.settings import NotificationSettings, get_settings, save_settings

__all__ = [
    "NotificationSettings",
    "QueuedAccessNotice",
    "dispatch_due",
    "get_settings",
    "queue_access_notice",
    "record_arrival",
    "record_arrival_sync",
    "save_settings",
    "send_queued_sms",
]
