"""Tables of the copies: what training reads and the catalogue serving filters with."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)

from crm_recommend.database import metadata
from crm_shared.db import UTCDateTime

# One row per product of the orders catalogue, at its latest state.
products = Table(
    "products",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(300), nullable=False),
    Column("description", Text, nullable=True),
    Column("category_path", String(300), nullable=True),
    Column("brand", String(200), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("in_stock", Boolean, nullable=False),
    Column("changed_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
)

# Interactions of signed-in customers (anonymous sessions train nothing).
interactions = Table(
    "interactions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("rating", SmallInteger, nullable=True),
    Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
    Index("ix_interactions_customer_id", "customer_id"),
)

# Order lines at their latest state: a purchase is a line of an order that was not
# cancelled and not refunded in whole.
order_lines = Table(
    "order_lines",
    metadata,
    Column("line_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("refunded_quantity", Integer, nullable=False),
    Column("order_status", String(16), nullable=False),
    Column("placed_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_order_lines_customer_id", "customer_id"),
    Index("ix_order_lines_position", "position"),
)

# Customers erased, deleted or merged away: their rows are dropped (a merged customer's
# move to the survivor) and lines arriving later for them are treated the same way.
forgotten_customers = Table(
    "forgotten_customers",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("change", String(8), nullable=False),
    Column("merged_into", Uuid, nullable=True),
    Column("changed_at", UTCDateTime(timezone=True), nullable=False),
)

CANCELLED_STATUSES = ("cancelled", "refunded")
