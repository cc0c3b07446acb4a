"""The document store (DMP): documents deposited in a patient's record, with their metadata.

In charge of: reading IHE XDM archives (``xdm``) and recording documents (``deposit``). Later:
visibility, authorisations, the access matrix, break-glass, the medical profile.
Not in charge of: finding attachments in mail (``mta``) or how blobs are kept (``storage``).
"""
