"""Tables of custom segments, each run's memberships and each segment's size per run."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)

from crm_analytics.database import metadata
from crm_shared.db import UTCDateTime

segments = Table(
    "segments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=True),
    Column("rule", Text, nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    Index("uq_segments_name", "name", unique=True),
)

# Segment ids are text: built-in ones are names like `rfm-champions`, custom ones UUIDs.
segment_members = Table(
    "segment_members",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("customer_id", Uuid, primary_key=True),
    Index("ix_segment_members_customer_id", "customer_id"),
)

segment_sizes = Table(
    "segment_sizes",
    metadata,
    Column("segment_id", String(64), primary_key=True),
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("customers", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
    Column("measured_at", UTCDateTime(timezone=True), nullable=False),
)
