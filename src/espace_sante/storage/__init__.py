"""Database engine and sessions, schema and migrations, the encrypted blob store.

In charge of: how and where bytes and rows are kept durably (SQLAlchemy 2 async on SQLite or
PostgreSQL, Alembic migrations, per-account AES-GCM encryption of blobs under a master key).
Not in charge of: what the rows mean — the packages that own each domain decide that.
"""
