"""feed claims

Revision ID: a3f0c2d9e471
Revises: 1bfd31933fd0
Create Date: 2026-12-05 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f0c2d9e471"
down_revision: str | None = "1bfd31933fd0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Blocks of change-feed positions taken by transactions that have not committed yet.
    op.create_table(
        "feed_claims",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("first_position", sa.BigInteger(), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.Column("writer_xid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feed", "first_position", name=op.f("pk_feed_claims")),
    )


def downgrade() -> None:
    op.drop_table("feed_claims")
