"""Tables of the customers domain."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, ForeignKey, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from crm_customer.database import Base
from crm_shared.db import UTCDateTime, utcnow
from crm_shared.ids import uuid7

JsonType = JSON().with_variant(JSONB(), "postgresql")
_LIVE = text("deleted_at IS NULL")


class Customer(Base, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index(
            "uq_customers_email_live",
            "email",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        Index(
            "uq_customers_external_ref_live",
            "external_ref",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        # Duplicate detection looks at live customers only.
        Index("ix_customers_email_key", "email_key", postgresql_where=_LIVE, sqlite_where=_LIVE),
        Index("ix_customers_phone_key", "phone_key", postgresql_where=_LIVE, sqlite_where=_LIVE),
        Index(
            "ix_customers_name_address_key",
            "name_address_key",
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        Index("ix_customers_change_position", "change_position", unique=True),
        Index("ix_customers_country", "country"),
        Index("ix_customers_lifecycle_stage", "lifecycle_stage"),
        Index("ix_customers_referred_by", "referred_by"),
        CheckConstraint(
            "lifecycle_stage IN ('prospect', 'new', 'active', 'at_risk', 'churned')",
            name="lifecycle_stage",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    external_ref: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    locale: str | None = Field(default=None, max_length=20)
    lifecycle_stage: str = Field(default="new", max_length=16)
    referred_by: uuid.UUID | None = Field(default=None, foreign_key="customers.id")
    # Tags and consent are read with every customer, so they live on its row; the
    # customer_tags table below indexes tags for filtering and counting.
    tags: list[str] = Field(default_factory=list, sa_column=Column(JsonType, nullable=False))
    consents: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonType, nullable=False)
    )
    # Match keys for duplicate detection, computed on every write.
    email_key: str | None = Field(default=None, max_length=254)
    phone_key: str | None = Field(default=None, max_length=32)
    name_address_key: str | None = Field(default=None, max_length=64)
    change_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    deleted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    erased_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_into: uuid.UUID | None = Field(default=None, foreign_key="customers.id")


class CustomerTag(Base, table=True):
    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag_customer", "tag", "customer_id"),)

    customer_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(primary_key=True, max_length=64)


class CustomerEvent(Base, table=True):
    """One entry of a customer's timeline."""

    __tablename__ = "customer_events"
    __table_args__ = (Index("ix_customer_events_customer_id", "customer_id", "id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    customer_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    )
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    kind: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))


class Erasure(Base, table=True):
    """The record that a customer's personal data was erased, and why."""

    __tablename__ = "erasures"

    customer_id: uuid.UUID = Field(foreign_key="customers.id", primary_key=True)
    erased_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    reason: str = Field(max_length=200)
    requested_by: str = Field(max_length=100)
