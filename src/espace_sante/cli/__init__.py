"""The ``espace-sante`` command: initialise, serve, and administer accounts and reference data.

In charge of: turning command lines into calls of the other packages, and clear errors.
Not in charge of: any rule or storage logic of its own.
"""
