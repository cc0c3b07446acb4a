"""espace-santé: a patient health space built around MSSanté secure health messaging.

Subpackages follow DESIGN.md: ``config``, ``storage``, ``audit``, ``accounts``, ``policy``,
``mta``, ``mailbox``, ``records`` and ``cli``.
"""

__version__ = "0.1.0"
