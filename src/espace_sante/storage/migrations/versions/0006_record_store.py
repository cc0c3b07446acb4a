"""the record's store: document status, versions, visibility codes, categories; professionals'
standing, record settings, emergency grants

The three visibility booleans of ``documents`` become one ``visibility`` column (the TRE_A07
codes, sorted, space-separated) and are dropped. Existing documents get a category from their
class and type codes: the JDV_J57 mapping below is the one ``records.codes`` had when this
revision was written (storage does not import records).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_VISIBILITY_FROM_BOOLEANS = sa.text(
    "UPDATE documents SET visibility = TRIM("
    "CASE WHEN hidden_from_patient THEN 'INVISIBLE_PATIENT ' ELSE '' END || "
    "CASE WHEN hidden_from_legal_representatives THEN 'INVISIBLE_REPRESENTANTS_LEGAUX ' "
    "ELSE '' END || "
    "CASE WHEN masked_from_professionals THEN 'MASQUE_PS' ELSE '' END)"
)
_CATEGORY_FROM_CODES = sa.text(
    "UPDATE documents SET category = CASE "
    "WHEN type_code IN ('11369-6', '87273-9') THEN 'vaccination' "
    "WHEN type_code = '11502-2' THEN 'biologie' "
    "WHEN class_code IN ('42', '43', '44', '45') THEN 'ordonnances' "
    "WHEN class_code = '31' THEN 'imagerie' "
    "WHEN class_code = '10' THEN 'comptes_rendus' "
    "WHEN class_code = '11' THEN 'synthese' "
    "WHEN class_code = '52' THEN 'certificats' "
    "WHEN class_code = '60' THEN 'remboursements' "
    "WHEN class_code = '90' OR source = 'upload' THEN 'mes_documents' "
    "ELSE 'autres' END, updated_at = deposited_at"
)


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="approved", nullable=False)
        )
        batch_op.add_column(sa.Column("replaces_id", BigId, nullable=True))
        batch_op.add_column(
            sa.Column("visibility", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("category", sa.String(length=32), server_default="autres", nullable=False)
        )
        batch_op.add_column(
            sa.Column("author_professional_id", sa.String(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("uploaded_by_account_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_VISIBILITY_FROM_BOOLEANS)
    op.execute(_CATEGORY_FROM_CODES)
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("hidden_from_patient")
        batch_op.drop_column("hidden_from_legal_representatives")
        batch_op.drop_column("masked_from_professionals")
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_replaces_id_documents"), "documents", ["replaces_id"], ["id"]
        )
        batch_op.drop_index(batch_op.f("ix_documents_account_id"))
        batch_op.create_index(
            "ix_documents_account_deposited_at", ["account_id", "deposited_at"], unique=False
        )
        batch_op.create_index(
            "ix_documents_account_category", ["account_id", "category"], unique=False
        )
        batch_op.create_index("ix_documents_replaces_id", ["replaces_id"], unique=False)

    op.create_table(
        "record_professionals",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("professional_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorised_via", sa.String(length=16), nullable=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(length=254), nullable=False),
        sa.Column("first_access_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_access_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_record_professionals_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "professional_id", name=op.f("pk_record_professionals")
        ),
    )
    op.create_table(
        "record_settings",
        sa.Column("account_id", BigId, autoincrement=False, nullable=False),
        sa.Column("attending_physician_id", sa.String(length=32), nullable=True),
        sa.Column("attending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_samu", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("consent_break_glass", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "consent_masked_in_emergency", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_record_settings_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_record_settings")),
    )
    op.create_table(
        "emergency_grants",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("professional_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_emergency_grants_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_grants")),
    )
    with op.batch_alter_table("emergency_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_grants_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("emergency_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_grants_account_id"))
    op.drop_table("emergency_grants")
    op.drop_table("record_settings")
    op.drop_table("record_professionals")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        for name in (
            "hidden_from_patient",
            "hidden_from_legal_representatives",
            "masked_from_professionals",
        ):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    padded = "(' ' || visibility || ' ')"
    op.execute(
        sa.text(
            "UPDATE documents SET "
            f"hidden_from_patient = {padded} LIKE '% INVISIBLE!_PATIENT %' ESCAPE '!', "
            "hidden_from_legal_representatives = "
            f"{padded} LIKE '% INVISIBLE!_REPRESENTANTS!_LEGAUX %' ESCAPE '!', "
            f"masked_from_professionals = {padded} LIKE '% MASQUE!_PS %' ESCAPE '!'"
        )
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_replaces_id")
        batch_op.drop_index("ix_documents_account_category")
        batch_op.drop_index("ix_documents_account_deposited_at")
        batch_op.create_index(batch_op.f("ix_documents_account_id"), ["account_id"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("fk_documents_replaces_id_documents"), type_="foreignkey"
        )
        for name in (
            "updated_at",
            "archived",
            "uploaded_by_account_id",
            "author_professional_id",
            "category",
            "visibility",
            "replaces_id",
            "status",
        ):
            batch_op.drop_column(name)
