"""review and feedback topics

Revision ID: d7e3f4a5b6c7
Revises: c6d2e3f4a5b6
Create Date: 2026-12-05 23:00:00

The copies of reviews (orders' interactions feed) and of complaint and feedback tickets
(the customer service's ticket feed), and the current run's review keywords, rating
trends and ticket groups. Both feeds start at cursor 0: the next run copies them whole.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_shared.db

revision: str = "d7e3f4a5b6c7"
down_revision: str | None = "c6d2e3f4a5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_id() -> sa.Column[object]:
    return sa.Column("run_id", sa.Uuid(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("review_text", sa.Text(), nullable=True),
        sa.Column("occurred_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_product_id"), ["product_id"], unique=False)

    op.create_table(
        "feedback_tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_tickets")),
    )
    with op.batch_alter_table("feedback_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_tickets_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "product_topics",
        _run_id(),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("average_rating", sa.Float(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("trend", sa.JSON(), nullable=False),
        sa.Column("slope_per_month", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_product_topics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "product_id", name=op.f("pk_product_topics")),
    )
    op.create_table(
        "segment_keywords",
        _run_id(),
        sa.Column("segment_id", sa.String(length=64), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("reviewers", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_segment_keywords_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "segment_id", name=op.f("pk_segment_keywords")),
    )
    op.create_table(
        "ticket_groups",
        _run_id(),
        sa.Column("group_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("example_ticket_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_ticket_groups_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "group_number", name=op.f("pk_ticket_groups")),
    )
    with op.batch_alter_table("ticket_groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_groups_kind", ["run_id", "kind", "group_number"], unique=False
        )
    op.create_table(
        "ticket_group_members",
        _run_id(),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("group_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_ticket_group_members_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "ticket_id", name=op.f("pk_ticket_group_members")),
    )
    with op.batch_alter_table("ticket_group_members", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_group_members_ticket_id", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_table("ticket_group_members")
    op.drop_table("ticket_groups")
    op.drop_table("segment_keywords")
    op.drop_table("product_topics")
    op.drop_table("feedback_tickets")
    op.drop_table("reviews")
    op.execute("DELETE FROM sync_cursors WHERE feed IN ('interactions', 'tickets')")
