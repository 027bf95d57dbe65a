"""ticket change feed

Revision ID: 6ada06567854
Revises: 0001
Create Date: 2026-12-05 22:56:48.693614
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6ada06567854"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_position", sa.BigInteger(), nullable=True))
    # Existing tickets enter the feed in creation (id) order; the counter continues after them.
    op.execute(
        "UPDATE tickets SET change_position = numbered.position "
        "FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM tickets) AS numbered "
        "WHERE tickets.id = numbered.id"
    )
    op.execute(
        "INSERT INTO feed_counter (feed, position) "
        "SELECT 'tickets', COALESCE(MAX(change_position), 0) FROM tickets"
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column("change_position", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index("ix_tickets_change_position", ["change_position"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_change_position")
        batch_op.drop_column("change_position")
    op.execute("DELETE FROM feed_counter WHERE feed = 'tickets'")
