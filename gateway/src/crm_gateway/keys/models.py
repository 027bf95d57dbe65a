"""Tables of the keys domain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field

from crm_gateway.database import Base
from crm_shared.db import UTCDateTime, utcnow


class ApiKey(Base, table=True):
    """One API key; only the SHA-256 of its secret part is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_created_at", "created_at", "id"),
        CheckConstraint("role IN ('storefront', 'backoffice', 'marketing', 'admin')", name="role"),
    )

    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    secret_sha256: str = Field(max_length=64)
    created_by: str | None = Field(default=None, max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
