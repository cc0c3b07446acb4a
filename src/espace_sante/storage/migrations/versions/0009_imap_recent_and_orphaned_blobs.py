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
    with op.batch_alter_table("folders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_recent_uid", sa.BigInteger(), server_default="1", nullable=False)
        )
    # The messages already there have been seen by whoever opened the folder before.
    op.execute("UPDATE folders SET first_recent_uid = uidnext")
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("orphaned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_blobs_orphaned_at"), ["orphaned_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blobs_orphaned_at"))
        batch_op.drop_column("orphaned_at")
    with op.batch_alter_table("folders", schema=None) as batch_op:
        batch_op.drop_column("first_recent_uid")
