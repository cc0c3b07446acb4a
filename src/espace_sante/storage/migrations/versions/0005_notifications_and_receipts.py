"""guardianships, notifications and read receipts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "guardianships",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("guardian_account_id", BigId, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_guardianships_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["guardian_account_id"],
            ["accounts.id"],
            name=op.f("fk_guardianships_guardian_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardianships")),
        sa.UniqueConstraint("account_id", "guardian_account_id", name="uq_guardianships_pair"),
    )
    with op.batch_alter_table("guardianships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardianships_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_guardianships_guardian_account_id"),
            ["guardian_account_id"],
            unique=False,
        )

    op.create_table(
        "pending_notifications",
        sa.Column("account_id", BigId, autoincrement=False, nullable=False),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pending_notifications_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_pending_notifications")),
    )
    with op.batch_alter_table("pending_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_notifications_first_event_at"), ["first_event_at"], unique=False
        )

    op.create_table(
        "read_receipt_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("message_row_id", sa.BigInteger(), nullable=False),
        sa.Column("notify_to", sa.String(length=254), nullable=False),
        sa.Column("original_message_id", sa.String(length=998), nullable=True),
        sa.Column("sent_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_read_receipt_requests_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_receipt_requests")),
        sa.UniqueConstraint(
            "account_id", "message_row_id", name="uq_read_receipt_requests_message"
        ),
    )
    with op.batch_alter_table("read_receipt_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_read_receipt_requests_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_read_receipt_requests_state"), ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("read_receipt_requests")
    op.drop_table("pending_notifications")
    with op.batch_alter_table("guardianships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardianships_guardian_account_id"))
        batch_op.drop_index(batch_op.f("ix_guardianships_account_id"))
    op.drop_table("guardianships")
