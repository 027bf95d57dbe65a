"""basket rules and referral influence

Revision ID: c6d2e3f4a5b6
Revises: b5c1d2e3f4a5
Create Date: 2026-12-05 23:00:00

The copies gain the product of each order line and the referrer of each customer. Rows
copied before carry neither, so both feeds' cursors go back to the start: the next run
pulls the feeds again from the beginning and its upserts fill the new columns in. The
copies stay as complete as they were meanwhile (`synced_at` is kept), so reads and the
staleness they report do not change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c6d2e3f4a5b6"
down_revision: str | None = "b5c1d2e3f4a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFILLED_FEEDS = ("order_lines", "customers")


def upgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by", sa.Uuid(), nullable=True))

    op.create_table(
        "basket_rules",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("antecedent_id", sa.Uuid(), nullable=False),
        sa.Column("consequent_id", sa.Uuid(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("antecedent_orders", sa.Integer(), nullable=False),
        sa.Column("consequent_orders", sa.Integer(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_basket_rules_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "antecedent_id", "consequent_id", name=op.f("pk_basket_rules")
        ),
    )
    with op.batch_alter_table("basket_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_basket_rules_lift", ["run_id", "lift", "antecedent_id", "consequent_id"]
        )
        batch_op.create_index(
            "ix_basket_rules_confidence",
            ["run_id", "confidence", "antecedent_id", "consequent_id"],
        )

    op.create_table(
        "customer_referrals",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("referrals_direct", sa.Integer(), nullable=False),
        sa.Column("referrals_downstream", sa.Integer(), nullable=False),
        sa.Column("referral_revenue", sa.Float(), nullable=False),
        sa.Column("referral_influence", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_customer_referrals_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_customer_referrals")),
    )
    with op.batch_alter_table("customer_referrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_referrals_influence", ["run_id", "referral_influence", "customer_id"]
        )
        batch_op.create_index("ix_customer_referrals_customer_id", ["customer_id"])

    sync_cursors = sa.table("sync_cursors", sa.column("feed", sa.String), sa.column("position"))
    op.execute(
        sync_cursors.update().where(sync_cursors.c.feed.in_(REFILLED_FEEDS)).values(position=0)
    )


def downgrade() -> None:
    with op.batch_alter_table("customer_referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_referrals_customer_id")
        batch_op.drop_index("ix_customer_referrals_influence")
    op.drop_table("customer_referrals")
    with op.batch_alter_table("basket_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_rules_confidence")
        batch_op.drop_index("ix_basket_rules_lift")
    op.drop_table("basket_rules")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("referred_by")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("product_id")
