"""Tables of the copies: order lines at their latest state, customers, their tags."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Uuid,
    false,
)

from crm_analytics.database import metadata
from crm_shared.db import UTCDateTime

Money = Numeric(18, 4)

# One row per order line of the orders service, replaced each time the line or its order
# changes. `customer_id` is the customer who placed the order; a merge maps it at scoring.
order_lines = Table(
    "order_lines",
    metadata,
    Column("line_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False),
    Column("customer_id", Uuid, nullable=False, index=True),
    # Null only on lines copied before the copy kept products (re-pulled since).
    Column("product_id", Uuid, nullable=True),
    Column("placed_at", UTCDateTime(timezone=True), nullable=False),
    Column("order_status", String(16), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("refunded_quantity", Integer, nullable=False),
    Column("line_total", Money, nullable=False),
    Column("refunded_amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("changed_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
)

# status: live, deleted, merged (into `merged_into`) or erased. Only live customers carry
# personal attributes; the others keep their id so their orders can be told apart.
customers = Table(
    "customers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(8), nullable=False),
    Column("merged_into", Uuid, nullable=True, index=True),
    Column("referred_by", Uuid, nullable=True),
    Column("email", String(320), nullable=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("city", String(200), nullable=True),
    Column("country", String(2), nullable=True),
    Column("locale", String(35), nullable=True),
    Column("lifecycle_stage", String(16), nullable=True),
    Column("consent_email", Boolean, nullable=False, server_default=false()),
    Column("consent_sms", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime(timezone=True), nullable=True),
    Column("changed_at", UTCDateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
)

customer_tags = Table(
    "customer_tags",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_customer_tags_tag", "tag", "customer_id"),
)

LIVE = "live"
DELETED = "deleted"
MERGED = "merged"
ERASED = "erased"
