"""The document store (DMP): documents deposited in a patient's record, with their metadata.

In charge of: reading IHE XDM archives (``xdm``), recording documents (``deposit``), the one
access entry point (``access``: facts from ``facts``, the decision of ``policy.record_access``,
the audit entry), the lists and version chains (``documents``, with ``visible`` restating the
decision as SQL), changes (``changes``), professionals' standing (``professionals``), emergency
consents and grants (``emergency``), patient uploads (``upload``); categories (``codes``) and the
access matrix (``access_matrix``).
Not in charge of: finding attachments in mail (``mta``), how blobs are kept (``storage``), or
telling the patient (``notify``; the outcomes say when a notice is due).
"""
