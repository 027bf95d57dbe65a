"""customer models (clusters, churn, spend forecast)

Revision ID: b5c1d2e3f4a5
Revises: a9dc204a8d0a
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b5c1d2e3f4a5"
down_revision: str | None = "a9dc204a8d0a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCORE_COLUMNS = (
    "cluster_id",
    "cluster_label",
    "churn_probability",
    "churn_risk",
    "forecast_spend",
)


def upgrade() -> None:
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cluster_label", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("churn_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("churn_risk", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("forecast_spend", sa.Float(), nullable=True))

    op.create_table(
        "cluster_profiles",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("revenue_share", sa.Float(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_cluster_profiles_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "cluster_id", name=op.f("pk_cluster_profiles")),
    )


def downgrade() -> None:
    op.drop_table("cluster_profiles")
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        for column in reversed(_SCORE_COLUMNS):
            batch_op.drop_column(column)
