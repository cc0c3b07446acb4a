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


def downgrade() -> None:
    with op.batch_alter_table("guardianships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardianships_guardian_account_id"))
        batch_op.drop_index(batch_op.f("ix_guardianships_account_id"))
    op.drop_table("guardianships")
