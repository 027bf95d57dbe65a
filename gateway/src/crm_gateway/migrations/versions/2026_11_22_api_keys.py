"""api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:38:04.657738
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm_shared.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("secret_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('storefront', 'backoffice', 'marketing', 'admin')",
            name=op.f("ck_api_keys_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_created_at", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_created_at")

    op.drop_table("api_keys")
