"""erased customers

Revision ID: 5c2e8b7d41f9
Revises: a3f0c2d9e471
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_shared.db

revision: str = "5c2e8b7d41f9"
down_revision: str | None = "a3f0c2d9e471"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The customers the customer service's export feed reported erased.
    op.create_table(
        "erased_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_erased_customers")),
    )
    # Where the reading of that feed has got to.
    op.create_table(
        "sync_cursors",
        sa.Column("feed", sa.String(length=60), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", crm_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_sync_cursors")),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_table("erased_customers")
