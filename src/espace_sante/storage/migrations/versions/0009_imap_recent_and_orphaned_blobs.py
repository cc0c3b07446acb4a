"""IMAP: each folder's first \\Recent UID; blobs of expunged messages kept for a while

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX (no batch): SQLite supports both, and a batch copy of
    # these tables would have to drop tables that messages and documents reference.
    op.add_column(
        "folders",
        sa.Column("first_recent_uid", sa.BigInteger(), server_default="1", nullable=False),
    )
    # The messages already there have been seen by whoever opened the folder before.
    op.execute("UPDATE folders SET first_recent_uid = uidnext")
    op.add_column("blobs", sa.Column("orphaned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_blobs_orphaned_at"), "blobs", ["orphaned_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_blobs_orphaned_at"), table_name="blobs")
    op.drop_column("blobs", "orphaned_at")  # ALTER TABLE DROP COLUMN: SQLite 3.35 and later
    op.drop_column("folders", "first_recent_uid")
