"""Tables of the catalogue."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from crm_orders.database import Base
from crm_shared.db import UTCDateTime, utcnow
from crm_shared.ids import uuid7

JsonType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(18, 4)


class Product(Base, table=True):
    __tablename__ = "products"
    __table_args__ = (
        Index("uq_products_sku", "sku", unique=True),
        Index("ix_products_category_path", "category_path"),
        Index("ix_products_brand", "brand"),
        Index("ix_products_change_position", "change_position", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    sku: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=Column(Text))
    # Slash-separated, root first ("home/kitchen/knives"): a prefix match finds a subtree.
    category_path: str | None = Field(default=None, max_length=300)
    brand: str | None = Field(default=None, max_length=100)
    price: Decimal = Field(sa_column=Column(Money, nullable=False))
    currency: str = Field(max_length=3)
    active: bool = Field(default=True)
    in_stock: bool = Field(default=True)
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonType, nullable=False)
    )
    change_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
