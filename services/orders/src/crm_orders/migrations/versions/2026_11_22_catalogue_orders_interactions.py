"""catalogue orders interactions

Revision ID: 1bfd31933fd0
Revises:
Create Date: 2026-11-22 01:29:30.406951
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import crm_shared.db

revision: str = "1bfd31933fd0"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "feed_counter",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_counter")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("discount_total", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("refunded_total", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("placed_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('web', 'app', 'store')", name=op.f("ck_orders_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')",
            name=op.f("ck_orders_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_customer_id", ["customer_id", "placed_at"], unique=False)
        batch_op.create_index("ix_orders_placed_at", ["placed_at", "id"], unique=False)
        batch_op.create_index("ix_orders_status", ["status"], unique=False)
        batch_op.create_index("uq_orders_external_ref", ["external_ref"], unique=True)

    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("change_position", sa.BigInteger(), nullable=False),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_brand", ["brand"], unique=False)
        batch_op.create_index("ix_products_category_path", ["category_path"], unique=False)
        batch_op.create_index("ix_products_change_position", ["change_position"], unique=True)
        batch_op.create_index("uq_products_sku", ["sku"], unique=True)

    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("review_text", sa.Text(), nullable=True),
        sa.Column("occurred_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("change_position", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('view', 'add_to_cart', 'remove_from_cart', 'wishlist', 'rating', 'review')",
            name=op.f("ck_interactions_kind"),
        ),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_interactions_rating")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_interactions_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index("ix_interactions_change_position", ["change_position"], unique=True)
        batch_op.create_index(
            "ix_interactions_customer_id", ["customer_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_interactions_product_id", ["product_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_interactions_reviews",
            ["product_id", "occurred_at"],
            unique=False,
            postgresql_where=sa.text("kind = 'review'"),
            sqlite_where=sa.text("kind = 'review'"),
        )
        batch_op.create_index(
            "uq_interactions_event_id",
            ["event_id"],
            unique=True,
            postgresql_where=sa.text("event_id IS NOT NULL"),
            sqlite_where=sa.text("event_id IS NOT NULL"),
        )

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("discount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("line_total", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("refunded_quantity", sa.Integer(), nullable=False),
        sa.Column("refunded_amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("change_position", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity",
            name=op.f("ck_order_lines_refunded_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_order_lines_change_position", ["change_position"], unique=True)
        batch_op.create_index("ix_order_lines_order_id", ["order_id", "line_number"], unique=True)
        batch_op.create_index("ix_order_lines_product_id", ["product_id"], unique=False)

    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_status_changes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_changes")),
    )
    with op.batch_alter_table("order_status_changes", schema=None) as batch_op:
        batch_op.create_index("ix_order_status_changes_order_id", ["order_id", "id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", crm_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_order_id", ["order_id", "id"], unique=False)

    op.create_table(
        "refund_lines",
        sa.Column("refund_id", sa.Uuid(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_refund_lines_order_line_id_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refunds.id"],
            name=op.f("fk_refund_lines_refund_id_refunds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("refund_id", "order_line_id", name=op.f("pk_refund_lines")),
    )


def downgrade() -> None:

    op.drop_table("refund_lines")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_order_id")

    op.drop_table("refunds")
    with op.batch_alter_table("order_status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_order_status_changes_order_id")

    op.drop_table("order_status_changes")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_order_lines_product_id")
        batch_op.drop_index("ix_order_lines_order_id")
        batch_op.drop_index("ix_order_lines_change_position")

    op.drop_table("order_lines")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_interactions_event_id",
            postgresql_where=sa.text("event_id IS NOT NULL"),
            sqlite_where=sa.text("event_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_interactions_reviews",
            postgresql_where=sa.text("kind = 'review'"),
            sqlite_where=sa.text("kind = 'review'"),
        )
        batch_op.drop_index("ix_interactions_product_id")
        batch_op.drop_index("ix_interactions_customer_id")
        batch_op.drop_index("ix_interactions_change_position")

    op.drop_table("interactions")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("uq_products_sku")
        batch_op.drop_index("ix_products_change_position")
        batch_op.drop_index("ix_products_category_path")
        batch_op.drop_index("ix_products_brand")

    op.drop_table("products")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("uq_orders_external_ref")
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_placed_at")
        batch_op.drop_index("ix_orders_customer_id")

    op.drop_table("orders")
    op.drop_table("idempotency_keys")
    op.drop_table("feed_counter")
