"""activity history index, notification settings, SMS queue

Revision ID: 0007
Revises: 0006 (written against 0005 on the history-notify branch: set 0006 at merge)
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_account_at", ["account_id", "at"], unique=False)

    op.create_table(
        "notification_settings",
        sa.Column("account_id", BigId, autoincrement=False, nullable=False),
        sa.Column("new_message", sa.Boolean(), nullable=False),
        sa.Column("new_document", sa.Boolean(), nullable=False),
        sa.Column("first_professional_access", sa.Boolean(), nullable=False),
        sa.Column("emergency_access", sa.Boolean(), nullable=False),
        sa.Column("channel_email", sa.Boolean(), nullable=False),
        sa.Column("channel_sms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notification_settings_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_notification_settings")),
    )

    op.create_table(
        "sms_queue",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sms_queue_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_queue")),
    )
    with op.batch_alter_table("sms_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_queue_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_queue_account_id"))
    op.drop_table("sms_queue")
    op.drop_table("notification_settings")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_account_at")
