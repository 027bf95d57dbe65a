"""The interactions table."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, SmallInteger, Text, text
from sqlmodel import Field

from crm_orders.database import Base
from crm_shared.db import UTCDateTime, utcnow
from crm_shared.ids import uuid7


class Interaction(Base, table=True):
    __tablename__ = "interactions"
    __table_args__ = (
        # A client's own event id makes a replayed event recognisable.
        Index(
            "uq_interactions_event_id",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
            sqlite_where=text("event_id IS NOT NULL"),
        ),
        Index("ix_interactions_customer_id", "customer_id", "occurred_at"),
        Index("ix_interactions_product_id", "product_id", "occurred_at"),
        Index("ix_interactions_change_position", "change_position", unique=True),
        # A product's reviews without walking past its (many more) views.
        Index(
            "ix_interactions_reviews",
            "product_id",
            "occurred_at",
            postgresql_where=text("kind = 'review'"),
            sqlite_where=text("kind = 'review'"),
        ),
        CheckConstraint(
            "kind IN ('view', 'add_to_cart', 'remove_from_cart', 'wishlist', 'rating', 'review')",
            name="kind",
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    event_id: str | None = Field(default=None, max_length=100)
    kind: str = Field(max_length=20)
    # Signed-in customers have an id; visitors only a session.
    customer_id: uuid.UUID | None = Field(default=None)
    session_id: str | None = Field(default=None, max_length=100)
    product_id: uuid.UUID = Field(foreign_key="products.id")
    rating: int | None = Field(default=None, sa_column=Column(SmallInteger))
    review_text: str | None = Field(default=None, sa_column=Column(Text))
    occurred_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    change_position: int = Field(sa_column=Column(BigInteger, nullable=False))
