"""Tables of orders, their lines, status history and refunds."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Numeric
from sqlmodel import Field

from crm_orders.database import Base
from crm_shared.db import UTCDateTime, utcnow
from crm_shared.ids import uuid7

Money = Numeric(18, 4)


class Order(Base, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_id", "customer_id", "placed_at"),
        # Lists run newest first by (placed_at, id).
        Index("ix_orders_placed_at", "placed_at", "id"),
        Index("uq_orders_external_ref", "external_ref", unique=True),
        Index("ix_orders_status", "status"),
        CheckConstraint(
            "status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')",
            name="status",
        ),
        CheckConstraint("channel IN ('web', 'app', 'store')", name="channel"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    # The customer lives in the customer service: checked over HTTP, no foreign key.
    customer_id: uuid.UUID
    external_ref: str | None = Field(default=None, max_length=100)
    status: str = Field(default="pending", max_length=16)
    channel: str = Field(max_length=8)
    currency: str = Field(max_length=3)
    subtotal: Decimal = Field(sa_column=Column(Money, nullable=False))
    discount_total: Decimal = Field(sa_column=Column(Money, nullable=False))
    total: Decimal = Field(sa_column=Column(Money, nullable=False))
    refunded_total: Decimal = Field(sa_column=Column(Money, nullable=False))
    placed_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class OrderLine(Base, table=True):
    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_order_id", "order_id", "line_number", unique=True),
        Index("ix_order_lines_product_id", "product_id"),
        Index("ix_order_lines_change_position", "change_position", unique=True),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refunded_quantity"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    order_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    )
    line_number: int
    product_id: uuid.UUID = Field(foreign_key="products.id")
    sku: str = Field(max_length=64)
    quantity: int
    unit_price: Decimal = Field(sa_column=Column(Money, nullable=False))
    discount: Decimal = Field(sa_column=Column(Money, nullable=False))
    line_total: Decimal = Field(sa_column=Column(Money, nullable=False))
    refunded_quantity: int = Field(default=0)
    refunded_amount: Decimal = Field(sa_column=Column(Money, nullable=False))
    # Moves to the head of the order-lines feed whenever the line or its order changes.
    change_position: int = Field(sa_column=Column(BigInteger, nullable=False))


class OrderStatusChange(Base, table=True):
    __tablename__ = "order_status_changes"
    __table_args__ = (Index("ix_order_status_changes_order_id", "order_id", "id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    order_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    )
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Refund(Base, table=True):
    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_order_id", "order_id", "id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    order_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    )
    amount: Decimal = Field(sa_column=Column(Money, nullable=False))
    reason: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RefundLine(Base, table=True):
    __tablename__ = "refund_lines"

    refund_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("refunds.id", ondelete="CASCADE"), primary_key=True)
    )
    order_line_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True)
    )
    quantity: int
    amount: Decimal = Field(sa_column=Column(Money, nullable=False))
